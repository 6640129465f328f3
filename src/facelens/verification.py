"""1:1 verification with thresholds calibrated on real labelled pairs.

Thresholds live in ``calibration/verification.json``, written by
``facelens eval verification --calibrate`` (it records the data, protocol, date and command).
Each model has operating points chosen at a stated false-accept rate on the impostor pairs;
``verify`` uses the model's default point unless told otherwise.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np

from .errors import BadInputError

CALIBRATION_FILE = Path(__file__).resolve().parent / "calibration" / "verification.json"


@functools.lru_cache(maxsize=1)
def calibration() -> dict:
    try:
        return json.loads(CALIBRATION_FILE.read_text())
    except FileNotFoundError:
        return {"models": {}}


def fusion_weight() -> float:
    return float(calibration().get("fusion_weight", 0.5))


def threshold(model: str, operating_point: str | None = None) -> tuple[float, str]:
    """(threshold, operating point name) for a model."""
    entry = calibration().get("models", {}).get(model)
    if entry is None:
        raise BadInputError(
            f"no calibrated threshold for model {model!r}; run `facelens eval verification --calibrate`"
        )
    point = operating_point or entry["default"]
    try:
        return float(entry["thresholds"][point]), point
    except KeyError:
        known = ", ".join(entry["thresholds"])
        raise BadInputError(f"unknown operating point {point!r} for {model}; known: {known}") from None


def cosine_similarity(a: np.ndarray, b: np.ndarray) -> float:
    a = np.asarray(a, dtype=np.float32).ravel()
    b = np.asarray(b, dtype=np.float32).ravel()
    if a.shape != b.shape:
        raise BadInputError(f"embeddings of different sizes ({a.size} vs {b.size}): different models?")
    return float(np.dot(a, b) / max(float(np.linalg.norm(a) * np.linalg.norm(b)), 1e-12))
