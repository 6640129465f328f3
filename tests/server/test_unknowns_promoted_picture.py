"""A person promoted from the unknown faces keeps their pictures (the unknown alerts' snapshots)
as face images, so the dashboard can show them — over HTTP, on the real server of conftest.py.

The unknown faces come from the "strangers" camera: real face photos moving through
tests/data/video/corridor.mp4 (see tests/data/PROVENANCE.md), watched with an empty watchlist.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from server_support import wait_until

import facelens

NAME = "pictured-stranger"


def pictured_clusters(viewer) -> list[dict]:
    clusters = viewer.get("/api/v1/unknowns/clusters", params={"min_size": 1}).json()["clusters"]
    return [c for c in clusters if c["picture_ids"]]


@pytest.fixture(scope="module")
def pictured(operator, viewer) -> dict:
    """A cluster of unknown faces with pictures: the strangers camera's, watched now if the
    other modules' tests have promoted (or never recorded) them."""
    if not pictured_clusters(viewer):
        before = operator.get("/api/v1/cameras/strangers").json()["unknown_faces_recorded"]
        assert operator.post("/api/v1/cameras/strangers/start").status_code == 200

        def watched() -> bool:
            camera = operator.get("/api/v1/cameras/strangers").json()
            return camera["state"] == "finished" and camera["unknown_faces_recorded"] > before

        wait_until(watched, 120, 0.3, "the strangers camera to watch its clip")
    clusters = pictured_clusters(viewer)
    assert clusters
    return clusters[0]


@pytest.fixture
def promoted_name(operator):
    yield NAME
    operator.delete(f"/api/v1/subjects/{NAME}")  # the other modules' identify tests never meet them


def decoded(jpeg: bytes) -> np.ndarray:
    assert jpeg[:3] == b"\xff\xd8\xff"
    pixels = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert pixels is not None
    return pixels


def test_promoted_person_shows_the_unknown_faces_pictures(pictured, operator, viewer, promoted_name):
    pictures = {i: viewer.get(f"/api/v1/unknowns/{i}/image.jpg") for i in pictured["picture_ids"]}
    assert all(r.status_code == 200 for r in pictures.values())

    promoted = operator.post("/api/v1/unknowns/promote",
                             json={"unknown_ids": pictured["unknown_ids"], "name": promoted_name})
    assert promoted.status_code == 201, promoted.text
    assert promoted.json()["templates"] == pictured["size"]

    templates = viewer.get(f"/api/v1/subjects/{promoted_name}/faces").json()["faces"]
    by_unknown = {int(t["source"].removeprefix("unknown:")): t for t in templates}
    assert set(by_unknown) == set(pictured["unknown_ids"])
    for unknown_id, before in pictures.items():
        template = by_unknown[unknown_id]
        assert template["has_image"]
        face = viewer.get(f"/api/v1/faces/{template['id']}/image.jpg")
        assert face.status_code == 200 and face.headers["content-type"] == "image/jpeg"
        assert face.content == before.content  # the very picture the unknowns page showed
        assert len(facelens.detect(decoded(face.content))) >= 1  # a face, not an empty frame

    thumbnail = viewer.get(f"/api/v1/subjects/{promoted_name}/thumbnail.jpg", params={"size": 64})
    assert thumbnail.status_code == 200 and thumbnail.headers["content-type"] == "image/jpeg"
    assert max(decoded(thumbnail.content).shape[:2]) <= 64
    # the pictures went with the faces: they are no longer unknown, so no longer pictured there
    assert viewer.get(f"/api/v1/unknowns/{pictured['picture_ids'][0]}/image.jpg").status_code == 404
