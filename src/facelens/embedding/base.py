"""The embedder interface: aligned faces in, L2-normalised float32 vectors out."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from ..types import Face


class Embedder(Protocol):
    name: str
    version: str
    dim: int

    def embed(self, rgb: np.ndarray, faces: list[Face]) -> np.ndarray:
        """One L2-normalised float32 row per face (faces carry keypoints; crops are optional)."""
        ...


def l2_normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)
