"""Cameras as OS processes (``camera_workers = "processes"``), end to end over HTTP: a file
camera's alert reaches the server's database, GET /alerts and SSE; a person enrolled while a
camera runs is recognised by its process; a camera process killed with SIGKILL is reported,
backs off and comes back with a new pid while the server stays healthy; stop/start end and
start the process; a push camera gets its frames through the server, and a ``wrong_person``
review reaches the camera process (the same stranger no longer alerts)."""

from __future__ import annotations

import json
import os
import signal

import httpx
import pytest
from server_support import FACES, VIDEO, image, served, wait_until

CONFIG = f"""
[server]
camera_workers = "processes"
rate_per_minute = 60000
rate_burst = 2000

[watchlists.proc]
[watchlists.late]
[watchlists.gate]
threshold = -1.0   # permissive on purpose: biden is mistaken for the only person on the list
cooldown_s = 0

[[cameras]]
id = "file"
source = "{VIDEO / 'corridor.mp4'}"
location = "corridor"
watchlist = "proc"
autostart = false
detect_every = 2

[[cameras]]
id = "looping"
source = "{VIDEO / 'corridor.mp4'}"
location = "hall"
watchlist = "late"
autostart = false
loop = true
detect_every = 2
backoff_s = 1
max_backoff_s = 2

[[cameras]]
id = "gate"
source = "push"
watchlist = "gate"
autostart = false
detect_every = 1
push_queue = 4
"""


@pytest.fixture(scope="module")
def proc_server(tmp_path_factory):
    with served(tmp_path_factory.mktemp("processes"), CONFIG,
                {"operator": "operator", "viewer": "viewer", "device": "device"}) as running:
        yield running


@pytest.fixture(scope="module")
def op(proc_server):
    with proc_server.client("operator") as client:
        yield client


def _enrol(client, name: str, watchlist: str, *photos: str, folder=VIDEO / "enrol") -> None:
    files = [("images", image(p, folder)) for p in photos]
    made = client.post("/api/v1/subjects", data={"name": name, "metadata": json.dumps({"watchlist": watchlist}),
                                                 "force": "true"}, files=files)
    assert made.status_code == 201, made.text


def _camera(client, camera: str) -> dict:
    return client.get(f"/api/v1/cameras/{camera}").json()


def _alerts(client, camera: str) -> list[dict]:
    return client.get("/api/v1/alerts", params={"camera": camera, "limit": 1000}).json()["alerts"]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_file_camera_process_alerts_into_the_servers_database_and_sse(proc_server, op):
    from test_cameras import SseListener

    _enrol(op, "pr-obama", "proc", "obama_obama.jpg")
    sse = SseListener(proc_server)
    try:
        started = op.post("/api/v1/cameras/file/start").json()
        assert started["worker"] == "process"
        running = wait_until(lambda: (c := _camera(op, "file"))["pid"] and c, 60, 0.1, "the camera process")
        assert running["pid"] != proc_server.process.pid and _alive(running["pid"])
        wait_until(lambda: _camera(op, "file")["state"] == "finished", 120, 0.3, "the clip to be watched")
        camera = _camera(op, "file")
        assert camera["frames"] == 120 and camera["alerts"] >= 1 and camera["error"] is None
        assert camera["pid"] is None and not _alive(running["pid"])  # the process ended with the clip
        # the server still holds its SQLite locks: the ending process did not take the WAL away
        assert (proc_server.folder / "server.db-wal").exists()
        alerts = _alerts(op, "file")
        assert {a["identity"] for a in alerts} == {"pr-obama"} and all(a["has_snapshot"] for a in alerts)
        assert alerts[0]["model"] == "mobilefacenet" and alerts[0]["similarity"] >= 0.5  # its embedding came too
        wait_until(lambda: [e for e in sse.of("alert") if e["camera_id"] == "file"], 10, what="the SSE alert")
        assert {"starting", "running", "finished"} <= {e["state"] for e in sse.of("camera") if e["id"] == "file"}
        seen = op.get("/api/v1/timeline", params={"person": "pr-obama"}).json()["sightings"]
        assert seen and seen[0]["camera_id"] == "file"  # finished tracks are linked by the server
        assert op.get("/api/v1/cameras/file/snapshot.jpg").content[:2] == b"\xff\xd8"
    finally:
        sse.close()


