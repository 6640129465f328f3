"""Alert sinks: JSON Lines, stdout, callback, and an HTTP webhook against a real local server
(down, then up; never up → dead-letter file; replay), plus de-duplication."""

from __future__ import annotations

import base64
import http.server
import io
import json
import socket
import socketserver
import threading
import time

import cv2
import pytest

from facelens.video.alerts import (Alert, AlertManager, CallbackSink, JsonLinesSink, StdoutSink,
                                   WebhookSink, replay_dead_letters, snapshot_jpeg)


@pytest.fixture(scope="module")
def snapshot(data_dir):
    rgb = cv2.cvtColor(cv2.imread(str(data_dir / "faces" / "obama.jpg")), cv2.COLOR_BGR2RGB)
    return snapshot_jpeg(rgb, (300, 200, 600, 550))


def make_alert(snapshot, track_id=1, identity="obama", camera="cam-a", first=1.0, last=2.0):
    return Alert(kind="match", identity=identity, similarity=0.77, camera_id=camera, location="hall",
                 track_id=track_id, frame=int(last * 15), first_seen=first, last_seen=last, snapshot=snapshot)


class Receiver:
    """A real HTTP server on localhost that records POSTed JSON; ``fail_first`` answers 500 first."""

    def __init__(self, port: int = 0, fail_first: int = 0, delay: float = 0.0) -> None:
        self.received: list[dict] = []
        self.calls = 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                outer.calls += 1
                body = self.rfile.read(int(self.headers["Content-Length"]))
                time.sleep(delay)
                if outer.calls <= fail_first:
                    self.send_response(500)
                    self.end_headers()
                    return
                outer.received.append(json.loads(body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        socketserver.TCPServer.allow_reuse_address = True
        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/alerts"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_webhook_delivers_json_with_snapshot(snapshot, tmp_path):
    receiver = Receiver()
    sink = WebhookSink(receiver.url, dead_letter=tmp_path / "dead.jsonl", backoff=0.05)
    try:
        sink.emit(make_alert(snapshot))
        assert sink.flush(5)
    finally:
        sink.close()
        receiver.close()
    (body,) = receiver.received
    assert body["identity"] == "obama" and body["camera_id"] == "cam-a" and body["location"] == "hall"
    assert body["first_seen"] == 1.0 and body["last_seen"] == 2.0 and body["frame"] == 30
    jpeg = base64.b64decode(body["snapshot"]["base64"])
    assert jpeg[:2] == b"\xff\xd8" and cv2.imdecode(__import__("numpy").frombuffer(jpeg, "uint8"), 1) is not None
    assert not (tmp_path / "dead.jsonl").exists()


def test_webhook_retries_server_errors(snapshot, tmp_path):
    receiver = Receiver(fail_first=2)
    sink = WebhookSink(receiver.url, dead_letter=tmp_path / "dead.jsonl", backoff=0.05)
    try:
        sink.emit(make_alert(snapshot))
        assert sink.flush(5)
    finally:
        sink.close()
        receiver.close()
    assert receiver.calls == 3 and len(receiver.received) == 1 and sink.retries == 2


def test_webhook_down_then_up_delivers_without_blocking(snapshot, tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}/alerts"
    sink = WebhookSink(url, dead_letter=tmp_path / "dead.jsonl", attempts=8, backoff=0.1, max_backoff=0.4)
    started = time.perf_counter()
    for track in range(3):
        sink.emit(make_alert(snapshot, track_id=track))
    assert time.perf_counter() - started < 0.05  # emit never waits for the network
    time.sleep(0.3)  # the first attempts hit a closed port
    receiver = Receiver(port=port)
    try:
        assert sink.flush(10)
    finally:
        sink.close()
        receiver.close()
    assert sorted(b["track_id"] for b in receiver.received) == [0, 1, 2]
    assert sink.retries >= 1 and sink.failed == 0
    assert not (tmp_path / "dead.jsonl").exists()


def test_undeliverable_alerts_go_to_dead_letter_and_replay(snapshot, tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}/alerts"
    dead = tmp_path / "dead.jsonl"
    sink = WebhookSink(url, dead_letter=dead, attempts=2, backoff=0.05, timeout=1)
    sink.emit(make_alert(snapshot, track_id=7))
    sink.flush(5)
    sink.close()
    (line,) = dead.read_text().splitlines()
    kept = json.loads(line)
    assert kept["track_id"] == 7 and kept["_url"] == url and kept["_error"]
    receiver = Receiver(port=port)
    try:
        assert replay_dead_letters(dead) == (1, 0)
    finally:
        receiver.close()
    assert receiver.received[0]["track_id"] == 7 and "_error" not in receiver.received[0]
    assert dead.read_text() == ""


def test_slow_webhook_does_not_block_and_shutdown_keeps_pending(snapshot, tmp_path):
    receiver = Receiver(delay=0.5)
    dead = tmp_path / "dead.jsonl"
    sink = WebhookSink(receiver.url, dead_letter=dead, backoff=0.05, timeout=2)
    started = time.perf_counter()
    for track in range(5):
        sink.emit(make_alert(snapshot, track_id=track))
    assert time.perf_counter() - started < 0.05
    sink.close(timeout=0.2)  # far too short for 5 × 0.5 s: the rest must be kept, not lost
    receiver.close()
    delivered = {b["track_id"] for b in receiver.received}
    kept = {json.loads(line)["track_id"] for line in dead.read_text().splitlines()} if dead.exists() else set()
    assert delivered | kept == set(range(5))


def test_jsonl_stdout_callback_and_deduplication(snapshot, tmp_path):
    out = io.StringIO()
    got = []

    def broken(alert):
        raise RuntimeError("user callback bug")

    manager = AlertManager([JsonLinesSink(tmp_path / "alerts.jsonl"), StdoutSink(out), CallbackSink(broken),
                            CallbackSink(got.append)], cooldown=30)
    assert manager.offer(make_alert(snapshot, track_id=1))
    assert not manager.offer(make_alert(snapshot, track_id=1, last=3.0))  # same track again
    assert not manager.offer(make_alert(snapshot, track_id=2, first=10.0, last=11.0))  # broken track, cooldown
    assert manager.offer(make_alert(snapshot, track_id=3, first=45.0, last=46.0))  # 30 s after the last sighting (11 s)
    assert manager.offer(make_alert(snapshot, track_id=4, camera="cam-b", first=10.0))  # another camera
    manager.close()
    lines = [json.loads(line) for line in (tmp_path / "alerts.jsonl").read_text().splitlines()]
    assert [l["track_id"] for l in lines] == [1, 3, 4]
    assert lines[0]["snapshot"]["mime"] == "image/jpeg"
    printed = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(printed) == 3 and printed[0]["snapshot"] is None  # no image bytes on stdout
    assert [a.track_id for a in got] == [1, 3, 4] and manager.suppressed == 1
