"""Score-level fusion of two embedders as one vector.

z-score fusion of two cosine scores, (s1 − m1)/σ1 + (s2 − m2)/σ2, is an affine function of
w·s1 + (1 − w)·s2 with w = σ2 / (σ1 + σ2). Concatenating √w·e1 and √(1−w)·e2 gives a unit
vector whose dot product is exactly that weighted score, so a fused mode works unchanged in
verification, gallery search and ANN indexes. Per-model score normalisation (z-scores from each
model's impostor mean and spread) is therefore one point of the weight grid, not something more;
w is the grid value that maximises LFW accuracy, fitted by ``facelens eval verification
--calibrate`` and read from the calibration file.

Modes (``FUSIONS``, first model first):
- ``fused``: MobileFaceNet + dlib's ResNet (dlib dominates the cost, ~190 ms a face).
- ``fused_faceres``: MobileFaceNet + HSE FaceRes, about a quarter of that cost.
- ``fused_faceres_mesh``: the same two networks on crops aligned from five face-mesh points
  (``mesh_align``; the mesh runs once per face for both): the most accurate mode on LFW.
"""

from __future__ import annotations

import numpy as np

from ..models.registry import build_model
from ..types import Face
from .base import l2_normalise

FUSIONS: dict[str, tuple[str, str]] = {
    "fused": ("mobilefacenet", "dlib"),
    "fused_faceres": ("mobilefacenet", "faceres"),
    "fused_faceres_mesh": ("mobilefacenet_mesh", "faceres_mesh"),
}
PARTS = FUSIONS["fused"]  # the two embedders of ``fused``, in the order of the fusion weight


def fuse_vectors(first: np.ndarray, second: np.ndarray, weight: float) -> np.ndarray:
    """Row-wise √w·first ⊕ √(1−w)·second, unit length: dot products are the weighted cosine."""
    return l2_normalise(np.hstack([np.sqrt(weight) * first, np.sqrt(1.0 - weight) * second]))


def fused_from_parts(name: str, vectors: dict[str, np.ndarray]) -> np.ndarray | None:
    """Fused mode ``name``'s vectors from its two parts' unit vectors in ``vectors`` (an
    evaluation cache: N×d per model), with the calibrated weight; None if a part is missing."""
    from ..match.thresholds import fusion_weight

    first, second = FUSIONS[name]
    if first not in vectors or second not in vectors:
        return None
    return fuse_vectors(vectors[first], vectors[second], fusion_weight(name))


class Fused:
    name = "fused"
    dim = 192 + 128

    def __init__(self, weight: float | None = None) -> None:
        from ..match.thresholds import fusion_weight

        first, second = FUSIONS[self.name]
        self.weight = fusion_weight(self.name) if weight is None else float(weight)
        self.version = f"{first}+{second},w={self.weight:.3f}"
        self._parts = (build_model("embedder", first), build_model("embedder", second))

    def embed(self, rgb: np.ndarray, faces: list[Face]) -> np.ndarray:
        first, second = (part.embed(rgb, faces) for part in self._parts)
        return fuse_vectors(first, second, self.weight)


class FusedFaceRes(Fused):
    """MobileFaceNet + FaceRes: LFW 10-fold accuracy at least that of ``fused`` at about a quarter
    of its cost per face (README "Results")."""

    name = "fused_faceres"
    dim = 192 + 1024


class FusedFaceResMesh(Fused):
    """MobileFaceNet + FaceRes, both aligned from the face mesh's five points, found once per face."""

    name = "fused_faceres_mesh"
    dim = 192 + 1024

    def embed(self, rgb: np.ndarray, faces: list[Face]) -> np.ndarray:
        from .mesh_align import mesh_five_points

        points = [mesh_five_points(rgb, face) for face in faces]
        first, second = (part.embed_points(rgb, points) for part in self._parts)
        return fuse_vectors(first, second, self.weight)
