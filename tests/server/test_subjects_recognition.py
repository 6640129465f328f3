"""Subjects (enrol, read, change, faces, export, erase, delete) and stateless recognition
(detect, embed, verify, identify, analyze) over HTTP on real faces."""

from __future__ import annotations

import json

from server_support import FACES, image


def enrol(client, name: str, *photos: str, **form) -> dict:
    response = client.post("/api/v1/subjects", data={"name": name, **form},
                           files=[("images", image(p)) for p in photos])
    assert response.status_code == 201, response.text
    return response.json()


def test_enrol_show_patch_and_list(operator, viewer):
    made = enrol(operator, "sr-obama", "obama.jpg", metadata=json.dumps({"team": "blue"}), consent_by="the subject",
                 consent_purpose="tests", consent_expires="2099-01-01", force="true")  # obama: enrolled by others too
    assert made.items() >= {"name": "sr-obama", "templates": 1, "models": ["mobilefacenet"]}.items()
    shown = viewer.get("/api/v1/subjects/sr-obama").json()
    assert shown["metadata"] == {"team": "blue"} and shown["consent"]["by"] == "the subject"
    assert shown["consent"]["expires"].startswith("2099-01-01") and len(shown["templates"]) == 1
    assert "embedding" not in shown["templates"][0]
    patched = operator.patch("/api/v1/subjects/sr-obama", json={"metadata": {"watchlist": "none", "team": "red"}})
    assert patched.status_code == 200 and patched.json()["metadata"] == {"team": "red", "watchlist": "none"}
    replaced = operator.patch("/api/v1/subjects/sr-obama", json={"metadata": {"a": "b"}, "replace_metadata": True})
    assert replaced.json()["metadata"] == {"a": "b"}
    assert operator.patch("/api/v1/subjects/sr-obama", json={}).status_code == 400
    assert operator.patch("/api/v1/subjects/nobody-x", json={"metadata": {}}).status_code == 404
    assert viewer.patch("/api/v1/subjects/sr-obama", json={"metadata": {}}).status_code == 403
    listed = viewer.get("/api/v1/subjects").json()
    assert {"name": "sr-obama", "templates": 1} .items() <= next(i for i in listed["identities"]
                                                               if i["name"] == "sr-obama").items()


def test_faces_add_list_delete(operator, viewer):
    enrol(operator, "sr-faces", "obama.jpg", force="true")
    added = operator.post("/api/v1/subjects/sr-faces/faces", data={"force": "true"}, files={"image": image("obama2.jpg")})
    assert added.status_code == 201 and added.json()["templates"] == 1
    faces = viewer.get("/api/v1/subjects/sr-faces/faces").json()["faces"]
    assert len(faces) == 2
    gone = operator.delete(f"/api/v1/faces/{faces[0]['id']}")
    assert gone.json() == {"id": faces[0]["id"], "name": "sr-faces", "removed": 1}
    assert [f["id"] for f in viewer.get("/api/v1/subjects/sr-faces/faces").json()["faces"]] == [faces[1]["id"]]
    assert operator.delete(f"/api/v1/faces/{faces[0]['id']}").status_code == 404
    assert operator.post("/api/v1/subjects/nobody-y/faces", files={"image": image("obama2.jpg")}).status_code == 404


def test_enrolment_integrity_409_names_the_photo_and_force_is_audited(operator, viewer, admin):
    crops = FACES.parent / "gallery"
    two_people = [("images", image("amy1.png", crops)), ("images", image("raj1.png", crops))]
    refused = operator.post("/api/v1/subjects", data={"name": "sr-mixed"}, files=two_people)
    assert refused.status_code == 409 and refused.json()["code"] == "conflict"
    assert "photo 2 (images[1]) does not match photo 1 (images[0])" in refused.json()["error"]
    assert viewer.get("/api/v1/subjects/sr-mixed").status_code == 404
    assert viewer.post("/api/v1/subjects", data={"name": "sr-mixed", "force": "true"}, files=two_people).status_code == 403
    forced = operator.post("/api/v1/subjects", data={"name": "sr-mixed", "force": "true"}, files=two_people)
    assert forced.status_code == 201 and forced.json()["overridden"][0]["source"] == "photo 2 (images[1])"
    trail = admin.get("/api/v1/audit", params={"subject": "sr-mixed"}).json()["entries"]
    assert [e["details"]["by"] for e in trail if e["event"] == "enrol.forced"] == ["api key operator"]
    forced = [e for e in trail if e["event"] == "enrol.forced"]  # the library's entry names the key
    assert [e["details"]["actor"] for e in forced] == [{"key": "operator", "role": "operator"}]
    assert not [e for e in trail if e["event"].startswith("api.")]  # no second entry beside it

    penny = [("images", image("penny1.png", crops))]
    assert operator.post("/api/v1/subjects", data={"name": "sr-penny-1"}, files=penny).status_code == 201
    twice = operator.post("/api/v1/subjects", data={"name": "sr-penny-2"}, files=penny)
    assert twice.status_code == 409 and "matches the enrolled identity 'sr-penny-1'" in twice.json()["error"]
    stranger = operator.post("/api/v1/subjects/sr-penny-1/faces", files={"image": image("raj2.png", crops)})
    assert stranger.status_code == 409 and "photo 1 (image) does not match the enrolled templates" in stranger.json()["error"]
    added = operator.post("/api/v1/subjects/sr-penny-1/faces", data={"force": "true"},
                          files={"image": image("raj2.png", crops)})
    assert added.status_code == 201 and added.json()["overridden"][0]["check"] == "agreement"


