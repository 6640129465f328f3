"""Fixtures of the attribute tests: real labelled faces copied to tests/data/attributes
(see tests/data/PROVENANCE.md for the selection rule and sources)."""

from __future__ import annotations

from pathlib import Path

import pytest

from facelens.imageio import load_image


@pytest.fixture(scope="session")
def attr_data(data_dir) -> Path:
    return data_dir / "attributes"


@pytest.fixture(scope="session")
def load():
    return lambda path: load_image(path)


@pytest.fixture
def blank_video(tmp_path) -> Path:
    """10 frames of a plain wall (made at test time): a video with no face."""
    import cv2
    import numpy as np

    path = tmp_path / "wall.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (160, 120))
    for i in range(10):
        writer.write(np.full((120, 160, 3), 90 + i, np.uint8))
    writer.release()
    return path
