"""Footfall's pipelines: landing → silver → gold, reports, and the `footfall` CLI."""

import os

# Polars allocates with jemalloc, configured from this variable when Polars loads (Polars
# appends it to its own defaults), so it is set here, before any module of this package
# imports Polars; a value already in the environment wins. Ingest frees and re-allocates
# chunk-sized buffers all the time. Polars' defaults have a background thread hand freed
# pages back to the kernel after half a second, and each reuse then faults them in afresh;
# keeping them for 5 s (purged inline, no extra thread) cut ingest's system time by about
# a quarter and its wall time by 5 % on the 2M-line bench. After those 5 s they are handed
# back at once (muzzy_decay_ms:0): a "muzzy" page is only marked free (MADV_FREE) and
# stays in the process's RSS until the kernel runs short, which put 40-50 MiB on ingest's
# peak (medians of three runs, 2M and 8M lines: 769 and 827 MiB against 745 and 777) for
# no speed. See also memory.py.
os.environ.setdefault("_RJEM_MALLOC_CONF", "background_thread:false,dirty_decay_ms:5000,muzzy_decay_ms:0")
