"""Shared fixtures. Real face photos live in tests/data (see tests/data/PROVENANCE.md).

Tests that need the big datasets are marked ``@pytest.mark.dataset`` and use ``shared_data``:
it points at $FACELENS_DATA or ../shared/data beside the checkout, and skips with a visible
reason when neither exists (a fresh clone has no ../shared).
"""

from __future__ import annotations

import base64
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


@pytest.fixture
def isolated_env(tmp_path, monkeypatch):
    """Data/config dirs in tmp (never the user's), a fresh random key in FACELENS_KEY.
    Autoused by the gallery and access tests (see their conftest)."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("FACELENS_KEY", base64.b64encode(os.urandom(32)).decode())
    monkeypatch.delenv("FACELENS_KEY_FILE", raising=False)
    monkeypatch.delenv("FACELENS_DB", raising=False)
    yield
