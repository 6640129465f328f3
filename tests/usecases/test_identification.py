"""Identification use case: an image (or faces, or embeddings) → one decision per face, with the
threshold used and where it came from."""

from __future__ import annotations

import json

import numpy as np
import pytest

from facelens.errors import BadInputError
from facelens.gallery import Gallery
from facelens.match import identification_threshold
from facelens.pipeline import embed
from facelens.usecases.enrolment import enrol
from facelens.usecases.identification import identify

ENROLLED = ("amy", "leonard", "penny", "raj", "sheldon")


@pytest.fixture
def gallery(tmp_path, isolated_env, data_dir):
    with Gallery(tmp_path / "people.db") as g:
        for name in ENROLLED:
            enrol(g, name, [data_dir / "gallery" / f"{name}1.png", data_dir / "gallery" / f"{name}2.png"])
        yield g


def test_group_photo_gives_one_decision_per_face(gallery, data_dir):
    result = identify(gallery, str(data_dir / "gallery" / "bbt4.jpg"), top_k=2)
    threshold, source = identification_threshold("mobilefacenet", "max")
    assert (result.threshold, result.threshold_source, result.scoring, result.model) == (
        threshold, source, "max", "mobilefacenet")
    assert len(result.faces) == 6 and all(f.box is not None and f.face is not None for f in result.faces)
    named = {f.identity for f in result.faces} - {None}
    assert named >= {"sheldon", "amy", "raj"} and named <= set(ENROLLED)  # bernadette is not enrolled
    data = json.loads(json.dumps(result.to_dict()))
    assert set(data) == {"model", "scoring", "threshold", "faces"} and data["threshold"] == round(threshold, 6)
    assert all(set(f) == {"box", "identity", "similarity", "candidates"} and len(f["candidates"]) <= 2
               for f in data["faces"])
    assert gallery.audit.entries(event="identify")[-1].details["faces"] == 6


def test_faces_and_embeddings_are_searched_as_they_are(gallery, data_dir):
    face = embed(str(data_dir / "gallery" / "howard1.png"), face="only")[0]
    from_face = identify(gallery, face)
    assert from_face.faces[0].unknown and from_face.faces[0].box == face.box  # howard is not enrolled
    vectors = np.stack([face.embedding, embed(str(data_dir / "gallery" / "penny1.png"))[0].embedding])
    by_vector = identify(gallery, vectors, scoring="mean", threshold=0.5)
    assert [f.identity for f in by_vector.faces] == [None, "penny"]
    assert (by_vector.threshold, by_vector.threshold_source, by_vector.scoring) == (0.5, "given", "mean")


def test_no_face_is_an_empty_answer_and_unknowns_can_be_kept(gallery, data_dir):
    blank = np.full((240, 240, 3), 127, np.uint8)
    assert identify(gallery, blank).faces == []
    assert gallery.audit.entries(event="identify")[-1].details == {
        "model": "mobilefacenet", "faces": 0, "matches": [], "unknown": 0}
    identify(gallery, str(data_dir / "gallery" / "howard1.png"), record_unknown=True)
    ids, vectors = gallery.unknowns()
    assert len(ids) == 1 and vectors.shape == (1, 192)


def test_bad_requests(gallery, data_dir):
    with pytest.raises(BadInputError, match="top_k"):
        identify(gallery, str(data_dir / "gallery" / "amy1.png"), top_k=0)
    with pytest.raises(BadInputError, match="scoring"):
        identify(gallery, str(data_dir / "gallery" / "amy1.png"), scoring="median")
