"""Shared fixtures. Real files come from ../shared/data beside the project checkout."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

# Property tests are derandomised by default so a fresh clone's `./dev test` (and CI) gives the
# same verdict every run; `RAWLUX_HYPOTHESIS=explore ./dev test` searches with fresh random
# examples and 10x the examples (a found failure is then pinned as an explicit @example).
settings.register_profile("deterministic", derandomize=True, database=None, print_blob=True)
settings.register_profile("explore", derandomize=False, max_examples=1000, print_blob=True)
settings.load_profile(os.environ.get("RAWLUX_HYPOTHESIS", "deterministic"))

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("RAWLUX_SHARED_DATA", ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path to the read-only real-camera files (raw/, photos/, depth/)."""
    if not SHARED_DATA.is_dir():
        pytest.fail(f"shared test data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def raw_dir(shared_data: Path) -> Path:
    return shared_data / "raw"
