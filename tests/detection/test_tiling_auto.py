"""tile_size="auto" through the public verb: tiles only when the frame can hide small faces.

Frames: tests/data/faces/bbt4.jpg (a 710 px group photo, faces ~100 px) and frame 0 of
tests/data/video/crowd_crossing.mp4 (1200×330, a real street crowd; its five labelled faces,
35–82 px, are in tests/data/video/real_clips.json — see tests/data/PROVENANCE.md).
"""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

import facelens
from facelens.detection import tiling
from facelens.detection.base import iou_matrix
from facelens.errors import BadInputError


@pytest.fixture
def tile_passes(monkeypatch) -> list[int]:
    """The tile side of every tiled pass detect_auto runs."""
    sides: list[int] = []
    real = tiling.detect_tiles

    def spy(rgb, detector, tile, *args, **kwargs):
        sides.append(tile)
        return real(rgb, detector, tile, *args, **kwargs)

    monkeypatch.setattr(tiling, "detect_tiles", spy)
    return sides


@pytest.fixture(scope="module")
def crowd_frame(data_dir) -> tuple[np.ndarray, np.ndarray]:
    """Frame 0 of crowd_crossing.mp4 (RGB) and its labelled face boxes."""
    capture = cv2.VideoCapture(str(data_dir / "video" / "crowd_crossing.mp4"))
    ok, bgr = capture.read()
    capture.release()
    assert ok
    labels = json.loads((data_dir / "video" / "real_clips.json").read_text())["crowd_crossing"]
    boxes = np.array([face[2:] for face in labels["faces"] if face[0] == 0])
    return np.ascontiguousarray(bgr[:, :, ::-1]), boxes


def labelled_found(faces, labelled: np.ndarray) -> int:
    if not faces:
        return 0
    overlaps = iou_matrix(labelled, np.array([f.box for f in faces]))
    return int((overlaps.max(axis=1) >= 0.3).sum())


def test_auto_on_a_group_photo_finds_every_face_without_tiles(data_dir, tile_passes):
    faces = facelens.detect(data_dir / "faces" / "bbt4.jpg", tile_size="auto")
    assert len(faces) == 6  # counted by eye (tests/detection/test_detectors.py)
    assert tile_passes == []  # 710 px: a quarter of it is below the model input, tiles cannot help
    plain = facelens.detect(data_dir / "faces" / "bbt4.jpg")
    assert np.allclose([f.box for f in faces], [f.box for f in plain], atol=1)
    assert np.allclose([f.quality.face_size for f in faces], [f.quality.face_size for f in plain])
    scores = [face.score for face in faces]
    assert scores == sorted(scores, reverse=True)


def test_auto_tiles_a_wide_street_frame_and_finds_the_small_faces(crowd_frame, tile_passes):
    rgb, labelled = crowd_frame
    assert len(labelled) == 5 and (labelled[:, 3] - labelled[:, 1]).max() < 90
    whole = facelens.detect(rgb, channels="rgb")
    auto = facelens.detect(rgb, channels="rgb", tile_size="auto")
    assert labelled_found(whole, labelled) <= 1
    assert labelled_found(auto, labelled) >= 4
    assert len(auto) <= len(labelled) + 1  # tiles add the missed faces, not clutter
    assert tile_passes and tile_passes[0] == 1200 // 4 // 32 * 32  # a quarter of the longer side first


def test_auto_keeps_the_other_detector_options(crowd_frame):
    rgb, _ = crowd_frame
    assert len(facelens.detect(rgb, channels="rgb", tile_size="auto", max_faces=2)) == 2
    strict = facelens.detect(rgb, channels="rgb", tile_size="auto", min_score=0.9)
    assert all(face.score >= 0.9 for face in strict)


@pytest.mark.parametrize("value, expected", [("auto", "auto"), (" AUTO ", "auto"), ("512", 512), ("0", 0),
                                             (640, 640), (None, None)])
def test_tile_size_option_reads_what_callers_give(value, expected):
    assert tiling.tile_size_option(value) == expected


@pytest.mark.parametrize("value", [-5, "big", "", "1e309", "-5", 10**9, 1.5, True, [1]])
def test_bad_tile_sizes_are_bad_input(data_dir, value):
    with pytest.raises(BadInputError, match="tile_size"):
        facelens.detect(data_dir / "faces" / "obama.jpg", tile_size=value)


@pytest.mark.parametrize("detector", ["haar", "skip"])
def test_auto_needs_a_blazeface_detector(data_dir, detector):
    with pytest.raises(BadInputError, match="needs a BlazeFace detector"):
        facelens.detect(data_dir / "faces" / "obama.jpg", detector=detector, tile_size="auto")
