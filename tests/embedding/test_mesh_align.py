"""Five-point alignment from the face mesh (``embedding.mesh_align``) and the ``*_mesh`` embedders,
on real photos."""

from __future__ import annotations

import numpy as np
import pytest

import facelens
from facelens.embedding import get_embedder, mesh_align
from facelens.imageio import load_image
from facelens.pipeline import detect_rgb

from embedding_support import assert_fusion_is_weighted_sum


@pytest.fixture(scope="module")
def obama(data_dir):
    rgb = load_image(data_dir / "faces" / "obama.jpg", channels="rgb")
    (face,) = detect_rgb(rgb)
    return rgb, face


def test_five_points_sit_where_the_detector_puts_the_same_parts(obama):
    rgb, face = obama
    points = mesh_align.mesh_five_points(rgb, face)
    right_eye, left_eye, nose, mouth_right, mouth_left = points
    eye_distance = np.linalg.norm(left_eye - right_eye)
    for name, point in (("right_eye", right_eye), ("left_eye", left_eye), ("nose", nose)):
        assert np.linalg.norm(point - face.keypoints[name]) < 0.15 * eye_distance, name
    mouth_centre = (mouth_right + mouth_left) / 2
    # BlazeFace's mouth point sits on the lips' centre, below the corners' line (0.16 eye distances here)
    assert np.linalg.norm(mouth_centre - face.keypoints["mouth"]) < 0.25 * eye_distance
    assert right_eye[0] < left_eye[0] and mouth_right[0] < mouth_left[0]  # image-left first, as the template
    assert right_eye[1] < nose[1] < mouth_centre[1]


def test_crop_puts_the_five_points_on_the_template(obama):
    """Detected again inside the aligned crop, the eyes land on the ArcFace template."""
    rgb, face = obama
    crop = mesh_align.warp_to_template(rgb, mesh_align.mesh_five_points(rgb, face))
    assert crop.shape == (112, 112, 3)
    big = mesh_align.warp_to_template(rgb, mesh_align.mesh_five_points(rgb, face), 224)
    (again,) = detect_rgb(np.ascontiguousarray(big))
    for index, eye in ((0, "right_eye"), (1, "left_eye")):
        assert np.linalg.norm(np.array(again.keypoints[eye]) - 2 * mesh_align.FIVE_POINT_TEMPLATE[index]) < 6, eye


def test_mesh_embedders_differ_from_the_detector_aligned_ones_but_agree_on_identity(obama):
    rgb, face = obama
    plain, mesh = (get_embedder(m).embed(rgb, [face])[0] for m in ("mobilefacenet", "mobilefacenet_mesh"))
    assert 0.7 < float(plain @ mesh) < 0.9999  # another crop of the same face: close, not the same vector


def test_fused_mesh_is_the_weighted_sum_of_its_parts_with_one_mesh_per_face(data_dir, monkeypatch):
    assert_fusion_is_weighted_sum(data_dir, "fused_faceres_mesh", "mobilefacenet_mesh", "faceres_mesh")
    calls = []
    real = mesh_align.mesh_five_points
    monkeypatch.setattr(mesh_align, "mesh_five_points", lambda rgb, face: calls.append(1) or real(rgb, face))
    facelens.embed(data_dir / "faces" / "bbt4.jpg", model="fused_faceres_mesh")
    assert len(calls) == 6  # six faces, one mesh each for both networks
