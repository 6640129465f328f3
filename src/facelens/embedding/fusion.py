"""Score-level fusion of MobileFaceNet and dlib as one vector.

z-score fusion of two cosine scores, (s1 − m1)/σ1 + (s2 − m2)/σ2, is an affine function of
w·s1 + (1 − w)·s2 with w = σ2 / (σ1 + σ2). Concatenating √w·e1 and √(1−w)·e2 gives a unit
vector whose dot product is exactly that weighted score, so the fused mode works unchanged in
verification, gallery search and ANN indexes. w comes from the calibration file, where
``facelens eval verification --calibrate`` puts the grid value that maximises LFW accuracy.
"""

from __future__ import annotations

import numpy as np

from ..types import Face
from .base import l2_normalise
from .dlib_resnet import DlibResNet
from .mobilefacenet import MobileFaceNet


PARTS = ("mobilefacenet", "dlib")  # the two embedders, in the order of the fusion weight


class Fused:
    name = "fused"
    dim = MobileFaceNet.dim + DlibResNet.dim

    def __init__(self, weight: float | None = None) -> None:
        from ..match.thresholds import fusion_weight

        self.weight = fusion_weight() if weight is None else float(weight)
        self.version = f"mobilefacenet+dlib,w={self.weight:.3f}"
        self._parts = (MobileFaceNet(), DlibResNet())

    def embed(self, rgb: np.ndarray, faces: list[Face]) -> np.ndarray:
        first, second = (part.embed(rgb, faces) for part in self._parts)
        fused = np.hstack([np.sqrt(self.weight) * first, np.sqrt(1.0 - self.weight) * second])
        return l2_normalise(fused)
