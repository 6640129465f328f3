"""dlib's ResNet-29 face descriptor (128-d, CC0), the engine of the face_recognition package.

dlib aligns with its own 5-point shape predictor and chip (150×150, padding 0.25): the network
was trained on exactly those chips, so we keep dlib's alignment here instead of our ArcFace crop.
"""

from __future__ import annotations

import threading

import numpy as np

from ..models.registry import model_path
from ..types import Face
from .base import l2_normalise

_lock = threading.RLock()
_loaded: dict[str, object] = {}


def _load(key: str, factory):
    with _lock:
        if key not in _loaded:
            _loaded[key] = factory()
        return _loaded[key]


def _dlib():
    import dlib  # imported lazily: dlib-bin pulls in pkg_resources at import time

    return dlib


def shape_predictor():
    """dlib's 5-point predictor (bundled); needs no fetched weights."""
    return _load("shape", lambda: _dlib().shape_predictor(str(model_path("dlib_shape_predictor_5"))))


def _net():
    return _load("net", lambda: _dlib().face_recognition_model_v1(str(model_path("dlib_resnet"))))


def _dlib_models():
    return _dlib(), shape_predictor(), _net()


def dlib_rectangle(face: Face):
    x1, y1, x2, y2 = (int(round(v)) for v in face.box)
    return _dlib().rectangle(x1, y1, x2, y2)


def five_point_shape(rgb: np.ndarray, face: Face):
    return shape_predictor()(rgb, dlib_rectangle(face))


class DlibResNet:
    name = "dlib"
    version = "dlib_face_recognition_resnet_model_v1"
    dim = 128

    def __init__(self, jitter: int = 0) -> None:
        self.jitter = jitter
        _dlib_models()

    def embed(self, rgb: np.ndarray, faces: list[Face]) -> np.ndarray:
        if not faces:
            return np.zeros((0, self.dim), dtype=np.float32)
        dlib, _, net = _dlib_models()
        chips = [dlib.get_face_chip(rgb, five_point_shape(rgb, face), size=150, padding=0.25)
                 for face in faces]
        with _lock:  # one dlib net per process; its forward pass is not re-entrant
            descriptors = net.compute_face_descriptor(chips, self.jitter)
        return l2_normalise(np.array([np.array(d) for d in descriptors], dtype=np.float32))
