"""The top-level verbs on real photos: verify with calibrated thresholds, face choice, errors."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import facelens
from facelens.verification import calibration, threshold


def test_calibration_records_how_it_was_made():
    record = calibration()
    assert "LFW" in record["data"] or "pairs" in record["data"]
    assert record["command"].startswith("facelens eval verification")
    for model in ("mobilefacenet", "dlib", "fused"):
        entry = record["models"][model]
        assert entry["default"] == "far_1e-3"
        assert set(entry["thresholds"]) >= {"far_1e-3", "far_1e-2", "best_accuracy"}


def test_verify_same_and_different(data_dir):
    faces = data_dir / "faces"
    same = facelens.verify(faces / "obama.jpg", faces / "obama2.jpg")
    different = facelens.verify(faces / "obama.jpg", faces / "biden.jpg")
    assert same.verified and not different.verified
    assert same.threshold == threshold("mobilefacenet")[0] and same.operating_point == "far_1e-3"
    assert same.similarity > same.threshold > different.similarity


def test_verify_accepts_every_input_kind(data_dir):
    path = data_dir / "faces" / "obama.jpg"
    bgr = np.asarray(Image.open(path))[:, :, ::-1]
    reference = facelens.embed(path, face="only")[0].embedding
    for item in (str(path), path.read_bytes(), Image.open(path), bgr, reference):
        result = facelens.verify(item, data_dir / "faces" / "obama2.jpg")
        assert result.verified, type(item)


def test_group_photo_face_choice(data_dir):
    group = data_dir / "faces" / "two_people.jpg"
    with pytest.raises(facelens.MultipleFacesError):
        facelens.verify(group, data_dir / "faces" / "obama.jpg", face="only")
    largest = facelens.verify(group, data_dir / "faces" / "obama.jpg")  # documented default
    boxes = [f.box for f in facelens.detect(group)]
    assert largest.face_a.box in boxes


def test_no_face_is_a_typed_error(data_dir):
    table = np.asarray(Image.open(data_dir / "faces" / "bbt1.jpg"))[450:, :, ::-1]
    with pytest.raises(facelens.NoFaceError):
        facelens.embed(np.ascontiguousarray(table))
