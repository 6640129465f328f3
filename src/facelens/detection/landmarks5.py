"""dlib's 5-point shape predictor, loaded once per process for every user.

It gives eye corners and nose base to the box-only detectors (Haar, HOG), places dlib's own
face chip for the ResNet embedder, and the chips of the Cydral gender/age networks.
"""

from __future__ import annotations

import threading

import numpy as np

from ..models.registry import model_path
from ..types import Face

_lock = threading.Lock()  # guards loading, and each call: dlib objects are not documented thread-safe
_predictor = None


def dlib_module():
    import dlib  # imported lazily: dlib-bin pulls in pkg_resources at import time

    return dlib


def shape_predictor():
    """The bundled predictor (``dlib_shape_predictor_5``); needs no fetched weights."""
    global _predictor
    with _lock:
        if _predictor is None:
            _predictor = dlib_module().shape_predictor(str(model_path("dlib_shape_predictor_5")))
        return _predictor


def dlib_rectangle(face: Face):
    x1, y1, x2, y2 = (int(round(v)) for v in face.box)
    return dlib_module().rectangle(x1, y1, x2, y2)


def five_point_shape(rgb: np.ndarray, face: Face):
    """dlib's full_object_detection: eye corners (parts 0–3) and nose base (4) inside the box."""
    predictor = shape_predictor()
    image = np.ascontiguousarray(rgb)
    with _lock:
        return predictor(image, dlib_rectangle(face))


def add_keypoints(rgb: np.ndarray, face: Face) -> Face:
    """The face with eye centres and nose base from the predictor, as box-only detectors need."""
    shape = five_point_shape(rgb, face)
    points = np.array([(shape.part(i).x, shape.part(i).y) for i in range(5)], dtype=np.float64)
    eye_a, eye_b = points[0:2].mean(0), points[2:4].mean(0)
    image_left, image_right = (eye_a, eye_b) if eye_a[0] < eye_b[0] else (eye_b, eye_a)
    return face.replace(keypoints={
        "right_eye": tuple(image_left),  # the subject's right eye is on the image's left
        "left_eye": tuple(image_right),
        "nose_base": tuple(points[4]),
    })
