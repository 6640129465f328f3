"""Eye and nose keypoints for box-only detectors (Haar, HOG) from dlib's 5-point predictor."""

from __future__ import annotations

import numpy as np

from ..types import Face


def add_keypoints(rgb: np.ndarray, face: Face) -> Face:
    from ..embedding.dlib_resnet import five_point_shape

    shape = five_point_shape(rgb, face)
    points = np.array([(shape.part(i).x, shape.part(i).y) for i in range(5)], dtype=np.float64)
    eye_a, eye_b = points[0:2].mean(0), points[2:4].mean(0)
    image_left, image_right = (eye_a, eye_b) if eye_a[0] < eye_b[0] else (eye_b, eye_a)
    return face.replace(keypoints={
        "right_eye": tuple(image_left),  # the subject's right eye is on the image's left
        "left_eye": tuple(image_right),
        "nose_base": tuple(points[4]),
    })
