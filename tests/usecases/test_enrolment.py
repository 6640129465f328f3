"""Enrolment use cases: real photos → templates in the gallery, one person or a folder of folders."""

from __future__ import annotations

import shutil

import cv2
import numpy as np
import pytest

from facelens.errors import BadInputError, MultipleFacesError
from facelens.gallery import Consent, Gallery
from facelens.usecases.enrolment import enrol, enrol_folders, person_folders, templates_from_images


@pytest.fixture
def gallery(tmp_path, isolated_env):
    with Gallery(tmp_path / "people.db") as g:
        yield g


def test_enrol_from_images_records_quality_and_keeps_crops_only_when_asked(gallery, data_dir):
    faces = data_dir / "gallery"
    result = enrol(gallery, "sheldon", [faces / "sheldon1.png", faces / "sheldon2.png"], metadata={"team": "physics"},
                   consent=Consent(by="sheldon", purpose="test"), keep_images=True)
    assert result == {"name": "sheldon", "templates": 2, "models": ["mobilefacenet"]}
    info = gallery.show("sheldon")
    assert info["metadata"] == {"team": "physics"} and info["consent"]["by"] == "sheldon"
    first = info["templates"][0]
    assert first["source"] == str(faces / "sheldon1.png") and first["has_image"]
    assert first["model_version"] not in ("", "unknown") and 0.5 < first["quality"] <= 1.0
    assert first["quality_detail"]["detector_score"] == round(first["quality"], 4)
    assert "problems" in first["quality_detail"]
    enrol(gallery, "amy", [faces / "amy1.png"])
    assert not gallery.show("amy")["templates"][0]["has_image"]  # no crop unless asked (privacy)


def test_add_and_precomputed_embeddings(gallery, data_dir):
    faces = data_dir / "gallery"
    enrol(gallery, "raj", [faces / "raj1.png"])
    vector = templates_from_images([faces / "raj2.png"])[0].vector
    assert enrol(gallery, "raj", embeddings=vector, add=True)["templates"] == 1
    assert [t["source"] for t in gallery.show("raj")["templates"]] == [str(faces / "raj1.png"), "embedding"]


def test_refusals_write_nothing(gallery, data_dir):
    faces = data_dir / "gallery"
    with pytest.raises(MultipleFacesError):  # bbt4.jpg shows six people
        enrol(gallery, "group", [faces / "penny1.png", faces / "bbt4.jpg"])
    with pytest.raises(BadInputError, match="non-empty"):
        enrol(gallery, "  ", [faces / "penny1.png"])
    with pytest.raises(BadInputError, match="nothing to enrol"):
        enrol(gallery, "penny")
    assert gallery.list() == [] and gallery.audit.entries(event="enrol") == []
    assert enrol(gallery, "one-of-six", [faces / "bbt4.jpg"], face="largest")["templates"] == 1


def test_folders_are_enrolled_resumably(gallery, data_dir, tmp_path):
    faces, root = data_dir / "gallery", tmp_path / "people"
    for person, images in {"amy": ["amy1.png", "amy2.png"], "raj": ["raj1.png", "bbt4.jpg"],
                           "nobody": []}.items():
        (root / person).mkdir(parents=True)
        for image in images:
            shutil.copy(faces / image, root / person / image)
    cv2.imwrite(str(root / "nobody" / "wall.png"), np.full((200, 200, 3), 127, np.uint8))
    (root / "amy" / "notes.txt").write_text("not an image")
    seen = []
    summary = enrol_folders(gallery, root, on_person=seen.append)
    assert seen == ["amy", "nobody", "raj"]
    assert summary["enrolled"] == ["amy", "raj"] and summary["no_usable_image"] == ["nobody"]
    assert summary["skipped_existing"] == []
    assert [e["image"] for e in summary["image_errors"]] == [str(root / "nobody" / "wall.png"), str(root / "raj" / "bbt4.jpg")]
    assert {p["name"]: p["templates"] for p in gallery.list()} == {"amy": 2, "raj": 1}
    again = enrol_folders(gallery, root)  # an interrupted run is simply re-run
    assert again["skipped_existing"] == ["amy", "raj"] and again["enrolled"] == []


def test_folder_refusals(tmp_path):
    with pytest.raises(BadInputError, match="not a folder"):
        person_folders(tmp_path / "missing")
    with pytest.raises(BadInputError, match="no sub-folders"):
        person_folders(tmp_path)
