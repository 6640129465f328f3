"""Alert review feeds back into matching: after `wrong_person` the same stranger's photo no
longer alerts, the real person still does, and reverting the review brings the old behaviour
back. End to end: a device pushes real photos to the "door" push camera (watchlist "vip",
deliberately permissive threshold -1.0, so biden is first mistaken for the only vip: obama)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from server_support import image, wait_until

from facelens.feedback import filter_candidates, suppressed


def door_alerts(client) -> list[dict]:
    return client.get("/api/v1/alerts", params={"camera": "door", "limit": 1000}).json()["alerts"]


def push_session(operator, device, photo: str, frames: int = 6) -> list[dict]:
    """Start the door camera, push ``frames`` copies of ``photo``, stop it (the tracks end):
    the alerts this session raised. A fresh start gives a fresh tracker, so a new alert can only
    be held back by the negative templates, not by the per-track de-duplication."""
    before = {a["id"] for a in door_alerts(operator)}
    operator.post("/api/v1/cameras/door/start")
    wait_until(lambda: operator.get("/api/v1/cameras/door").json()["state"] == "running", 20, what="door running")
    start = operator.get("/api/v1/cameras/door").json()["frames"]
    for _ in range(frames):
        response = wait_until(lambda: (r := device.post("/api/v1/cameras/door/frames", files={"image": image(photo)}))
                              .status_code != 503 and r, 30, 0.2, "room in the push queue")
        assert response.status_code == 202, response.text
    wait_until(lambda: operator.get("/api/v1/cameras/door").json()["frames"] >= start + frames, 60, 0.1,
               "the pushed frames to be watched")
    assert operator.post("/api/v1/cameras/door/stop").json()["state"] == "stopped"
    return [a for a in door_alerts(operator) if a["id"] not in before]


@pytest.fixture(scope="module")
def vip(operator):
    made = operator.post("/api/v1/subjects", data={"name": "rv-obama", "metadata": json.dumps({"watchlist": "vip"}),
                                                   "force": "true"},  # obama may be enrolled by another module
                         files=[("images", image("obama.jpg"))])
    assert made.status_code == 201, made.text
    return "rv-obama"


def test_wrong_person_review_stops_the_same_stranger_and_can_be_reverted(vip, operator, device, viewer):
    first = push_session(operator, device, "biden.jpg")
    assert [(a["kind"], a["identity"]) for a in first] == [("match", vip)]  # mistaken, as set up
    alert = first[0]
    assert viewer.post(f"/api/v1/alerts/{alert['id']}/review", json={"status": "wrong_person"}).status_code == 403

    reviewed = operator.post(f"/api/v1/alerts/{alert['id']}/review", json={"status": "wrong_person", "note": "biden"})
    assert reviewed.status_code == 200, reviewed.text
    body = reviewed.json()
    assert body["status"] == "wrong_person" and body["reviewed_by"] == "operator" and body["review_note"] == "biden"
    assert body["feedback"] == {"negative_template_added": True, "negative_templates_removed": 0}
    negatives = viewer.get(f"/api/v1/subjects/{vip}/negatives").json()["negatives"]
    assert [n["origin"] for n in negatives] == [f"alert:{alert['id']}"]

    assert push_session(operator, device, "biden.jpg") == []  # the same stranger: no alert any more
    real = push_session(operator, device, "obama2.jpg")  # the guard: the real person still alerts
    assert [(a["kind"], a["identity"]) for a in real] == [("match", vip)]

    reverted = operator.delete(f"/api/v1/alerts/{alert['id']}/review").json()
    assert reverted["status"] == "new" and reverted["feedback"]["negative_templates_removed"] == 1
    assert viewer.get(f"/api/v1/subjects/{vip}/negatives").json()["negatives"] == []
    again = push_session(operator, device, "biden.jpg")
    assert [a["identity"] for a in again] == [vip]  # reversible: the stranger is mistaken again


def test_review_status_changes_and_their_audit(vip, operator, admin):
    alert = door_alerts(operator)[0]
    wrong = operator.post(f"/api/v1/alerts/{alert['id']}/review", json={"status": "wrong_person"}).json()
    assert wrong["feedback"]["negative_template_added"] is True
    again = operator.post(f"/api/v1/alerts/{alert['id']}/review", json={"status": "wrong_person"}).json()
    assert again["feedback"]["negative_template_added"] is False  # one negative per alert
    confirmed = operator.post(f"/api/v1/alerts/{alert['id']}/review", json={"status": "confirmed"}).json()
    assert confirmed["status"] == "confirmed" and confirmed["feedback"]["negative_templates_removed"] == 1
    dismissed = operator.post(f"/api/v1/alerts/{alert['id']}/review", json={"status": "dismissed"})
    assert dismissed.json()["status"] == "dismissed"
    assert operator.post(f"/api/v1/alerts/{alert['id']}/review", json={"status": "maybe"}).status_code == 422
    assert operator.post("/api/v1/alerts/nope/review", json={"status": "confirmed"}).status_code == 404
    trail = admin.get("/api/v1/audit", params={"subject": vip, "event": "alert.review"}).json()["entries"]
    assert [e["details"]["status"] for e in trail][:3] == ["dismissed", "confirmed", "wrong_person"]
    added = admin.get("/api/v1/audit", params={"event": "feedback.negative.add"}).json()["entries"]
    assert added and added[0]["details"]["by"] == "operator"


def test_a_device_cannot_review_or_start_cameras(device):
    assert device.post("/api/v1/cameras/door/start").status_code == 403
    assert device.get("/api/v1/alerts").status_code == 403
    corridor = device.post("/api/v1/cameras/corridor/frames", files={"image": image("biden.jpg")})
    assert corridor.status_code == 409 and "cannot be pushed" in corridor.json()["error"]


def test_the_suppression_rule_and_its_guard():
    rng = np.random.default_rng(7)
    stranger, owner = (v / np.linalg.norm(v) for v in rng.normal(size=(2, 192)))
    negatives = {"x": stranger[None, :]}
    candidates = [("x", 0.45), ("y", 0.30)]
    assert suppressed(stranger, candidates, negatives, threshold=0.4) == {"x"}  # the same stranger
    assert filter_candidates(stranger, candidates, negatives, 0.4) == [("y", 0.30)]
    assert suppressed(owner, [("x", 0.8)], negatives, 0.4) == set()  # unrelated to the negative
    near = stranger * 0.6 + owner * 0.8  # resembles the stranger (0.6) but the identity more (0.9)
    assert suppressed(near / np.linalg.norm(near), [("x", 0.9)], negatives, 0.4) == set()
