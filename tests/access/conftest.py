"""Access-control fixtures: real frames (tests/data/access, see tests/data/PROVENANCE.md) and an
isolated gallery per test (helpers in access_support.py)."""

from __future__ import annotations

import base64
import os

import numpy as np
import pytest
from access_support import ACCESS_DATA, read_rgb


@pytest.fixture(autouse=True)
def isolated_env(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("FACELENS_KEY", base64.b64encode(os.urandom(32)).decode())
    monkeypatch.delenv("FACELENS_KEY_FILE", raising=False)
    monkeypatch.delenv("FACELENS_DB", raising=False)
    yield


@pytest.fixture(scope="session")
def hamilton() -> list[np.ndarray]:
    """64 real frames (every 2nd frame = 15 fps) of one performer turning his head: yaw goes
    right (frames 0–20), back, left (frames 28–40), then right again."""
    return [read_rgb(p) for p in sorted((ACCESS_DATA / "hamilton").glob("*.jpg"))]


@pytest.fixture(scope="session")
def orl12() -> dict[int, np.ndarray]:
    """ORL subject s12, 10 images ×3 upscaled: 1, 6, 9 neutral; 2, 7, 10 smiling."""
    return {i: read_rgb(ACCESS_DATA / "orl" / "s12" / f"{i}.pgm", 3.0) for i in range(1, 11)}


@pytest.fixture
def gallery(tmp_path):
    from facelens.gallery import Gallery

    with Gallery(tmp_path / "access.db") as g:
        g.enrol("lin", [ACCESS_DATA / "enrol" / "lin-manuel-miranda.jpg"])
        g.enrol("alex", [ACCESS_DATA / "enrol" / "alex-lacamoire.jpg"])
        yield g
