"""1:1 verification thresholds and cosine similarity — re-exported from ``facelens.match``.

Thresholds live in ``calibration/verification.json``, written by
``facelens eval verification --calibrate``; ``facelens.match.thresholds`` reads and resolves them.
"""

from .match.candidates import cosine_similarity
from .match.thresholds import VERIFICATION_FILE as CALIBRATION_FILE
from .match.thresholds import fusion_weight
from .match.thresholds import verification_calibration as calibration
from .match.thresholds import verification_threshold as threshold

__all__ = ["CALIBRATION_FILE", "calibration", "cosine_similarity", "fusion_weight", "threshold"]
