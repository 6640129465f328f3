"""Face detectors behind one interface: ``get_detector(name, **options)``.

- ``blazeface`` (default): MediaPipe BlazeFace full-range, 6 keypoints, ~2 ms per image here.
- ``blazeface_short``: the short-range model, for faces close to the camera (selfies, doors).
- ``haar`` / ``hog``: the seed papers' detectors, for comparison.
- ``skip``: no detection; the whole image is one face crop (FER2013-style datasets).

The names and their classes live in ``facelens.models.registry`` (``BUILDERS["detector"]``).
"""

from __future__ import annotations

import numpy as np

from ..constants import DEFAULT_DETECTOR
from ..models.registry import build_model, names
from ..types import Face
from .base import Detector

DETECTORS = names("detector")


def get_detector(name: str = DEFAULT_DETECTOR, **options) -> Detector:
    """The named detector, built once per process for each set of options."""
    return build_model("detector", name, **options)


class SkipDetector:
    """The whole image is one already-cropped face."""

    name = "skip"

    def detect(self, rgb: np.ndarray) -> list[Face]:
        from ..alignment import whole_image_face

        return [whole_image_face(rgb)]


__all__ = ["DETECTORS", "Detector", "get_detector"]
