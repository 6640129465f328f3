"""The camera daemon end to end: corridor.mp4 as a camera → alerts in the server database (with
sealed snapshots), fanned out to SSE, a real Mosquitto and a webhook; sightings (time line) and
expression observations (happiness) in the database; a camera that never answers does not
hurt anybody."""

from __future__ import annotations

import base64
import json
import threading

import httpx
import pytest
from server_support import VIDEO, wait_until

JPEG = b"\xff\xd8"


class SseListener:
    """Reads /api/v1/alerts/stream in a thread; events as (kind, data)."""

    def __init__(self, server) -> None:
        self.events: list[tuple[str, dict]] = []
        self.ready = threading.Event()
        self._stop = False
        self._thread = threading.Thread(target=self._run, args=(server,), daemon=True)
        self._thread.start()
        assert self.ready.wait(30), "SSE stream did not open"

    def _run(self, server) -> None:
        url = f"{server.base}/api/v1/alerts/stream"
        with httpx.stream("GET", url, params={"api_key": server.keys["viewer"], "kinds": "alert,camera"},
                          timeout=httpx.Timeout(60, read=120)) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            self.ready.set()
            kind = None
            for line in response.iter_lines():
                if self._stop:
                    return
                if line.startswith("event:"):
                    kind = line.split(":", 1)[1].strip()
                elif line.startswith("data:") and kind:
                    self.events.append((kind, json.loads(line.split(":", 1)[1])))

    def of(self, kind: str) -> list[dict]:
        return [data for k, data in self.events if k == kind]

    def close(self) -> None:
        self._stop = True


@pytest.fixture(scope="module")
def corridor_run(server, operator):
    """obama and sheldon on watchlist 'corridor', then the corridor camera runs the clip once."""
    for name, photos in {"cam-obama": ["obama_obama.jpg"], "cam-sheldon": ["sheldon_sheldon1.png",
                                                                              "sheldon_sheldon2.png"]}.items():
        files = [("images", (p, (VIDEO / "enrol" / p).read_bytes(), "image/jpeg")) for p in photos]
        made = operator.post("/api/v1/subjects", data={"name": name, "metadata": json.dumps({"watchlist": "corridor"}),
                                                       "force": "true"},  # obama may be enrolled by another module
                             files=files)
        assert made.status_code == 201, made.text
    sse = SseListener(server)
    started = operator.post("/api/v1/cameras/corridor/start")
    assert started.status_code == 200 and started.json()["state"] in ("starting", "running", "finished")
    wait_until(lambda: operator.get("/api/v1/cameras/corridor").json()["state"] == "finished", 120, 0.3,
               "the corridor clip to be watched")
    yield {"sse": sse, "camera": operator.get("/api/v1/cameras/corridor").json()}
    sse.close()


def _corridor_alerts(client) -> list[dict]:
    return client.get("/api/v1/alerts", params={"camera": "corridor"}).json()["alerts"]


def test_alerts_are_stored_with_sealed_snapshots(corridor_run, viewer, server):
    camera = corridor_run["camera"]
    assert camera["frames"] == 120 and camera["alerts"] == 2 and camera["error"] is None
    alerts = _corridor_alerts(viewer)
    assert sorted(a["identity"] for a in alerts) == ["cam-obama", "cam-sheldon"]
    for alert in alerts:
        assert alert["kind"] == "match" and alert["status"] == "new" and alert["location"] == "corridor"
        assert alert["similarity"] >= 0.5 and alert["has_snapshot"] and alert["model"] == "mobilefacenet"
        full = viewer.get(f"/api/v1/alerts/{alert['id']}").json()
        assert base64.b64decode(full["snapshot"]["base64"])[:2] == JPEG
        jpeg = viewer.get(f"/api/v1/alerts/{alert['id']}/snapshot.jpg")
        assert jpeg.headers["content-type"] == "image/jpeg" and jpeg.content[:2] == JPEG
    raw = server.db.read_bytes()
    assert jpeg.content[:64] not in raw  # sealed (AES-GCM), never in clear in the database


def test_alert_filters_and_pages(corridor_run, viewer):
    page = viewer.get("/api/v1/alerts", params={"camera": "corridor", "limit": 1}).json()
    assert page["total"] == 2 and len(page["alerts"]) == 1
    second = viewer.get("/api/v1/alerts", params={"camera": "corridor", "limit": 1, "offset": 1}).json()
    assert {page["alerts"][0]["id"], second["alerts"][0]["id"]} == {a["id"] for a in _corridor_alerts(viewer)}
    only = viewer.get("/api/v1/alerts", params={"identity": "cam-sheldon", "status": "new"}).json()
    assert [a["identity"] for a in only["alerts"]] == ["cam-sheldon"]
    assert viewer.get("/api/v1/alerts", params={"camera": "corridor", "since": "2999-01-01"}).json()["total"] == 0
    assert viewer.get("/api/v1/alerts", params={"status": "maybe"}).status_code == 422


