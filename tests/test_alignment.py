"""Keypoints → ArcFace crop, and the quality record, on real photos."""

from __future__ import annotations

import numpy as np

import facelens
from facelens.alignment import ARCFACE_TEMPLATE, align, alignment_points, similarity_transform
from facelens.imageio import load_image


def test_similarity_transform_recovers_a_known_transform():
    rng = np.random.default_rng(0)
    src = rng.uniform(0, 100, size=(5, 2))
    angle, scale, shift = np.deg2rad(20), 1.7, np.array([5.0, -3.0])
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    dst = scale * src @ rotation.T + shift
    matrix = similarity_transform(src, dst)
    assert np.allclose(matrix[:, :2], scale * rotation, atol=1e-9)
    assert np.allclose(matrix[:, 2], shift, atol=1e-9)


def test_aligned_crop_puts_eyes_on_the_template(data_dir):
    rgb = load_image(data_dir / "faces" / "obama.jpg")
    (face,) = facelens.detect(rgb, channels="rgb")
    crop = align(rgb, face)
    assert crop.shape == (112, 112, 3)
    # Detect again inside the crop: its eyes must sit near the template's.
    (again,) = facelens.detect(np.pad(crop, ((56, 56), (56, 56), (0, 0))), channels="rgb")
    for eye in ("right_eye", "left_eye"):
        x, y = again.keypoints[eye]
        tx, ty = ARCFACE_TEMPLATE[eye]
        assert abs(x - 56 - tx) < 6 and abs(y - 56 - ty) < 6


def test_quality_separates_sharp_from_blurred(data_dir):
    import cv2

    rgb = load_image(data_dir / "faces" / "obama.jpg")
    (sharp,) = facelens.detect(rgb, channels="rgb")
    (blurred,) = facelens.detect(cv2.GaussianBlur(rgb, (0, 0), 6), channels="rgb")
    assert blurred.quality.sharpness < sharp.quality.sharpness / 3
    assert abs(sharp.quality.yaw) < 20 and abs(sharp.quality.roll) < 15


def test_roll_follows_image_rotation(data_dir):
    import cv2

    rgb = load_image(data_dir / "faces" / "obama.jpg")
    h, w = rgb.shape[:2]
    rotated = cv2.warpAffine(rgb, cv2.getRotationMatrix2D((w / 2, h / 2), 20, 1.0), (w, h))
    (upright,) = facelens.detect(rgb, channels="rgb")
    (tilted,) = facelens.detect(rotated, channels="rgb")
    assert abs((tilted.quality.roll - upright.quality.roll) + 20) < 10  # keypoint-based: ±10°
    src, dst = alignment_points(tilted)
    assert len(src) == len(dst) == 4
