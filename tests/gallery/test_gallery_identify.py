"""Enrol real people, find them in a group photo, reject strangers, erase — on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from facelens.errors import BadInputError, ConflictError, MultipleFacesError, NoFaceError, NotFoundError
from facelens.gallery import Consent, Gallery
from facelens.usecases.enrolment import enrol
from facelens.usecases.identification import identify

GALLERY_DATA = Path(__file__).resolve().parent.parent / "data" / "gallery"
ENROLLED = ("amy", "bernadette", "leonard", "penny", "raj", "sheldon")  # the people in bbt4.jpg


def _enrol_all(gallery: Gallery, fixture_embeddings) -> None:
    for name in ENROLLED:
        gallery.enrol(name, embeddings=np.stack([fixture_embeddings[f"{name}1"], fixture_embeddings[f"{name}2"]]))


def test_identifies_people_in_a_group_photo(db_url, fixture_embeddings, bbt4_faces, truth):
    with Gallery(db_url) as gallery:
        _enrol_all(gallery, fixture_embeddings)
        results = [gallery.identify(face, top_k=3)[0] for face in bbt4_faces]
    assert len(results) == 6
    named = [(r.identity, truth(face.box)) for r, face in zip(results, bbt4_faces)]
    wrong = [(got, want) for got, want in named if got is not None and got != want]
    right = [got for got, want in named if got == want]
    assert not wrong, f"misidentified: {wrong}"
    assert len(right) >= 4, f"only {right} identified at the calibrated threshold"
    # rank-1 is right for every face even where the open-set decision says unknown
    assert all(r.candidates[0].identity == truth(face.box) for r, face in zip(results, bbt4_faces))


def test_enrol_from_images_and_identify_image(db_url):
    with Gallery(db_url) as gallery:
        enrol(gallery, "sheldon", [GALLERY_DATA / "sheldon1.png", GALLERY_DATA / "sheldon2.png"],
              metadata={"category": "staff"}, consent=Consent(by="sheldon", purpose="test"))
        enrol(gallery, "amy", [str(GALLERY_DATA / "amy1.png")])
        info = gallery.show("sheldon")
        assert info["metadata"] == {"category": "staff"} and info["consent"]["purpose"] == "test"
        assert len(info["templates"]) == 2 and info["templates"][0]["model"] == "mobilefacenet"
        assert info["templates"][0]["model_version"] not in ("", "unknown")
        found = identify(gallery, str(GALLERY_DATA / "bbt4.jpg")).faces
        assert {r.identity for r in found} >= {"sheldon", "amy"}
        assert len(found) == 6 and all(r.box is not None for r in found)


def test_unknown_people_are_rejected(db_url, fixture_embeddings):
    with Gallery(db_url) as gallery:
        _enrol_all(gallery, fixture_embeddings)
        for stranger in ("howard1", "stuart1"):
            result = gallery.identify(fixture_embeddings[stranger])[0]
            assert result.identity is None and result.unknown, (stranger, result.similarity)
            assert result.candidates  # still ranked, just below the threshold
        # a third template of an enrolled person is accepted
        assert identify(gallery, str(GALLERY_DATA / "howard1.png")).faces[0].identity is None


def test_erasure_removes_from_database_and_index(db_url, fixture_embeddings):
    with Gallery(db_url) as gallery:
        _enrol_all(gallery, fixture_embeddings)
        probe = fixture_embeddings["raj1"]
        assert gallery.identify(probe)[0].identity == "raj"
        index = gallery.index_for("mobilefacenet")
        raj_ids = [t["id"] for t in gallery.show("raj")["templates"]]
        assert set(raj_ids) <= set(index.keys().tolist())
        gallery.delete("raj")
        assert "raj" not in gallery and all(p["name"] != "raj" for p in gallery.list())
        with pytest.raises(NotFoundError):
            gallery.show("raj")
        assert not set(raj_ids) & set(gallery.index_for("mobilefacenet").keys().tolist())
        result = gallery.identify(probe, top_k=10)[0]
        assert "raj" not in [c.identity for c in result.candidates] and result.identity != "raj"
    # the persisted index and a fresh process agree
    with Gallery(db_url) as reopened:
        assert not set(raj_ids) & set(reopened.index_for("mobilefacenet").keys().tolist())
        assert "raj" not in [c.identity for c in reopened.identify(probe, top_k=10)[0].candidates]
        assert [e.event for e in reopened.audit.entries(subject="raj")] == ["enrol", "delete"]


def test_bad_requests_write_nothing(db_url, fixture_embeddings):
    with Gallery(db_url) as gallery:
        gallery.enrol("amy", embeddings=fixture_embeddings["amy1"])
        before = (gallery.list(), gallery.audit.count())
        with pytest.raises(ConflictError):
            gallery.enrol("amy", embeddings=fixture_embeddings["amy2"])
        with pytest.raises(NotFoundError):
            gallery.delete("nobody")
        with pytest.raises(NotFoundError):
            gallery.export("nobody")
        with pytest.raises(MultipleFacesError):  # second image has six faces: nothing enrolled
            enrol(gallery, "penny", [GALLERY_DATA / "penny1.png", GALLERY_DATA / "bbt4.jpg"])
        blank = np.full((200, 200, 3), 127, np.uint8)
        with pytest.raises(NoFaceError):
            enrol(gallery, "penny", [GALLERY_DATA / "penny1.png", blank])
        with pytest.raises(BadInputError):
            gallery.enrol("penny", embeddings=np.zeros(192))
        with pytest.raises(BadInputError):
            gallery.enrol("penny", embeddings=np.ones(64))  # wrong size for mobilefacenet
        assert (gallery.list(), gallery.audit.count()) == before
        gallery.enrol("amy", embeddings=fixture_embeddings["amy2"], add=True)
        assert gallery.show("amy")["templates"].__len__() == 2
        # several faces may be enrolled when the caller chooses one
        enrol(gallery, "sheldon", [GALLERY_DATA / "bbt4.jpg"], face="largest")


def test_models_never_mix(db_url, fixture_embeddings, rng):
    with Gallery(db_url) as gallery:
        gallery.enrol("amy", embeddings=fixture_embeddings["amy1"])
        other = rng.normal(size=128).astype(np.float32)
        gallery.enrol("dlib-person", embeddings=other, model="dlib")
        assert gallery.identify(other, model="dlib", threshold=0.5)[0].identity == "dlib-person"
        result = gallery.identify(fixture_embeddings["amy1"], top_k=5)[0]
        assert [c.identity for c in result.candidates] == ["amy"]
        with pytest.raises(BadInputError):
            gallery.identify(other)  # a 128-d vector is not a mobilefacenet probe


def test_export_is_complete_json(db_url, fixture_embeddings):
    with Gallery(db_url) as gallery:
        gallery.enrol("penny", embeddings=np.stack([fixture_embeddings["penny1"], fixture_embeddings["penny2"]]),
                      metadata={"employee": "42"})
        data = json.loads(json.dumps(gallery.export("penny")))
    assert data["name"] == "penny" and data["metadata"] == {"employee": "42"}
    assert len(data["templates"]) == 2
    assert np.allclose(data["templates"][0]["embedding"], fixture_embeddings["penny1"], atol=1e-6)
    assert [e["event"] for e in data["audit"]] == ["enrol", "export"]


def test_retention_purge(db_url, fixture_embeddings):
    from datetime import timedelta

    from facelens.gallery.store import utcnow

    now = utcnow()
    with Gallery(db_url) as gallery:
        # a consent already past its expiry is refused at enrolment, so amy's runs out tomorrow
        gallery.enrol("amy", embeddings=fixture_embeddings["amy1"], consent=Consent(by="amy", expires=now + timedelta(days=1)))
        gallery.enrol("raj", embeddings=fixture_embeddings["raj1"], consent=Consent(by="raj", expires=now + timedelta(days=30)))
        gallery.enrol("penny", embeddings=fixture_embeddings["penny1"])
        dry = gallery.purge(dry_run=True, now=now + timedelta(days=2))
        assert dry["identities_consent_expired"] == ["amy"] and "amy" in gallery
        report = gallery.purge(now=now + timedelta(days=2))
        assert report["identities_consent_expired"] == ["amy"] and "amy" not in gallery
        assert gallery.identify(fixture_embeddings["amy1"])[0].identity is None
        # age: everything is "old" 31 days from now; raj is then also past consent
        later = gallery.purge(max_age_days=30, now=now + timedelta(days=31))
        assert later["identities_consent_expired"] == ["raj"] and later["identities_aged_out"] == ["penny"]
        assert gallery.list() == [] and len(gallery.index_for("mobilefacenet")) == 0
        assert gallery.audit.verify().ok


def test_mean_and_max_scoring(db_url, fixture_embeddings):
    with Gallery(db_url) as gallery:
        _enrol_all(gallery, fixture_embeddings)
        probe = fixture_embeddings["sheldon1"]
        best = gallery.identify(probe, scoring="max")[0]
        mean = gallery.identify(probe, scoring="mean")[0]
        both = np.stack([fixture_embeddings["sheldon1"], fixture_embeddings["sheldon2"]]) @ probe
        assert best.similarity == pytest.approx(both.max(), abs=1e-5)
        assert mean.similarity == pytest.approx(both.mean(), abs=1e-5)
        assert best.identity == mean.identity == "sheldon"

