"""The routes the dashboard needs, over HTTP on real faces: who am I, the subject list's search
and pages, face images and thumbnails, strict photo quality, and the unknown faces a camera
records — clustered, pictured by their alert's snapshot, promoted to a person."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from server_support import FACES, ROLES, image, wait_until

JPEG = b"\xff\xd8"


def jpeg_pixels(data: bytes) -> np.ndarray:
    assert data[:2] == JPEG
    pixels = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert pixels is not None
    return pixels


def degraded(name: str, *, blur: int = 0, scale: float = 1.0) -> tuple[str, bytes, str]:
    """A real face photo made blurred or tiny (an upload tuple)."""
    pixels = cv2.imread(str(FACES / name))
    if blur:
        pixels = cv2.GaussianBlur(pixels, (blur, blur), 0)
    if scale != 1.0:
        pixels = cv2.resize(pixels, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return f"poor-{name}", cv2.imencode(".jpg", pixels)[1].tobytes(), "image/jpeg"


@pytest.fixture
def made(operator):
    """Names of subjects a test creates: deleted afterwards, so that the other modules' identify
    and review tests (same server) never meet these copies of obama and biden."""
    names: list[str] = []
    yield names
    for name in names:
        operator.delete(f"/api/v1/subjects/{name}")


def enrol(client, name: str, photo, **form):
    upload = image(photo) if isinstance(photo, str) else photo
    return client.post("/api/v1/subjects", data={"name": name, "force": "true", **form}, files={"images": upload})


# ---------------------------------------------------------------- who am I


@pytest.mark.parametrize("role", ROLES)
def test_me_names_the_key_and_its_role(server, role):
    with server.client(role) as client:
        assert client.get("/api/v1/me").json() == {"name": role, "role": role}


# ---------------------------------------------------------------- search and pages


def test_subject_search_and_pages_are_the_servers(operator, viewer, made):
    made += ["pg-Alpha", "pg-alphonse", "pg-beta"]
    for name in made:
        assert enrol(operator, name, "biden.jpg").status_code == 201
    found = viewer.get("/api/v1/subjects", params={"q": "PG-ALPH"}).json()
    assert [p["name"] for p in found["identities"]] == ["pg-Alpha", "pg-alphonse"] and found["total"] == 2
    assert found["identities"][0]["templates"] == 1
    page = viewer.get("/api/v1/subjects", params={"q": "pg-", "limit": 2, "offset": 1}).json()
    assert [p["name"] for p in page["identities"]] == ["pg-alphonse", "pg-beta"]
    assert (page["total"], page["limit"], page["offset"]) == (3, 2, 1)
    # LIKE's wildcards are searched for as text, not as patterns
    assert viewer.get("/api/v1/subjects", params={"q": "pg-%"}).json()["total"] == 0
    assert viewer.get("/api/v1/subjects", params={"q": "pg_"}).json()["total"] == 0
    everyone = viewer.get("/api/v1/subjects").json()
    assert everyone["total"] == len(everyone["identities"]) >= 3


# ---------------------------------------------------------------- face images


def test_face_images_and_thumbnails_are_served_when_kept(operator, viewer, device, made):
    made += ["img-kept", "img-none"]
    assert enrol(operator, "img-kept", "obama.jpg").status_code == 201  # the server keeps crops by default
    face = viewer.get("/api/v1/subjects/img-kept").json()["templates"][0]
    assert face["has_image"] is True
    full = viewer.get(f"/api/v1/faces/{face['id']}/image.jpg")
    assert full.status_code == 200 and full.headers["content-type"] == "image/jpeg"
    assert full.headers["cache-control"] == "no-store"
    crop = jpeg_pixels(full.content)
    assert 200 < crop.shape[0] < 1137 and 200 < crop.shape[1] < 910  # the face box, not the photo
    thumbnail = jpeg_pixels(viewer.get("/api/v1/subjects/img-kept/thumbnail.jpg").content)
    assert abs(max(thumbnail.shape[:2]) - 160) <= 1
    assert max(jpeg_pixels(viewer.get(f"/api/v1/faces/{face['id']}/image.jpg", params={"size": 64}).content).shape[:2]) in (63, 64)
    # the crop shows the enrolled face: it is found again, and it is obama
    found = viewer.post("/api/v1/identify", files={"image": ("crop.jpg", full.content, "image/jpeg")}).json()
    assert found["faces"] and found["faces"][0]["similarity"] > 0.6

    assert enrol(operator, "img-none", "biden.jpg", keep_images="false").status_code == 201
    none = viewer.get("/api/v1/subjects/img-none").json()["templates"][0]
    assert none["has_image"] is False
    missing = viewer.get(f"/api/v1/faces/{none['id']}/image.jpg")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    assert viewer.get("/api/v1/subjects/img-none/thumbnail.jpg").status_code == 404
    assert viewer.get("/api/v1/subjects/nobody-z/thumbnail.jpg").status_code == 404
    assert viewer.get("/api/v1/faces/99999999/image.jpg").status_code == 404
    assert device.get(f"/api/v1/faces/{face['id']}/image.jpg").status_code == 403


# ---------------------------------------------------------------- strict quality


def test_strict_enrolment_refuses_poor_photos_with_the_reason(operator, viewer, made):
    made += ["q-blurred", "q-tiny"]
    blurred = degraded("obama.jpg", blur=41)
    refused = enrol(operator, "q-blurred", blurred, strict="true")
    assert refused.status_code == 422 and refused.json()["code"] == "poor_quality"
    assert "images[0] (poor-obama.jpg): blurred (sharpness" in refused.json()["error"]
    assert viewer.get("/api/v1/subjects/q-blurred").status_code == 404  # nothing stored

    tiny = enrol(operator, "q-tiny", degraded("obama.jpg", scale=0.15), strict="true")
    assert tiny.status_code == 422 and "face too small" in tiny.json()["error"]

    # without strict the same photo is taken, its problems recorded with the template
    assert enrol(operator, "q-blurred", blurred).status_code == 201
    detail = viewer.get("/api/v1/subjects/q-blurred").json()["templates"][0]["quality_detail"]
    assert any(p.startswith("blurred") for p in detail["problems"])

    # adding a face: the same rule; a good photo passes
    added = operator.post("/api/v1/subjects/q-blurred/faces", data={"strict": "true", "force": "true"},
                          files={"image": degraded("obama2.jpg", blur=41)})
    assert added.status_code == 422 and "image (poor-obama2.jpg): blurred" in added.json()["error"]
    good = operator.post("/api/v1/subjects/q-blurred/faces", data={"strict": "true", "force": "true"},
                         files={"image": image("obama2.jpg")})
    assert good.status_code == 201, good.text


# ---------------------------------------------------------------- unknown faces


@pytest.fixture(scope="module")
def strangers(operator):
    """The corridor clip watched by a camera whose watchlist is empty: everyone is unknown."""
    assert operator.post("/api/v1/cameras/strangers/start").status_code == 200
    wait_until(lambda: operator.get("/api/v1/cameras/strangers").json()["state"] == "finished", 120, 0.3,
               "the strangers camera to watch its clip")
    return operator.get("/api/v1/cameras/strangers").json()


def test_camera_records_unknown_faces_and_they_cluster_with_pictures(strangers, viewer):
    assert strangers["unknown_faces_recorded"] >= 2 and strangers["error"] is None
    unknown_alerts = viewer.get("/api/v1/alerts", params={"camera": "strangers", "kind": "unknown"}).json()
    assert unknown_alerts["total"] == strangers["unknown_faces_recorded"]  # one alert per unknown track
    found = viewer.get("/api/v1/unknowns/clusters", params={"min_size": 1}).json()
    assert found["method"] == "dbscan" and found["min_size"] == 1
    clusters = found["clusters"]
    members = [i for c in clusters for i in c["unknown_ids"]]
    assert len(members) >= strangers["unknown_faces_recorded"] and len(set(members)) == len(members)
    pictured = [c for c in clusters if c["picture_ids"]]
    assert pictured, clusters
    picture = viewer.get(f"/api/v1/unknowns/{pictured[0]['picture_ids'][0]}/image.jpg")
    assert picture.status_code == 200 and picture.headers["content-type"] == "image/jpeg"
    assert jpeg_pixels(picture.content).shape[0] >= 32
    assert viewer.get("/api/v1/unknowns/99999999/image.jpg").status_code == 404
    # the default (two faces or more per cluster) only groups faces that look alike
    assert all(c["size"] >= 2 for c in viewer.get("/api/v1/unknowns/clusters").json()["clusters"])


def test_promoting_a_cluster_makes_a_person_and_is_audited(strangers, operator, viewer, made):
    made += ["stranger-one"]
    clusters = viewer.get("/api/v1/unknowns/clusters", params={"min_size": 1}).json()["clusters"]
    chosen = clusters[0]
    promoted = operator.post("/api/v1/unknowns/promote", json={"cluster": 0, "min_size": 1, "name": "stranger-one",
                                                               "metadata": {"team": "night"}})
    assert promoted.status_code == 201, promoted.text
    body = promoted.json()
    assert body["name"] == "stranger-one" and body["templates"] == chosen["size"]
    assert body["unknown_ids"] == chosen["unknown_ids"]
    person = viewer.get("/api/v1/subjects/stranger-one").json()
    assert person["metadata"]["team"] == "night" and len(person["templates"]) == chosen["size"]
    left = [i for c in viewer.get("/api/v1/unknowns/clusters", params={"min_size": 1}).json()["clusters"]
            for i in c["unknown_ids"]]
    assert not set(chosen["unknown_ids"]) & set(left)
    trail = operator.get("/api/v1/audit", params={"subject": "stranger-one"}).json()["entries"]
    assert {e["event"] for e in trail} == {"enrol", "cluster.promote"}  # the library's entries, no api.* beside
    assert all(e["details"]["actor"] == {"key": "operator", "role": "operator"} for e in trail)

    again = operator.post("/api/v1/unknowns/promote", json={"unknown_ids": chosen["unknown_ids"], "name": "stranger-two"})
    assert again.status_code == 404 and again.json()["code"] == "not_found"
    if left:
        taken = operator.post("/api/v1/unknowns/promote", json={"unknown_ids": left[:1], "name": "stranger-one"})
        assert taken.status_code == 409
    both = operator.post("/api/v1/unknowns/promote", json={"cluster": 0, "unknown_ids": [1], "name": "x"})
    assert both.status_code == 422 and "either cluster or unknown_ids" in both.json()["error"]
    assert viewer.post("/api/v1/unknowns/promote", json={"cluster": 0, "name": "x"}).status_code == 403
