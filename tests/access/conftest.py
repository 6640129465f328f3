"""Access-control fixtures: real frames (tests/data/access, see tests/data/PROVENANCE.md) and an
isolated gallery per test (helpers in access_support.py)."""

from __future__ import annotations

import numpy as np
import pytest
from access_support import ACCESS_DATA, read_rgb


@pytest.fixture(autouse=True)
def _isolated(isolated_env):  # tests/conftest.py: tmp data dirs and a fresh key for every test
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


@pytest.fixture(scope="session")
def orl_eyes() -> dict[str, dict[int, np.ndarray]]:
    """ORL subjects s11 and s36, 10 images ×3 upscaled. Eyes closed (checked by eye): s11/4,
    s11/9 and s36/5; open in the others."""
    return {s: {i: read_rgb(ACCESS_DATA / "orl" / s / f"{i}.pgm", 3.0) for i in range(1, 11)}
            for s in ("s11", "s36")}


@pytest.fixture
def gallery(tmp_path):
    from facelens.gallery import Gallery
    from facelens.usecases.enrolment import enrol

    with Gallery(tmp_path / "access.db") as g:
        enrol(g, "lin", [ACCESS_DATA / "enrol" / "lin-manuel-miranda.jpg"])
        enrol(g, "alex", [ACCESS_DATA / "enrol" / "alex-lacamoire.jpg"])
        yield g