def test_enrolment_reaches_a_running_process_which_survives_kill_9_and_stops_cleanly(proc_server, op):
    op.post("/api/v1/cameras/looping/start")
    first = wait_until(lambda: (c := _camera(op, "looping"))["state"] == "running" and c, 60, 0.1, "looping running")
    _enrol(op, "pr-sheldon", "late", "sheldon_sheldon1.png", "sheldon_sheldon2.png")  # nobody was on 'late'
    wait_until(lambda: any(a["identity"] == "pr-sheldon" for a in _alerts(op, "looping")), 90, 0.5,
               "the running camera process to recognise the person enrolled meanwhile")

    os.kill(first["pid"], signal.SIGKILL)
    down = wait_until(lambda: (c := _camera(op, "looping"))["failures"] > first["failures"]
                      and c["state"] in ("backoff", "starting") and c, 20, 0.05,
                      "the dead process to be noticed")
    assert down["state"] in ("backoff", "starting") and "died" in down["error"] and "-9" in down["error"]
    health = httpx.get(f"{proc_server.base}/health")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    assert {c["id"]: c["state"] for c in health.json()["cameras"]}["file"] == "finished"  # nobody else hurt
    again = wait_until(lambda: (c := _camera(op, "looping"))["state"] == "running" and c["pid"] and c, 60, 0.1,
                       "a new camera process")
    assert again["pid"] != first["pid"] and again["error"] is None

    stopped = op.post("/api/v1/cameras/looping/stop").json()
    assert stopped["state"] == "stopped" and stopped["pid"] is None and not _alive(again["pid"])
    restarted = op.post("/api/v1/cameras/looping/start").json()
    assert restarted["state"] in ("starting", "running")
    wait_until(lambda: _camera(op, "looping")["pid"], 30, 0.05, "a camera process again")
    ended = op.post("/api/v1/cameras/looping/stop").json()  # stopped while it loads its models: fine too
    assert ended["state"] == "stopped" and ended["pid"] is None


def _push_session(proc_server, op, photo: str, frames: int = 6) -> list[dict]:
    before = {a["id"] for a in _alerts(op, "gate")}
    op.post("/api/v1/cameras/gate/start")
    wait_until(lambda: _camera(op, "gate")["state"] == "running", 60, 0.1, "gate running")
    with proc_server.client("device") as device:
        for _ in range(frames):
            response = wait_until(lambda: (r := device.post("/api/v1/cameras/gate/frames", files={"image": image(photo)}))
                                  .status_code != 503 and r, 30, 0.2, "room in the push queue")
            assert response.status_code == 202, response.text
    wait_until(lambda: _camera(op, "gate")["frames"] >= frames, 60, 0.1, "the pushed frames to be watched")
    assert op.post("/api/v1/cameras/gate/stop").json()["state"] == "stopped"  # the tracks end: alerts out
    return [a for a in _alerts(op, "gate") if a["id"] not in before]


def test_push_frames_reach_the_process_and_a_wrong_person_review_reaches_it_too(proc_server, op):

    _enrol(op, "pr-gate-obama", "gate", "obama.jpg", folder=FACES)
    first = _push_session(proc_server, op, "biden.jpg")
    assert [(a["kind"], a["identity"]) for a in first] == [("match", "pr-gate-obama")]  # mistaken, as set up
    reviewed = op.post(f"/api/v1/alerts/{first[0]['id']}/review", json={"status": "wrong_person"})
    assert reviewed.status_code == 200 and reviewed.json()["feedback"]["negative_template_added"] is True
    assert _push_session(proc_server, op, "biden.jpg") == []  # the camera process learnt it
