"""Helpers shared by the embedding tests (imported by name: tests/ has no packages)."""

from __future__ import annotations

import pytest

import facelens
from facelens.embedding import get_embedder
from facelens.match import thresholds


def assert_fusion_is_weighted_sum(data_dir, fused_name: str, first: str, second: str):
    """The fused model's Obama–Biden cosine is weight·first + (1 − weight)·second, with the
    weight shipped in the calibration file; returns the fused embedder."""
    fused = get_embedder(fused_name)
    shipped = thresholds.verification_calibration()["fusion_weights"][fused_name]
    assert fused.weight == shipped and 0 < shipped < 1
    vectors = {model: [facelens.embed(data_dir / "faces" / n, model=model, face="largest")[0].embedding
                       for n in ("obama.jpg", "biden.jpg")]
               for model in (fused_name, first, second)}
    cosine = {model: float(a @ b) for model, (a, b) in vectors.items()}
    expected = fused.weight * cosine[first] + (1 - fused.weight) * cosine[second]
    assert cosine[fused_name] == pytest.approx(expected, abs=1e-5)
    return fused
