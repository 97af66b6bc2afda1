"""Footfall's pipelines: landing → silver → gold, reports, and the `footfall` CLI."""

import os

# Polars allocates with jemalloc, configured from this variable when Polars loads (Polars
# appends it to its own defaults), so it is set here, before any module of this package
# imports Polars; a value already in the environment wins. Ingest frees and re-allocates
# chunk-sized buffers all the time. Polars' defaults have a background thread hand freed
# pages back to the kernel after half a second, and each reuse then faults them in afresh;
# keeping them for 5 s (purged inline, no extra thread) cut ingest's system time by about
# a quarter and its wall time by 5 % on the 2M-line bench, without raising peak RSS (8M
# lines, two runs each: 796 and 870 MiB against 838 and 887 MiB). See also memory.py.
os.environ.setdefault("_RJEM_MALLOC_CONF", "background_thread:false,dirty_decay_ms:5000,muzzy_decay_ms:5000")
