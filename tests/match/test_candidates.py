"""Best-template-per-identity ranking and the open-set decision, on real embeddings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from facelens.errors import BadInputError
from facelens.match import Candidate, cosine_similarity, open_set_decision, rank_identities

GALLERY_DATA = Path(__file__).resolve().parent.parent / "data" / "gallery"


@pytest.fixture(scope="module")
def embeddings():
    """mobilefacenet embeddings of the real fixture crops in tests/data/gallery."""
    import facelens.pipeline as pipeline

    return {p.stem: pipeline.embed(str(p), face="only")[0].embedding for p in sorted(GALLERY_DATA.glob("*.png"))}


def test_each_identity_scores_its_best_template(embeddings):
    owners = ["sheldon", "sheldon", "amy", "amy"]
    templates = np.stack([embeddings[n] for n in ("sheldon1", "sheldon2", "amy1", "amy2")])
    probe = embeddings["sheldon1"]
    sims = templates @ probe
    ranked = rank_identities(owners, sims)
    assert [c.identity for c in ranked] == ["sheldon", "amy"]
    assert ranked[0].similarity == pytest.approx(float(sims[:2].max()))
    assert ranked[1].similarity == pytest.approx(float(sims[2:].max()))
    assert ranked[0].similarity == pytest.approx(1.0, abs=1e-5)  # the probe is one of sheldon's templates


def test_erased_templates_and_nan_scores_are_skipped():
    ranked = rank_identities(["a", None, "b", "c"], np.array([0.2, 0.99, np.nan, 0.4], np.float32))
    assert [c.identity for c in ranked] == ["c", "a"]


def test_mean_scoring_replaces_best_template_scores_and_top_k_cuts():
    ranked = rank_identities(["a", "b", "c"], [0.9, 0.8, 0.1], member_sims={"a": 0.3, "b": 0.7}, top_k=2)
    assert ranked == [Candidate("b", 0.7), Candidate("a", 0.3)]


def test_ties_rank_by_name():
    assert [c.identity for c in rank_identities(["zed", "amy"], [0.5, 0.5])] == ["amy", "zed"]


def test_open_set_decision():
    known = open_set_decision([Candidate("amy", 0.7), Candidate("raj", 0.4)], threshold=0.6)
    assert known.identity == "amy" and not known.unknown and known.similarity == 0.7
    unknown = open_set_decision([Candidate("amy", 0.5)], threshold=0.6)
    assert unknown.unknown and unknown.candidates == [Candidate("amy", 0.5)]
    empty = open_set_decision([], threshold=0.6)
    assert empty.unknown and empty.similarity == float("-inf") and empty.to_dict()["candidates"] == []


def test_cosine_similarity(embeddings):
    same = cosine_similarity(embeddings["penny1"], embeddings["penny2"])
    other = cosine_similarity(embeddings["penny1"], embeddings["raj1"])
    assert same > other
    assert cosine_similarity(embeddings["raj1"], 3.0 * embeddings["raj1"]) == pytest.approx(1.0, abs=1e-6)
    with pytest.raises(BadInputError, match="different sizes"):
        cosine_similarity(embeddings["raj1"], np.ones(128))


def test_one_candidate_class_everywhere():
    from facelens.gallery import Candidate as GalleryCandidate
    from facelens.video.identity import Candidate as VideoCandidate

    assert GalleryCandidate is VideoCandidate is Candidate
    assert Candidate("amy", 0.1234567).to_dict() == {"identity": "amy", "similarity": 0.123457}
