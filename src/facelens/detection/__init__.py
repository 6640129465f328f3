"""Face detectors behind one interface: ``get_detector(name, **options)``.

- ``blazeface`` (default): MediaPipe BlazeFace full-range, 6 keypoints, ~2 ms per image here.
- ``blazeface_short``: the short-range model, for faces close to the camera (selfies, doors).
- ``haar`` / ``hog``: the seed papers' detectors, for comparison.
- ``skip``: no detection; the whole image is one face crop (FER2013-style datasets).
"""

from __future__ import annotations

import functools

from ..errors import BadInputError
from .base import Detector

DETECTORS = ("blazeface", "blazeface_short", "haar", "hog", "skip")


@functools.lru_cache(maxsize=32)
def get_detector(name: str = "blazeface", **options) -> Detector:
    if name == "blazeface":
        from .blazeface import FULL_RANGE, BlazeFaceDetector

        return BlazeFaceDetector(FULL_RANGE, **options)
    if name == "blazeface_short":
        from .blazeface import SHORT_RANGE, BlazeFaceDetector

        return BlazeFaceDetector(SHORT_RANGE, **options)
    if name == "haar":
        from .classic import HaarDetector

        return HaarDetector(**options)
    if name == "hog":
        from .classic import HogDetector

        return HogDetector(**options)
    if name == "skip":
        return SkipDetector()
    raise BadInputError(f"unknown detector {name!r}; choose one of {', '.join(DETECTORS)}")


class SkipDetector:
    """The whole image is one already-cropped face."""

    name = "skip"

    def detect(self, rgb):
        from ..alignment import whole_image_face

        return [whole_image_face(rgb)]


__all__ = ["DETECTORS", "Detector", "get_detector"]
