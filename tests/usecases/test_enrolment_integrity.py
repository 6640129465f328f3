"""Enrolment integrity on real faces: the photos of one enrolment must show one person, who must
not already be enrolled under another name — else refused naming the photo, unless forced
(and then audited)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from facelens.errors import BadInputError, ConflictError
from facelens.gallery import Gallery
from facelens.match.enrolment_checks import AGREEMENT_POINT, EnrolmentRefused, disagreeing_photos
from facelens.match.thresholds import identification_threshold, verification_threshold
from facelens.usecases.enrolment import enrol, enrol_folders, templates_from_images


@pytest.fixture
def gallery(tmp_path, isolated_env):
    with Gallery(tmp_path / "people.db") as g:
        yield g


@pytest.fixture
def faces(data_dir):
    return data_dir / "faces"


def test_two_people_in_one_enrolment_are_refused_naming_the_photo(gallery, faces):
    with pytest.raises(EnrolmentRefused) as refused:
        enrol(gallery, "obama", [faces / "obama.jpg", faces / "biden.jpg"])
    assert isinstance(refused.value, ConflictError) and refused.value.exit_code == 9
    (finding,) = refused.value.findings  # one pair, one finding: the later photo is named
    assert finding.check == "agreement" and finding.photo == "photo 2 (biden.jpg)"
    assert finding.similarity < finding.threshold == verification_threshold("mobilefacenet", AGREEMENT_POINT)[0]
    assert "photo 2 (biden.jpg) does not match photo 1 (obama.jpg)" in str(refused.value)
    assert gallery.list() == [] and gallery.audit.entries() == []  # nothing written, nothing audited


def test_forcing_enrols_and_audits_what_was_overridden(gallery, faces):
    result = enrol(gallery, "obama", [faces / "obama.jpg", faces / "biden.jpg"], force=True, by="tester")
    assert result["templates"] == 2 and [f["source"] for f in result["overridden"]] == ["photo 2 (biden.jpg)"]
    enrolled, forced = gallery.audit.entries(subject="obama")
    assert enrolled.event == "enrol" and forced.event == "enrol.forced"
    assert forced.details["by"] == "tester"
    (overridden,) = forced.details["overridden"]
    assert overridden["check"] == "agreement" and overridden["source"] == "photo 2 (biden.jpg)"
    assert overridden["similarity"] < overridden["threshold"]
    assert gallery.audit.verify().ok
    # force with nothing to override writes no enrol.forced entry
    enrol(gallery, "joe", [faces / "biden.jpg"], force=True, by="tester")  # joe = biden: a duplicate of obama's 2nd
    assert gallery.audit.entries(subject="joe")[-1].details["overridden"][0]["duplicate_of"] == "obama"
    enrol(gallery, "sheldon", [faces.parent / "gallery" / "sheldon1.png"], force=True)
    assert [e.event for e in gallery.audit.entries(subject="sheldon")] == ["enrol"]


def test_the_stranger_among_several_photos_is_the_one_named(gallery, faces):
    with pytest.raises(EnrolmentRefused) as refused:
        enrol(gallery, "obama", [faces / "obama.jpg", faces / "biden.jpg", faces / "obama2.jpg"])
    assert [f.photo for f in refused.value.findings] == ["photo 2 (biden.jpg)"]
    assert "does not match the other photos of this enrolment" in str(refused.value)
    assert enrol(gallery, "obama", [faces / "obama.jpg", faces / "obama2.jpg"])["templates"] == 2


def test_two_and_two_photos_of_two_people_are_refused(gallery, data_dir):
    crops = data_dir / "gallery"
    with pytest.raises(EnrolmentRefused) as refused:
        enrol(gallery, "amy", [crops / "amy1.png", crops / "amy2.png", crops / "raj1.png", crops / "raj2.png"])
    assert len(refused.value.findings) == 4  # each photo has as many strangers as look-alikes


def test_a_face_enrolled_under_another_name_is_a_likely_duplicate(gallery, faces):
    enrol(gallery, "obama", [faces / "obama.jpg"])
    with pytest.raises(EnrolmentRefused) as refused:
        enrol(gallery, "barack", [faces / "obama2.jpg"])
    (finding,) = refused.value.findings
    assert finding.check == "duplicate" and finding.duplicate_of == "obama" and finding.photo == "photo 1 (obama2.jpg)"
    assert finding.similarity >= finding.threshold == identification_threshold("mobilefacenet")[0]
    assert "matches the enrolled identity 'obama'" in str(refused.value) and "barack" not in gallery
    forced = enrol(gallery, "barack", [faces / "obama2.jpg"], force=True)
    assert forced["overridden"][0]["duplicate_of"] == "obama"
    assert gallery.audit.entries(event="enrol.forced")[0].details["overridden"][0]["duplicate_of"] == "obama"
    # a new person is no duplicate; the same name again is the gallery's own conflict, not a duplicate
    assert enrol(gallery, "biden", [faces / "biden.jpg"])["templates"] == 1
    with pytest.raises(ConflictError, match="already exists") as again:
        enrol(gallery, "obama", [faces / "obama2.jpg"])
    assert not isinstance(again.value, EnrolmentRefused)


def test_added_photos_must_match_the_stored_templates(gallery, faces):
    enrol(gallery, "obama", [faces / "obama.jpg"])
    enrol(gallery, "biden", [faces / "biden.jpg"])
    with pytest.raises(EnrolmentRefused) as refused:
        enrol(gallery, "obama", [faces / "biden.jpg"], add=True)
    (finding,) = refused.value.findings
    assert finding.photo == "photo 1 (biden.jpg)" and "the enrolled templates of 'obama'" in str(refused.value)
    assert len(gallery.show("obama")["templates"]) == 1
    assert enrol(gallery, "obama", [faces / "obama2.jpg"], add=True)["templates"] == 1  # itself is no duplicate
    vector = templates_from_images([faces / "biden.jpg"])[0].vector  # precomputed embeddings are checked too
    with pytest.raises(EnrolmentRefused, match="embedding does not match"):
        enrol(gallery, "obama", embeddings=vector, add=True)
    assert len(gallery.show("obama")["templates"]) == 2


def test_labels_name_uploaded_photos_and_bad_sizes_are_bad_input(gallery, faces):
    data = [(faces / p).read_bytes() for p in ("obama.jpg", "biden.jpg")]
    with pytest.raises(EnrolmentRefused, match=r"photo 2 \(images\[1\]\)"):
        enrol(gallery, "obama", data, labels=["images[0]", "images[1]"])
    with pytest.raises(EnrolmentRefused, match=r"photo 2 does not match photo 1"):
        enrol(gallery, "obama", data)
    with pytest.raises(BadInputError, match="labels"):
        enrol(gallery, "obama", data, labels=["one"])
    with pytest.raises(BadInputError, match="different sizes"):
        enrol(gallery, "obama", [faces / "obama.jpg"], embeddings=np.ones(64))
    assert gallery.list() == []


def test_median_agreement_on_real_crops(data_dir):
    """The pure check: same person 2 + 1 passes, a third person's crop is named."""
    crops = data_dir / "gallery"
    rows = np.stack([t.vector for t in templates_from_images(
        [crops / "penny1.png", crops / "penny2.png", crops / "leonard1.png"])])
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    threshold = verification_threshold("mobilefacenet", AGREEMENT_POINT)
    assert disagreeing_photos(rows[:2], ["a", "b"], threshold) == []
    assert [f.photo for f in disagreeing_photos(rows, ["a", "b", "c"], threshold)] == ["c"]
    (against_stored,) = disagreeing_photos(rows[2:], ["c"], threshold, stored=rows[:2], identity="penny")
    assert against_stored.reference == "the enrolled templates of 'penny'"


