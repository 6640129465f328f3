"""Door devices over HTTP: a liveness challenge drawn by the server, a check on real filmed
frames (tests/data/access/hamilton), and the door events it leaves."""

from __future__ import annotations

from pathlib import Path

import pytest
from server_support import DATA

ACCESS = DATA / "access"


def frames(count: int, start: int = 0) -> list[tuple[str, tuple[str, bytes, str]]]:
    paths = sorted((ACCESS / "hamilton").glob("*.jpg"))[start:start + count]
    return [("frames", (p.name, p.read_bytes(), "image/jpeg")) for p in paths]


@pytest.fixture(scope="module")
def lin(operator) -> str:
    photo = ACCESS / "enrol" / "lin-manuel-miranda.jpg"
    made = operator.post("/api/v1/subjects", data={"name": "ac-lin"},
                         files=[("images", (Path(photo).name, photo.read_bytes(), "image/jpeg"))])
    assert made.status_code == 201, made.text
    return "ac-lin"


def test_a_device_is_granted_at_a_door_without_active_liveness(lin, device, viewer):
    decision = device.post("/api/v1/access/check", data={"door": "lab", "claim": lin}, files=frames(8))
    assert decision.status_code == 200, decision.text
    body = decision.json()
    assert body["granted"] is True and body["identity"] == lin and body["door"] == "lab", body["reasons"]
    assert body["similarity"] >= body["threshold"] and body["audit_seq"] > 0
    walk_up = device.post("/api/v1/access/check", data={"door": "lab"}, files=frames(8)).json()
    assert walk_up["granted"] and walk_up["identity"] == lin
    impostor = device.post("/api/v1/access/check", data={"door": "lab", "claim": "sr-obama"}, files=frames(8)).json()
    assert impostor["granted"] is False and impostor["reasons"]
    events = viewer.get("/api/v1/access/events", params={"door": "lab", "subject": lin}).json()
    assert events["total"] >= 2 and events["events"][0]["door"] == "lab" and "face_image" not in events["events"][0]
    doors = {d["door"]: d for d in viewer.get("/api/v1/access/doors").json()["doors"]}
    assert doors["lab"]["liveness"] == "none" and doors["vault"]["challenges"] == ["turn_right"]


def test_active_liveness_needs_a_server_drawn_challenge(lin, device):
    refused = device.post("/api/v1/access/check", data={"door": "vault", "claim": lin}, files=frames(3))
    assert refused.status_code == 400 and "challenge" in refused.json()["error"]
    issued = device.post("/api/v1/access/challenge", json={"door": "vault"}).json()
    assert issued["challenge"] == "turn_right" and issued["active_liveness"] is True
    attempt = device.post("/api/v1/access/check", files=frames(3),
                          data={"door": "vault", "claim": lin, "challenge_id": issued["id"]})
    assert attempt.status_code == 200 and attempt.json()["liveness"]["challenge"] == "turn_right"
    reused = device.post("/api/v1/access/check", files=frames(3),
                         data={"door": "vault", "claim": lin, "challenge_id": issued["id"]})
    assert reused.status_code == 400 and "expired" in reused.json()["error"]  # one check per challenge
    other_door = device.post("/api/v1/access/challenge", json={"door": "vault"}).json()["id"]
    wrong = device.post("/api/v1/access/check", files=frames(3),
                        data={"door": "lab", "claim": lin, "challenge_id": other_door})
    assert wrong.status_code == 400 and "issued for door 'vault'" in wrong.json()["error"]


def test_access_check_input_errors(device, viewer):
    assert viewer.post("/api/v1/access/check", data={"door": "lab"}, files=frames(1)).status_code == 403
    notes = device.post("/api/v1/access/check", data={"door": "lab"}, files=[("frames", ("a.txt", b"x", "text/plain"))])
    assert notes.status_code == 415
    broken = device.post("/api/v1/access/check", data={"door": "lab"},
                         files=[("frames", ("f.jpg", b"\xff\xd8garbage", "image/jpeg"))])
    assert broken.status_code == 400 and broken.json()["code"] == "bad_input"
