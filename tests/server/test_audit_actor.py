"""Every change made through the API is ONE audit entry naming the key: the library's own entry
(enrol, export, delete, review …) carries the key as ``actor`` in its own transaction; a change the
library does not audit (starting a camera) gets one entry of its own. And an erased person's
entries never reach someone enrolled later under the same name."""

from __future__ import annotations

from server_support import image

OPERATOR = {"key": "operator", "role": "operator"}


def _total(admin) -> int:
    return admin.get("/api/v1/audit", params={"limit": 1}).json()["total"]


def _newest(admin) -> dict:
    return admin.get("/api/v1/audit", params={"limit": 1}).json()["entries"][0]


def _one_entry(admin, call, event: str, actor: dict = OPERATOR) -> dict:
    before = _total(admin)
    response = call()
    assert response.status_code < 300, response.text
    assert _total(admin) == before + 1, f"{event}: expected exactly one audit entry"
    entry = _newest(admin)
    assert entry["event"] == event and entry["details"]["actor"] == actor
    return response.json()


def test_each_mutating_call_writes_one_entry_with_the_key(server, operator, admin):
    photo = {"images": image("obama.jpg")}
    _one_entry(admin, lambda: operator.post("/api/v1/subjects", data={"name": "aa-one", "force": "true"}, files=photo),
               "enrol")
    _one_entry(admin, lambda: operator.patch("/api/v1/subjects/aa-one", json={"metadata": {"team": "x"}}),
               "identity.update")
    face = _one_entry(admin, lambda: operator.post("/api/v1/subjects/aa-one/faces", data={"force": "true"},
                                                   files={"image": image("obama2.jpg")}), "enrol.add")
    faces = operator.get("/api/v1/subjects/aa-one/faces").json()["faces"]
    assert face["templates"] == 1 and len(faces) == 2
    _one_entry(admin, lambda: operator.delete(f"/api/v1/faces/{faces[-1]['id']}"), "purge.templates")
    _one_entry(admin, lambda: operator.get("/api/v1/subjects/aa-one/export"), "export")
    _one_entry(admin, lambda: operator.post("/api/v1/cameras/ghost/stop"), "camera.stop")
    _one_entry(admin, lambda: operator.post("/api/v1/cameras/ghost/start"), "camera.start")
    _one_entry(admin, lambda: admin.post("/api/v1/keys", json={"name": "aa-key", "role": "viewer"}), "key.create",
               {"key": "admin", "role": "admin"})
    _one_entry(admin, lambda: operator.delete("/api/v1/subjects/aa-one"), "delete")
    assert admin.post("/api/v1/audit/verify").json()["ok"] is True


def test_a_name_enrolled_again_never_exports_the_erased_persons_entries(operator, admin):
    first = operator.post("/api/v1/subjects", data={"name": "aa-again", "force": "true"},
                          files={"images": image("biden.jpg")})
    assert first.status_code == 201
    assert operator.get("/api/v1/subjects/aa-again/export").status_code == 200
    assert operator.post("/api/v1/subjects/aa-again/erase").status_code == 200
    erased = admin.get("/api/v1/audit", params={"subject": "aa-again"}).json()["entries"]
    assert {e["event"] for e in erased} >= {"enrol", "export", "erase.server_records", "delete"}
    assert all(e["subject"].startswith("pseudonym:") for e in erased)

    again = operator.post("/api/v1/subjects", data={"name": "aa-again", "force": "true"},
                          files={"images": image("obama.jpg")})
    assert again.status_code == 201
    exported = operator.get("/api/v1/subjects/aa-again/export").json()
    assert [e["event"] for e in exported["audit"]] == ["enrol", "export"]
    assert all(e["subject"] == "aa-again" for e in exported["audit"])
    listed = admin.get("/api/v1/audit", params={"subject": "aa-again"}).json()["entries"]
    assert [e["event"] for e in listed] == ["export", "enrol"]  # newest first; nothing of the erased one
    assert admin.post("/api/v1/audit/verify").json()["ok"] is True
