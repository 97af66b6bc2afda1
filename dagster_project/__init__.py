"""Footfall's Dagster project: landing → silver → gold → reports as partitioned assets.

It only wires the code in `pipelines/`, `rtl_parser/` and `sql/` into Dagster; the business
logic lives there. `definitions.py` gathers the domains (`silver/`, `gold/`).
"""

import warnings

import dagster as dg

import pipelines  # noqa: F401 - first, so its allocator setting is in place before Polars loads

# Single-run backfills and lookback mappings are "beta" in Dagster 1.13; they are what this
# project is built on, and the warning on every import would only hide real ones.
warnings.filterwarnings("ignore", category=dg.BetaWarning)
