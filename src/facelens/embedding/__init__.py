"""Embedding backends behind one interface: ``get_embedder(name)``.

- ``mobilefacenet`` (default): 192-d, flip test-time augmentation in the model's batch of 2.
- ``mobilefacenet_noflip``: the same network, two different faces per call (crowded frames).
- ``dlib``: dlib's ResNet-29, 128-d, on dlib's own chips (weights via ``facelens models fetch``).
- ``faceres``: HSE FaceRes (MobileNet, VGGFace2), 1024-d, on a looser 224×224 crop.
- ``fused``: MobileFaceNet and dlib scores in one vector, weighted by the verification calibration.
- ``fused_faceres``: MobileFaceNet and FaceRes the same way, about a quarter of ``fused``'s cost.
- ``mobilefacenet_mesh``, ``faceres_mesh``: the same networks on crops aligned from five points of
  the face mesh (``mesh_align``); ``fused_faceres_mesh`` fuses the two: the most accurate on LFW.

The names and their classes live in ``facelens.models.registry`` (``BUILDERS["embedder"]``).
"""

from __future__ import annotations

from ..constants import DEFAULT_MODEL
from ..models.registry import build_model, names
from .base import Embedder, l2_normalise

EMBEDDERS = names("embedder")


def get_embedder(name: str = DEFAULT_MODEL) -> Embedder:
    """The named embedder, built once per process."""
    return build_model("embedder", name)


__all__ = ["EMBEDDERS", "Embedder", "get_embedder", "l2_normalise"]
