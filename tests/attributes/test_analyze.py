"""analyze(): the actions asked for, per-face notes for faces too small, clear errors."""

from __future__ import annotations

import cv2
import pytest

from facelens.attributes.analyze import analyze, parse_actions
from facelens.attributes.eyes import gender_eyes_available
from facelens.errors import BadInputError


def test_group_photo_all_default_actions(data_dir):
    faces = analyze(data_dir / "faces" / "bbt4.jpg")
    assert len(faces) == 6
    for face in faces:
        d = face.to_dict()
        assert d["emotion"]["label"] in d["emotion"]["probs"]
        assert d["gender"]["label"] in ("female", "male")
        assert isinstance(d["age"], float)
        assert "mesh" not in d and "notes" not in d
    assert sorted(f.attributes["gender"]["label"] for f in faces) == ["female"] * 3 + ["male"] * 3


def test_only_requested_actions_and_optional_ones(data_dir):
    face = analyze(data_dir / "faces" / "obama.jpg", ("emotion", "mesh", "gender_eyes"))[0]
    assert set(face.attributes) >= {"emotion", "mesh"}
    assert "gender" not in face.attributes and "age" not in face.attributes
    assert len(face.attributes["mesh"]["points"]) == 468
    if not gender_eyes_available():
        assert any("gender_eyes skipped" in n for n in face.attributes["notes"])


def test_small_faces_get_a_note_not_a_guess(data_dir, load):
    rgb = load(data_dir / "faces" / "obama.jpg")
    small = cv2.resize(rgb, None, fx=0.05, fy=0.05, interpolation=cv2.INTER_AREA)
    framed = cv2.copyMakeBorder(small, 100, 100, 100, 100, cv2.BORDER_REPLICATE)  # detector context
    faces = analyze(framed, channels="rgb", min_face_size=12)
    assert len(faces) == 1
    face = faces[0]
    assert face.quality.face_size < 12
    assert "emotion" not in face.attributes and "gender" not in face.attributes
    assert "age" not in face.attributes
    assert "too small" in face.attributes["notes"][0]


def test_parse_actions():
    assert parse_actions("all") == ("emotion", "gender", "age", "mesh", "gender_eyes")
    assert parse_actions("age,emotion") == ("emotion", "age")
    with pytest.raises(BadInputError):
        parse_actions("emotion,beauty")
    with pytest.raises(BadInputError):
        parse_actions("")


def test_fer2013_crop_with_skip_detector(attr_data):
    path = sorted((attr_data / "fer2013" / "happy").glob("*.jpg"))[0]
    face = analyze(path, detector="skip")[0]
    assert face.box == (0.0, 0.0, 48.0, 48.0)
    assert face.attributes["emotion"]["label"] == "happy"
