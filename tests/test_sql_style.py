"""Every model, as the runner renders it for each engine, passes sqlfluff's style rules:
lower-case keywords, functions, literals and types; no ambiguous DISTINCT/GROUP BY."""

from __future__ import annotations

from datetime import date

import pytest
import sqlfluff

from pipelines.config import Settings
from pipelines.models import MODELS, Renderer, Window

RULES = ["CP01", "CP02", "CP03", "CP04", "CP05", "AM01", "AM02"]
DIALECTS = {"duckdb": "duckdb", "athena": "athena"}


@pytest.mark.parametrize("engine", sorted(DIALECTS))
@pytest.mark.parametrize("name", sorted(MODELS))
def test_rendered_model_follows_the_style(engine, name):
    sources = {"requests": ["/lake/silver/requests/dt=2026-11-02/hour=00/data.parquet"], "events": []}
    sql = Renderer(engine, Settings(), sources=sources).render(name, Window(date(2026, 11, 2), date(2026, 11, 2)))
    problems = sqlfluff.lint(sql, dialect=DIALECTS[engine], rules=RULES)
    assert not problems, "\n".join(f"{p['code']} line {p['start_line_no']}: {p['description']}" for p in problems)
