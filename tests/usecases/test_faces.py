"""detect, embed and verify use cases on the real photos in tests/data/faces."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from facelens.errors import MultipleFacesError, NoFaceError
from facelens.usecases import faces as uc


def test_detect_finds_every_face_and_draws(data_dir, tmp_path):
    drawn = tmp_path / "drawn.png"
    result = uc.detect(data_dir / "faces" / "bbt4.jpg", draw=drawn, min_score=None)
    assert len(result.faces) == 6 and result.image.endswith("bbt4.jpg")
    assert Image.open(drawn).size == (result.width, result.height)
    payload = result.to_dict()
    assert set(payload) == {"image", "width", "height", "faces"} and len(payload["faces"]) == 6
    scores = [f.score for f in result.faces]
    assert scores == sorted(scores, reverse=True)  # the detector's order: best score first


def test_embed_labels_bytes_and_returns_unit_vectors(data_dir):
    result = uc.embed((data_dir / "faces" / "obama.jpg").read_bytes(), face="only", label="upload.jpg")
    (face,) = result.faces
    assert result.image == "upload.jpg" and result.model == "mobilefacenet"
    assert abs(float(np.linalg.norm(face.embedding)) - 1.0) < 1e-3
    assert len(result.to_dict()["faces"][0]["embedding"]) == 192


def test_verify_counts_faces_with_one_detection_per_image(data_dir, monkeypatch):
    calls = []
    detect_rgb = uc.detect_rgb
    monkeypatch.setattr(uc, "detect_rgb", lambda *a, **k: calls.append(1) or detect_rgb(*a, **k))
    faces = data_dir / "faces"
    result = uc.verify(faces / "two_people.jpg", faces / "obama.jpg")
    assert len(calls) == 2  # the face count for the notice comes from the same detection
    assert result.faces_found == (2, 1) and result.largest_of_several == [0]
    group = uc.detect(faces / "two_people.jpg").faces
    assert result.verification.face_a.box == max(group, key=lambda f: f.area).box
    assert result.to_dict()["model"] == "mobilefacenet"


def test_verify_decides_with_the_calibrated_threshold(data_dir):
    faces = data_dir / "faces"
    same = uc.verify(faces / "obama.jpg", faces / "obama2.jpg").verification
    other = uc.verify(faces / "obama.jpg", faces / "biden.jpg").verification
    assert same.verified and not other.verified
    assert same.similarity > same.threshold > other.similarity and same.operating_point == "far_1e-3"


def test_verify_accepts_embeddings(data_dir):
    faces = data_dir / "faces"
    a = uc.embed(faces / "obama.jpg", face="only").faces[0].embedding
    b = uc.embed(faces / "obama2.jpg", face="only").faces[0].embedding
    result = uc.verify(a, b)
    assert result.verification.verified and result.faces_found == (None, None) and result.largest_of_several == []


def test_verify_refusals_name_the_side(data_dir):
    faces = data_dir / "faces"
    with pytest.raises(MultipleFacesError, match="first image: 2 faces found"):
        uc.verify(faces / "two_people.jpg", faces / "obama.jpg", face="only")
    table = np.ascontiguousarray(np.asarray(Image.open(faces / "bbt1.jpg"))[450:, :, ::-1])
    with pytest.raises(NoFaceError, match="probe: no face found"):
        uc.verify(faces / "obama.jpg", table, labels=("reference", "probe"))
