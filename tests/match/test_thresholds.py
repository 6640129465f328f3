"""Threshold resolution against the shipped calibration files, and its fallback order."""

from __future__ import annotations

import json

import pytest

from facelens.embedding import EMBEDDERS
from facelens.errors import BadInputError
from facelens.match import cosine_similarity, thresholds
from facelens.match.thresholds import (
    FALLBACK_THRESHOLD,
    IDENTIFICATION_FILE,
    VERIFICATION_FILE,
    identification_threshold,
    verification_threshold,
)


@pytest.fixture
def calibration_files(tmp_path, monkeypatch):
    """Point the resolver at calibration files written by the test (cache cleared both ways)."""
    verification, identification = tmp_path / "verification.json", tmp_path / "identification.json"
    monkeypatch.setattr(thresholds, "VERIFICATION_FILE", verification)
    monkeypatch.setattr(thresholds, "IDENTIFICATION_FILE", identification)
    thresholds.clear_cache()
    yield verification, identification
    monkeypatch.undo()
    thresholds.clear_cache()


def test_every_shipped_identification_threshold_comes_from_its_file():
    shipped = json.loads(IDENTIFICATION_FILE.read_text())["models"]
    for model in EMBEDDERS:  # every embedder has its calibrated open-set threshold
        for scoring in ("max", "mean"):
            value, origin = identification_threshold(model, scoring)
            entry = shipped[model][scoring]
            assert value == entry["threshold"] and 0.3 < value < 1.0
            assert origin == f"identification FPIR={entry['fpir']} ({entry['source']})"


def test_verification_points_come_from_their_file():
    shipped = json.loads(VERIFICATION_FILE.read_text())["models"]["mobilefacenet"]
    value, point = verification_threshold("mobilefacenet")
    assert point == shipped["default"] and value == shipped["thresholds"][point]
    strict, _ = verification_threshold("mobilefacenet", "far_1e-3")
    lenient, _ = verification_threshold("mobilefacenet", "far_1e-2")
    assert strict > lenient  # a lower false-accept rate needs a higher similarity
    with pytest.raises(BadInputError, match="unknown operating point"):
        verification_threshold("mobilefacenet", "far_1e-9")
    with pytest.raises(BadInputError, match="no calibrated threshold"):
        verification_threshold("no-such-model")


def test_fallback_order_identification_then_verification_then_uncalibrated(calibration_files):
    verification, identification = calibration_files
    verification.write_text(json.dumps({"models": {"m": {"default": "far_1e-3", "thresholds": {"far_1e-3": 0.5}}}}))
    identification.write_text(json.dumps({"models": {"m": {"max": {"threshold": 0.6, "fpir": 0.01, "source": "LFW"}}}}))
    assert identification_threshold("m", "max") == (0.6, "identification FPIR=0.01 (LFW)")
    # no identification entry for mean scoring: the verification point, and the answer says so
    assert identification_threshold("m", "mean") == (0.5, "verification threshold far_1e-3 (identification not calibrated for m)")
    with pytest.raises(BadInputError, match="no identification threshold"):
        identification_threshold("other")
    assert identification_threshold("other", uncalibrated=FALLBACK_THRESHOLD) == (
        FALLBACK_THRESHOLD, "video fallback (uncalibrated)")


def test_missing_files_mean_not_calibrated(calibration_files):
    with pytest.raises(BadInputError):
        verification_threshold("mobilefacenet")
    assert thresholds.fusion_weight() == 0.5


def test_public_names_are_the_same_code_path():
    """verification.threshold, the gallery and video resolve through facelens.match alone."""
    from facelens import verification
    from facelens.video.identity import default_threshold

    assert verification.threshold is verification_threshold
    assert verification.cosine_similarity is cosine_similarity
    assert default_threshold("mobilefacenet") == identification_threshold("mobilefacenet", "max")