def test_identify_verify_detect_embed_analyze(operator, viewer):
    enrol(operator, "sr-known", "obama.jpg", force="true")
    found = viewer.post("/api/v1/identify", data={"top_k": "3"}, files={"image": image("obama2.jpg")}).json()
    assert found["image"] == "obama2.jpg" and found["model"] == "mobilefacenet" and found["threshold"] > 0
    best = found["faces"][0]
    assert best["identity"] in ("sr-known", "sr-obama", "sr-faces", "rv-obama", "cam-obama")  # obama, enrolled
    assert best["similarity"] >= found["threshold"] and len(best["candidates"]) <= 3
    stranger = viewer.post("/api/v1/identify", files={"image": image("bbt1.jpg")}).json()
    assert len(stranger["faces"]) == 4 and all(f["identity"] is None for f in stranger["faces"])
    same = viewer.post("/api/v1/verify", files={"a": image("obama.jpg"), "b": image("obama2.jpg")}).json()
    other = viewer.post("/api/v1/verify", files={"a": image("obama.jpg"), "b": image("biden.jpg")}).json()
    assert same["verified"] is True and other["verified"] is False and same["similarity"] > other["similarity"]
    detected = viewer.post("/api/v1/detect", files={"image": image("bbt4.jpg")}).json()
    assert len(detected["faces"]) == 6 and detected["width"] > 0
    tiled = viewer.post("/api/v1/detect", data={"tile_size": "auto"}, files={"image": image("bbt4.jpg")}).json()
    assert len(tiled["faces"]) == 6  # the library's auto rule, as `facelens detect --tile-size auto`
    bad_tiles = viewer.post("/api/v1/detect", data={"tile_size": "big"}, files={"image": image("bbt4.jpg")})
    assert bad_tiles.status_code == 400 and "tile_size" in bad_tiles.json()["error"]
    embedded = viewer.post("/api/v1/embed", files={"image": image("obama2.jpg")}).json()
    assert len(embedded["faces"][0]["embedding"]) == 192
    analyzed = viewer.post("/api/v1/analyze", data={"actions": "emotion,age"},
                           files={"image": image("obama.jpg")}).json()
    face = analyzed["faces"][0]
    assert face["emotion"]["label"] == "happy" and 20 < face["age"] < 70 and "gender" not in face
    chosen = viewer.post("/api/v1/analyze", data={"actions": "emotion", "emotion_model": "emotion_facelens_cnn"},
                         files={"image": image("obama.jpg")}).json()
    assert chosen["faces"][0]["emotion"]["model"] == "emotion_facelens_cnn"
    by_path = viewer.post("/api/v1/analyze", data={"emotion_model": "/etc/passwd"}, files={"image": image("obama.jpg")})
    assert by_path.status_code == 400 and "not a path" in by_path.json()["error"]


def test_export_erase_and_the_audit_trail(server, operator, admin):
    enrol(operator, "sr-erase", "biden.jpg", force="true")  # biden: also test_errors' dup-biden
    exported = operator.get("/api/v1/subjects/sr-erase/export").json()
    assert exported["format"] == "facelens-identity-export-v1" and len(exported["templates"][0]["embedding"]) == 192
    assert exported["alerts"] == [] and exported["sightings"] == [] and exported["negative_templates"] == []
    erased = operator.post("/api/v1/subjects/sr-erase/erase").json()
    assert erased == {"name": "sr-erase", "templates_removed": 1, "alerts_removed": 0, "sightings_removed": 0,
                      "negative_templates_removed": 0}
    assert operator.get("/api/v1/subjects/sr-erase").status_code == 404
    assert operator.post("/api/v1/subjects/sr-erase/erase").status_code == 404
    trail = admin.get("/api/v1/audit", params={"subject": "sr-erase"}).json()["entries"]
    events = [(e["event"], e["details"].get("actor", {}).get("key")) for e in trail]
    assert ("enrol", "operator") in events and ("export", "operator") in events
    assert ("erase.server_records", "operator") in events and ("delete", "operator") in events
    assert not [e for e, _ in events if e.startswith("api.")]  # one entry per change, not two
    assert admin.post("/api/v1/audit/verify").json()["ok"] is True
