"""HSE FaceRes: a MobileNet trained on VGGFace2 (Savchenko 2019), 1024-d, via Human's TF.js port.

A different network, training set and crop from MobileFaceNet (ArcFace-style MS1M crops) and
dlib (its own chips), so its errors overlap theirs less: its value is in the fused mode
``fused_faceres`` (``fusion.py``). The same network also predicts gender and age (outputs
``gender``, ``age`` of the ONNX file; not used here yet).

Its features are ReLU6 outputs, all ≥ 0, so any two faces share a large common component. We
remove it: the L2-normalised feature minus the mean feature of the 7,701 LFW View 2 images
(``lfw_mean.npy``, no labels used), normalised again: LFW 10-fold accuracy 98.12 % before,
98.27 % after, and the same with a mean taken for each test fold from the other nine folds'
people (weights folder README).

Its input, from the upstream code (HSE_FaceRec_tf ``facial_analysis.py``): a 224×224 face
crop, BGR, minus the ImageNet channel means (Keras/Caffe ``preprocess_input``). Upstream crops
an MTCNN box plus a margin without rotating; we align instead, placing the ArcFace 5-point
template at twice its 112-px scale and 5 % of the crop higher (more chin, less forehead), the best
of the crops tried on LFW folds 1–2 (weights folder README).
"""

from __future__ import annotations

import cv2
import numpy as np

from ..alignment import CROP_SIZE, alignment_points, similarity_transform
from ..errors import ModelError
from ..models import runtime
from ..models.registry import get_spec, sha256_of
from ..types import Face
from .base import l2_normalise

INPUT_SIZE = 224
TEMPLATE_SHIFT = (0.0, -0.05 * INPUT_SIZE)  # template moved up inside the crop, in pixels
BGR_MEANS = np.array([103.939, 116.779, 123.68], dtype=np.float32)
MEAN_FILE = "lfw_mean.npy"
MEAN_SHA256 = "f81dfbc1ba3982b93b54d07d27e481c354545a4fb344324c60a6499818e4bb81"


def faceres_crop(rgb: np.ndarray, face: Face) -> np.ndarray:
    """The 224×224 RGB crop FaceRes embeds: the 112-px ArcFace framing at twice the size,
    shifted so the face sits 11 px higher."""
    src, dst = alignment_points(face)
    dst = dst * (INPUT_SIZE / CROP_SIZE) + np.array(TEMPLATE_SHIFT)
    matrix = similarity_transform(src, dst)
    return cv2.warpAffine(rgb, matrix, (INPUT_SIZE, INPUT_SIZE), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)


class FaceRes:
    name = "faceres"
    version = "human-models-3.0.4/faceres"
    dim = 1024

    def __init__(self, flip: bool = False) -> None:
        self.flip = flip
        self._session = runtime.onnx("faceres")
        self._input = self._session.get_inputs()[0].name
        self._mean = _feature_mean()

    def embed(self, rgb: np.ndarray, faces: list[Face]) -> np.ndarray:
        return self.embed_crops([faceres_crop(rgb, face) for face in faces])

    def embed_crops(self, crops: list[np.ndarray]) -> np.ndarray:
        """Embeddings of 224×224 RGB crops made by ``faceres_crop``."""
        if not crops:
            return np.zeros((0, self.dim), dtype=np.float32)
        batch = np.stack(crops)
        vectors = self._run(batch)
        if self.flip:
            vectors = vectors + self._run(batch[:, :, ::-1])
        return l2_normalise(l2_normalise(vectors) - self._mean)

    def _run(self, rgb_batch: np.ndarray) -> np.ndarray:
        tensor = rgb_batch[..., ::-1].astype(np.float32) - BGR_MEANS
        return self._session.run(["embedding"], {self._input: tensor})[0]


class FaceResMesh(FaceRes):
    """FaceRes on a crop aligned from five face-mesh points (``mesh_align``), framed like
    ``faceres_crop`` (the template at twice its scale, moved up by ``TEMPLATE_SHIFT``); the same
    shipped feature mean."""

    name = "faceres_mesh"

    def embed(self, rgb: np.ndarray, faces: list[Face]) -> np.ndarray:
        from .mesh_align import mesh_five_points

        return self.embed_points(rgb, [mesh_five_points(rgb, face) for face in faces])

    def embed_points(self, rgb: np.ndarray, points: list[np.ndarray]) -> np.ndarray:
        from .mesh_align import warp_to_template

        return self.embed_crops([warp_to_template(rgb, p, INPUT_SIZE, TEMPLATE_SHIFT) for p in points])


def _feature_mean() -> np.ndarray:
    """The shipped mean feature, checked like the weights (ModelError if missing or altered)."""
    path = get_spec("faceres").folder / MEAN_FILE
    if not path.is_file() or sha256_of(path) != MEAN_SHA256:
        raise ModelError(f"{path}: missing or altered (expected sha256 {MEAN_SHA256[:12]}…); "
                         "reinstall facelens")
    return np.load(path).astype(np.float32)
