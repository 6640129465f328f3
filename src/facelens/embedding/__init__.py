"""Embedding backends behind one interface: ``get_embedder(name)``."""

from __future__ import annotations

import functools

from ..errors import BadInputError
from .base import Embedder, l2_normalise

EMBEDDERS = ("mobilefacenet", "mobilefacenet_noflip", "dlib", "fused")


@functools.lru_cache(maxsize=None)
def get_embedder(name: str) -> Embedder:
    if name == "mobilefacenet":
        from .mobilefacenet import MobileFaceNet

        return MobileFaceNet()
    if name == "mobilefacenet_noflip":
        from .mobilefacenet import MobileFaceNetNoFlip

        return MobileFaceNetNoFlip()
    if name == "dlib":
        from .dlib_resnet import DlibResNet

        return DlibResNet()
    if name == "fused":
        from .fusion import Fused

        return Fused()
    raise BadInputError(f"unknown embedding model {name!r}; choose one of {', '.join(EMBEDDERS)}")


__all__ = ["EMBEDDERS", "Embedder", "get_embedder", "l2_normalise"]
