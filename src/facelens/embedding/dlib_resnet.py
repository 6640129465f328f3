"""dlib's ResNet-29 face descriptor (128-d, CC0), the engine of the face_recognition package.

dlib aligns with its own 5-point shape predictor and chip (150×150, padding 0.25): the network
was trained on exactly those chips, so we keep dlib's alignment here instead of our ArcFace crop.
"""

from __future__ import annotations

import threading

import numpy as np

from ..detection.landmarks5 import dlib_module, five_point_shape, shape_predictor
from ..models.registry import model_path
from ..types import Face
from .base import l2_normalise

_lock = threading.Lock()  # one dlib net per process; its forward pass is not re-entrant
_network = None


def _net():
    global _network
    with _lock:
        if _network is None:
            _network = dlib_module().face_recognition_model_v1(str(model_path("dlib")))
        return _network


def _dlib_models():
    """dlib, the 5-point predictor and the network, loading each on first use."""
    return dlib_module(), shape_predictor(), _net()


class DlibResNet:
    name = "dlib"
    version = "dlib_face_recognition_resnet_model_v1"
    dim = 128

    def __init__(self, jitter: int = 0) -> None:
        self.jitter = jitter
        _dlib_models()  # fail here, with the fetch hint, rather than on the first face

    def embed(self, rgb: np.ndarray, faces: list[Face]) -> np.ndarray:
        if not faces:
            return np.zeros((0, self.dim), dtype=np.float32)
        dlib, _, net = _dlib_models()
        chips = [dlib.get_face_chip(rgb, five_point_shape(rgb, face), size=150, padding=0.25)
                 for face in faces]
        with _lock:
            descriptors = net.compute_face_descriptor(chips, self.jitter)
        return l2_normalise(np.array([np.array(d) for d in descriptors], dtype=np.float32))
