"""Shared fixtures. Real face photos live in tests/data (see tests/data/PROVENANCE.md).

Tests that need the big datasets are marked ``@pytest.mark.dataset`` and use ``shared_data``:
it points at $FACELENS_DATA or ../shared/data beside the checkout, and skips with a visible
reason when neither exists (a fresh clone has no ../shared).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parent / "data"
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA


@pytest.fixture(scope="session")
def shared_data() -> Path:
    candidates = [os.environ.get("FACELENS_DATA", ""), str(REPO.parent / "shared" / "data")]
    for candidate in candidates:
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    pytest.skip("dataset folder not found: set FACELENS_DATA or place ../shared/data beside the repo")