def test_folders_that_disagree_or_duplicate_are_reported_not_enrolled(gallery, faces, data_dir, tmp_path):
    enrol(gallery, "obama", [faces / "obama.jpg"])
    root = tmp_path / "people"
    folders = {"barack": [faces / "obama2.jpg"], "joe": [faces / "biden.jpg"], "joseph": [faces / "biden.jpg"],
               "mixed": [faces / "biden.jpg", faces / "obama.jpg"],
               "sheldon": [data_dir / "gallery" / "sheldon1.png", data_dir / "gallery" / "sheldon2.png"]}
    for person, photos in folders.items():
        (root / person).mkdir(parents=True)
        for photo in photos:
            shutil.copy(photo, root / person / photo.name)
    summary = enrol_folders(gallery, root)
    assert summary["enrolled"] == ["joe", "sheldon"] and summary["forced"] == []
    refused = {item["name"]: item for item in summary["refused"]}
    assert set(refused) == {"barack", "joseph", "mixed"}
    assert refused["barack"]["findings"][0]["duplicate_of"] == "obama"
    assert refused["joseph"]["findings"][0]["duplicate_of"] == "joe"  # enrolled earlier in the same run
    assert refused["mixed"]["findings"][0]["check"] == "agreement"
    assert "photo 2 (obama.jpg) does not match photo 1 (biden.jpg)" in refused["mixed"]["error"]
    assert sorted(p["name"] for p in gallery.list()) == ["joe", "obama", "sheldon"]

    again = enrol_folders(gallery, root, force=True, by="tester")  # resumable: only the refused remain
    assert again["skipped_existing"] == ["joe", "sheldon"] and again["enrolled"] == ["barack", "joseph", "mixed"]
    assert [item["name"] for item in again["forced"]] == ["barack", "joseph", "mixed"] and again["refused"] == []
    forced = gallery.audit.entries(event="enrol.forced")
    assert [(e.subject, e.details["by"]) for e in forced] == [("barack", "tester"), ("joseph", "tester"),
                                                              ("mixed", "tester")]
