"""Shared test helpers: fixture paths, a hash key, small generated lakes."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest
from hypothesis import settings

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
FIXTURES = SHARED / "fixtures" / "cloudfront"
KEY = b"test-key-0123456789abcdef"

# Property tests draw the same examples on every `make test`, so a run passes or fails on the
# code alone; `make fuzz` (FOOTFALL_FUZZ=<factor>) draws new ones, that many times as many.
FUZZ = int(os.environ.get("FOOTFALL_FUZZ") or 0)
settings.register_profile("footfall", derandomize=not FUZZ, print_blob=True)
settings.load_profile("footfall")


def examples(n: int) -> int:
    """How many examples a property test that runs `n` in `make test` draws now."""
    return n * max(FUZZ, 1)


def pytest_configure(config):
    if not FIXTURES.exists():
        raise pytest.UsageError(f"the shared fixtures are missing: expected {FIXTURES}")


@pytest.fixture
def key() -> bytes:
    return KEY


@pytest.fixture
def small_lake(tmp_path):
    """A generated landing zone: 1 day, a few hundred visitors, both log kinds."""
    from pipelines.generate import GenerateOptions, generate
    from pipelines.storage import Storage

    root = tmp_path / "lake"
    stats = generate(Storage(str(root)), GenerateOptions(start=date(2026, 11, 2), days=1,
                                                         visitors=400, bots=4, seed=11))
    return root, stats