def test_events_reach_sse_mqtt_and_the_webhook(corridor_run, mqtt_log, hook):
    sse = corridor_run["sse"]
    wait_until(lambda: len(sse.of("alert")) >= 2, 10, what="SSE alert events")
    assert {e["identity"] for e in sse.of("alert") if e["camera_id"] == "corridor"} == {"cam-obama", "cam-sheldon"}
    assert {"running", "finished"} <= {e["state"] for e in sse.of("camera") if e["id"] == "corridor"}
    wait_until(lambda: len([h for h in hook.received if h["camera_id"] == "corridor"]) >= 2, 20, what="webhooks")
    posted = [h for h in hook.received if h["camera_id"] == "corridor"]
    assert {h["identity"] for h in posted} == {"cam-obama", "cam-sheldon"} and posted[0]["snapshot"] is None
    if mqtt_log is None:
        pytest.skip("mosquitto is not installed (apt-get install mosquitto): MQTT part not run")
    wait_until(lambda: mqtt_log.on("facelens/matches/cam-sheldon"), 10, what="MQTT match message")
    match = json.loads(mqtt_log.on("facelens/matches/cam-obama")[0])
    assert match["camera_id"] == "corridor" and match["identity"] == "cam-obama"
    assert {json.loads(m)["identity"] for m in mqtt_log.on("facelens/alerts")} >= {"cam-obama", "cam-sheldon"}
    assert json.loads(mqtt_log.on("facelens/cameras/corridor")[-1])["state"] == "finished"
    assert b"online" in mqtt_log.on("facelens/status")


def test_home_assistant_discovery_is_published(server, mqtt_log):
    if mqtt_log is None:
        pytest.skip("mosquitto is not installed (apt-get install mosquitto): MQTT part not run")
    topic = "homeassistant/sensor/facelens_corridor/last_match/config"
    config = json.loads(wait_until(lambda: mqtt_log.on(topic), 10, what="discovery")[0])
    assert config["state_topic"] == "facelens/cameras/corridor/last_match"
    assert config["availability_topic"] == "facelens/status" and config["unique_id"] == "facelens_corridor_last_match"
    running = json.loads(mqtt_log.on("homeassistant/binary_sensor/facelens_door/running/config")[0])
    assert running["state_topic"] == "facelens/cameras/door" and running["device_class"] == "running"


def test_sightings_and_happiness_are_in_the_database(corridor_run, viewer):
    seen = viewer.get("/api/v1/timeline", params={"person": "cam-obama"}).json()["sightings"]
    assert seen and seen[0]["camera_id"] == "corridor" and seen[0]["global_id"] == "person:cam-obama"
    assert seen[0]["entered"] <= seen[0]["left"]
    everyone = viewer.get("/api/v1/timeline", params={"camera": "corridor"}).json()["sightings"]
    assert {s["identity"] for s in everyone} >= {"cam-obama", "cam-sheldon"}
    report = viewer.get("/api/v1/happiness", params={"location": "corridor", "bucket": "hour"}).json()
    assert report["rows"] and report["rows"][0]["location"] == "corridor" and report["rows"][0]["people"] >= 2
    csv = viewer.get("/api/v1/happiness", params={"location": "corridor", "format": "csv"})
    assert csv.headers["content-type"].startswith("text/csv") and csv.text.startswith("location,bucket_start")
    png = viewer.get("/api/v1/happiness", params={"location": "corridor", "format": "png"})
    assert png.headers["content-type"] == "image/png" and png.content[:4] == b"\x89PNG"
    assert viewer.get("/api/v1/happiness", params={"format": "png"}).status_code == 400
    assert viewer.get("/api/v1/happiness", params={"location": "mars"}).status_code == 404


def test_latest_frame_and_mjpeg_stream(corridor_run, server, viewer):
    still = viewer.get("/api/v1/cameras/corridor/snapshot.jpg")
    assert still.status_code == 200 and still.content[:2] == JPEG
    url = f"{server.base}/api/v1/cameras/corridor/stream.mjpg"
    with httpx.stream("GET", url, params={"api_key": server.keys["viewer"]}, timeout=30) as response:
        assert response.headers["content-type"].startswith("multipart/x-mixed-replace")
        first = next(response.iter_bytes())
    assert b"--facelens-frame" in first and b"Content-Type: image/jpeg" in first


def test_export_of_a_person_includes_their_alerts(corridor_run, operator):
    exported = operator.get("/api/v1/subjects/cam-sheldon/export").json()
    assert [a["camera_id"] for a in exported["alerts"]] == ["corridor"]
    assert exported["sightings"] and exported["sightings"][0]["identity"] == "cam-sheldon"


def test_a_camera_that_never_answers_backs_off_and_hurts_nobody(server, viewer, operator):
    ghost = wait_until(lambda: (c := viewer.get("/api/v1/cameras/ghost").json())["failures"] >= 2 and c, 30, 0.2,
                       "the ghost camera to fail twice")
    assert ghost["state"] in ("starting", "backoff") and "cannot open" in ghost["error"]
    health = httpx.get(f"{server.base}/health")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    assert {c["id"]: c["state"] for c in health.json()["cameras"]}["ghost"] in ("starting", "backoff")
    assert operator.post("/api/v1/cameras/ghost/stop").json()["state"] == "stopped"
    assert viewer.post("/api/v1/cameras/ghost/start").status_code == 403
    assert operator.post("/api/v1/cameras/ghost/start").json()["state"] in ("starting", "backoff")
