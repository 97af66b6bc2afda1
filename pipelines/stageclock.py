"""Where ingest's time goes: seconds per stage, summed over the threads that ran it.

A handful of clock reads per chunk (32 MiB), so it is always on. With two workers the
stages can add up to twice the run's wall time; a stage's figure is the time its calls
took in the calling thread, Polars' own threads working for it included.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

# The stages, in the order a line meets them (reports list them so).
STAGES = (
    "read + gunzip",
    "split lines",
    "parse fields",
    "enrich",
    "spill to staging",
    "quarantine",
    "merge: read staged",
    "merge: de-duplicate + write",
)


_DONE = object()  # the end of an iteration


class StageClock:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self._lock = threading.Lock()

    def add(self, stage: str, seconds: float) -> None:
        with self._lock:
            self.seconds[stage] += seconds

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.add(stage, time.perf_counter() - start)

    def iterate(self, stage: str, items: Iterable) -> Iterator:
        """The items of `items`, with the time spent producing each counted to `stage`."""
        it = iter(items)
        while True:
            with self(stage):
                item = next(it, _DONE)
            if item is _DONE:
                return
            yield item

    def ordered(self) -> dict[str, float]:
        """Seconds per stage, known stages first in pipeline order."""
        known = {s: self.seconds[s] for s in STAGES if s in self.seconds}
        return known | {s: v for s, v in self.seconds.items() if s not in known}
