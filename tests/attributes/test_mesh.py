"""Face mesh on real faces: placement, rotation invariance, and the liveness cues."""

from __future__ import annotations

import cv2
import numpy as np

from facelens.attributes.mesh import (
    LEFT_EYE,
    RIGHT_EYE,
    eye_aspect_ratio,
    face_mesh,
    face_mesh_full,
    mouth_aspect_ratio,
    mouth_width_ratio,
    yaw_degrees,
)
from facelens.pipeline import detect_rgb


def _mesh(rgb):
    face = max(detect_rgb(rgb), key=lambda f: f.area)
    return face, face_mesh_full(rgb, face)


def _eye_error(face, points):
    right = points[[RIGHT_EYE[0], RIGHT_EYE[3]], :2].mean(0)
    left = points[[LEFT_EYE[0], LEFT_EYE[3]], :2].mean(0)
    error = np.linalg.norm(right - face.keypoints["right_eye"]) + np.linalg.norm(left - face.keypoints["left_eye"])
    return error / 2 / face.quality.face_size


def test_mesh_lands_on_the_face(data_dir, load):
    rgb = load(data_dir / "faces" / "obama.jpg")
    face, mesh = _mesh(rgb)
    assert mesh.points.shape == (468, 3) and mesh.presence > 0.9
    assert face_mesh(rgb, face).shape == (468, 3)
    assert _eye_error(face, mesh.points) < 0.12
    assert 0.15 < eye_aspect_ratio(mesh.points) < 0.4  # eyes open


def test_mesh_follows_a_rotated_face(data_dir, load):
    rgb = load(data_dir / "faces" / "obama.jpg")
    h, w = rgb.shape[:2]
    rotated = cv2.warpAffine(rgb, cv2.getRotationMatrix2D((w / 2, h / 2), 30, 1.0), (w, h))
    face, mesh = _mesh(rotated)
    assert abs(face.quality.roll) > 20
    assert _eye_error(face, mesh.points) < 0.12


def test_yaw_sign_flips_with_a_mirror_image(data_dir, load):
    path = data_dir / "attributes" / "lfw" / "male" / "Aaron_Guiel_0001.jpg"
    rgb = load(path)
    _, mesh = _mesh(rgb)
    _, mirrored = _mesh(np.ascontiguousarray(rgb[:, ::-1]))
    a, b = yaw_degrees(mesh.points), yaw_degrees(mirrored.points)
    assert abs(a + b) < 0.5 * max(abs(a), abs(b)) + 3


def test_smile_and_open_mouth_cues(attr_data, load):
    _, happy = _mesh(load(attr_data / "faceapi" / "happy.jpg"))
    _, neutral = _mesh(load(attr_data / "faceapi" / "neutral.jpg"))
    _, surprised = _mesh(load(attr_data / "faceapi" / "surprised.jpg"))
    assert mouth_width_ratio(happy.points) > mouth_width_ratio(neutral.points)
    assert mouth_aspect_ratio(surprised.points) > mouth_aspect_ratio(neutral.points) + 0.1
