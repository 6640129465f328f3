"""Detection on real group photos and portraits, for every detector behind the interface."""

from __future__ import annotations

import numpy as np
import pytest

import facelens
from facelens.detection import get_detector
from facelens.detection.blazeface import FULL_RANGE, SHORT_RANGE, _anchors
from facelens.errors import BadInputError
from facelens.imageio import load_image

# Faces counted by eye in each fixture (every face is frontal and at least ~50 px wide).
GROUP_COUNTS = {"bbt1.jpg": 4, "bbt4.jpg": 6, "two_people.jpg": 2, "obama.jpg": 1}


def test_anchor_counts_match_the_models():
    assert len(_anchors(FULL_RANGE)) == 2304
    assert len(_anchors(SHORT_RANGE)) == 896


@pytest.mark.parametrize("name, count", GROUP_COUNTS.items())
def test_blazeface_counts_faces(data_dir, name, count):
    faces = facelens.detect(data_dir / "faces" / name)
    assert len(faces) == count
    for face in faces:
        kp = face.keypoints
        assert set(kp) == {"right_eye", "left_eye", "nose", "mouth", "right_ear", "left_ear"}
        x1, y1, x2, y2 = face.box
        assert x1 <= kp["nose"][0] <= x2 and y1 <= kp["nose"][1] <= y2
        assert kp["right_eye"][0] < kp["left_eye"][0]  # subject's right eye is on the image left
        assert kp["right_eye"][1] < kp["mouth"][1]
        assert face.quality is not None and face.quality.face_size > 10


def test_boxes_scale_with_input_size(data_dir):
    """Any input size maps back to the same face: half-size image → half-size box."""
    rgb = load_image(data_dir / "faces" / "two_people.jpg")
    full = sorted(facelens.detect(rgb, channels="rgb"), key=lambda f: f.box[0])
    half = sorted(facelens.detect(rgb[::2, ::2], channels="rgb"), key=lambda f: f.box[0])
    assert len(full) == len(half) == 2
    for a, b in zip(full, half):
        assert np.allclose(np.array(a.box) / 2, b.box, atol=6)


def test_tiles_find_small_faces(data_dir):
    """A group photo shrunk into a big empty canvas: faces become tiny; tiling finds them."""
    small = load_image(data_dir / "faces" / "bbt4.jpg")[::2, ::2]  # faces ~50 px
    canvas = np.full((1440, 2560, 3), 128, dtype=np.uint8)
    canvas[600 : 600 + small.shape[0], 1200 : 1200 + small.shape[1]] = small
    plain = facelens.detect(canvas, channels="rgb")
    tiled = facelens.detect(canvas, channels="rgb", tile_size=640)
    assert len(tiled) >= 5 > len(plain)


def test_no_face_in_a_faceless_image(data_dir):
    rgb = load_image(data_dir / "faces" / "bbt1.jpg")[450:, :]  # the table and hands, no heads
    assert facelens.detect(rgb, channels="rgb") == []


@pytest.mark.parametrize("name", ["haar", "hog"])
def test_seed_detectors_behind_same_interface(data_dir, name):
    faces = get_detector(name).detect(load_image(data_dir / "faces" / "bbt4.jpg"))
    assert 5 <= len(faces) <= 7
    assert all({"right_eye", "left_eye", "nose_base"} <= set(f.keypoints) for f in faces)
    assert all(f.detector == name for f in faces)


def test_skip_detector_is_whole_image(data_dir):
    rgb = load_image(data_dir / "faces" / "obama.jpg")
    (face,) = facelens.detect(rgb, detector="skip", channels="rgb")
    assert face.box == (0.0, 0.0, float(rgb.shape[1]), float(rgb.shape[0]))


def test_unknown_detector_is_bad_input(data_dir):
    with pytest.raises(BadInputError, match="unknown detector"):
        facelens.detect(data_dir / "faces" / "obama.jpg", detector="yolo")


def test_detectors_come_from_the_registry_once(data_dir):
    from facelens.detection import DETECTORS
    from facelens.models.registry import names

    assert DETECTORS == names("detector") == ("blazeface", "blazeface_short", "haar", "hog", "skip")
    assert get_detector() is get_detector("blazeface")
    assert get_detector("blazeface_short").name == "blazeface_short"
    assert get_detector("blazeface", tile_size=640) is not get_detector()


def test_dlib_shape_predictor_is_loaded_once_for_every_user(data_dir, monkeypatch):
    """Haar/HOG keypoints and the gender/age chips share one predictor (the dlib embedder too)."""
    from facelens.attributes.gender_age import predict_gender_age
    from facelens.detection import landmarks5

    dlib = landmarks5.dlib_module()
    loads = []

    def counting(path):
        loads.append(path)
        return real(path)

    real = dlib.shape_predictor
    monkeypatch.setattr(landmarks5, "_predictor", None)
    monkeypatch.setattr(dlib, "shape_predictor", counting)
    rgb = load_image(data_dir / "faces" / "obama.jpg")
    faces = get_detector("hog").detect(rgb)
    assert len(faces) == 1 and "nose_base" in faces[0].keypoints
    assert predict_gender_age(rgb, faces)[0]["gender"]["label"] == "male"
    assert len(loads) == 1 and loads[0].endswith("shape_predictor_5_face_landmarks.dat")
