"""Calibrated decision thresholds: one place that reads the calibration files and resolves them.

``calibration/verification.json`` (written by ``facelens eval verification --calibrate``): per
model, cosine thresholds at stated false-accept rates on LFW impostor pairs, and a default
operating point. ``calibration/identification.json`` (``facelens gallery evaluate --calibrate``):
per model and scoring, the open-set threshold at which 1 % of unknown probes were wrongly matched
(FPIR) on LFW. Each file records its data, protocol and command.

Resolution order for identification (gallery, video watchlists): the identification calibration,
else the model's default verification point (saying so), else — only when the caller names an
uncalibrated fallback, as video does — that value, logged.
"""

from __future__ import annotations

import functools
import json
import logging
from pathlib import Path
from typing import Any, Literal

from ..errors import BadInputError

log = logging.getLogger(__name__)

CALIBRATION_DIR = Path(__file__).resolve().parent.parent / "calibration"
VERIFICATION_FILE = CALIBRATION_DIR / "verification.json"
IDENTIFICATION_FILE = CALIBRATION_DIR / "identification.json"
Scoring = Literal["max", "mean"]
SCORINGS = ("max", "mean")
FALLBACK_THRESHOLD = 0.40
"""Video's last resort when a model has no calibration at all; see docs/video.md for its origin."""


def _read(path: Path, empty: dict[str, Any]) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return empty


@functools.lru_cache(maxsize=1)
def verification_calibration() -> dict[str, Any]:
    return _read(VERIFICATION_FILE, {"models": {}})


@functools.lru_cache(maxsize=1)
def identification_calibration() -> dict[str, Any]:
    return _read(IDENTIFICATION_FILE, {})


def fusion_weight(model: str = "fused") -> float:
    """Weight of the first model in a fused mode's score, fitted with the verification
    calibration (``fusion_weight`` is ``fused``'s, ``fusion_weights`` holds every mode's)."""
    calibration = verification_calibration()
    weights = calibration.get("fusion_weights", {})
    if model in weights:
        return float(weights[model])
    return float(calibration.get("fusion_weight", 0.5)) if model == "fused" else 0.5


def verification_threshold(model: str, operating_point: str | None = None) -> tuple[float, str]:
    """(threshold, operating point name) for 1:1 verification with ``model``."""
    entry = verification_calibration().get("models", {}).get(model)
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


def identification_threshold(model: str, scoring: Scoring = "max", *,
                             uncalibrated: float | None = None) -> tuple[float, str]:
    """(open-set threshold, where it came from) for 1:N identification with ``model``/``scoring``.

    Falls back to the verification threshold, then to ``uncalibrated`` when given (else
    BadInputError): the source string always says which one was used."""
    entry = identification_calibration().get("models", {}).get(model, {}).get(scoring)
    if entry:
        return float(entry["threshold"]), f"identification FPIR={entry['fpir']} ({entry['source']})"
    try:
        value, point = verification_threshold(model)
    except BadInputError as exc:
        if uncalibrated is not None:
            log.warning("no calibrated threshold for %s: using the uncalibrated fallback %.2f", model, uncalibrated)
            return float(uncalibrated), "video fallback (uncalibrated)"
        raise BadInputError(
            f"no identification threshold for {model!r}/{scoring}: run `facelens gallery evaluate --calibrate` ({exc})"
        ) from None
    return value, f"verification threshold {point} (identification not calibrated for {model})"


def clear_cache() -> None:
    """Forget the files read so far (after a calibration command rewrote one)."""
    verification_calibration.cache_clear()
    identification_calibration.cache_clear()
