"""Helpers shared by the access tests (imported by name: tests/ has no packages)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from facelens.access import Policy
from facelens.errors import BadInputError

ACCESS_DATA = Path(__file__).resolve().parent.parent / "data" / "access"
# MobileFaceNet at LFW FAR 1e-3 (facelens eval verification on LFW View 2, docs/access.md);
# used only when the package calibration file is absent in this checkout.
LFW_FAR_1E3 = 0.4341
# ORL images in tests/data/access/orl with closed eyes (src/facelens/access/orl_eye_labels.json)
ORL_CLOSED = {("s11", 4), ("s11", 9), ("s36", 5)}


def read_rgb(path: Path, scale: float = 1.0) -> np.ndarray:
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert bgr is not None, path
    if scale != 1.0:
        bgr = cv2.resize(bgr, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def make_policy(**settings) -> Policy:
    try:
        return Policy(**settings).resolved()
    except BadInputError:  # no calibration/verification.json in this checkout
        return Policy(threshold=LFW_FAR_1E3, threshold_source="LFW FAR 1e-3 (tests)", **settings)
