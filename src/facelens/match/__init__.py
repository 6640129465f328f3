"""Matching: calibrated thresholds and candidate scoring, shared by verification, the gallery,
video watchlists and access control.

thresholds.py  calibration files (``facelens/calibration/*.json``) → the threshold to use, and
               where it came from;
candidates.py  ``Candidate`` / ``Identification``, best-template-per-identity ranking, cosine.
"""

from .candidates import Candidate, Identification, cosine_similarity, open_set_decision, rank_identities
from .thresholds import (
    FALLBACK_THRESHOLD,
    SCORINGS,
    Scoring,
    identification_threshold,
    verification_threshold,
)

__all__ = [
    "FALLBACK_THRESHOLD",
    "SCORINGS",
    "Candidate",
    "Identification",
    "Scoring",
    "cosine_similarity",
    "identification_threshold",
    "open_set_decision",
    "rank_identities",
    "verification_threshold",
]
