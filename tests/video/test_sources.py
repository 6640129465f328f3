"""Video sources: files, folders, streams; bad input gives SourceError; drops are survived."""

from __future__ import annotations

import http.server
import socketserver
import threading
import time

import cv2
import numpy as np
import pytest

from facelens.errors import SourceError
from facelens.video.alerts import CallbackSink
from facelens.video.sources import Frame, open_source
from facelens.video.watch import SourceSpec, WatchConfig, watch


def test_file_yields_rgb_frames_with_timestamps(clips):
    with open_source(clips / "lobby.mp4", camera_id="cam-b", location="lobby") as source:
        assert source.fps == pytest.approx(15.0)
        assert source.frame_count == 90
        frames = list(source)
    assert len(frames) == 90
    first = frames[0]
    assert isinstance(first, Frame) and first.camera_id == "cam-b" and first.location == "lobby"
    assert first.image.dtype == np.uint8 and first.image.shape == (272, 480, 3)
    assert frames[30].timestamp == pytest.approx(2.0)
    bgr = cv2.VideoCapture(str(clips / "lobby.mp4")).read()[1]
    assert np.array_equal(first.image, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))  # converted once to RGB
    assert source.error is None


def test_default_camera_id_chunk_and_downscale(clips):
    with open_source(str(clips / "corridor.mp4"), start_frame=30, end_frame=40, max_width=240) as source:
        frames = list(source)
    assert source.camera_id == "corridor"
    assert [f.index for f in frames] == list(range(30, 40))
    assert frames[0].timestamp == pytest.approx(2.0)
    assert frames[0].image.shape == (136, 240, 3)


def test_image_folder_is_a_pseudo_stream(tmp_path, data_dir):
    for name in ("obama.jpg", "biden.jpg"):
        (tmp_path / name).write_bytes((data_dir / "faces" / name).read_bytes())
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8 truncated")
    with open_source(tmp_path, camera_id="door", fps=2.0) as source:
        frames = list(source)
    assert len(frames) == 2  # the broken image is skipped with a warning
    assert frames[1].timestamp == pytest.approx(0.5)


def test_webcam_index_that_does_not_exist(monkeypatch):
    with pytest.raises(SourceError, match="cannot open"):
        open_source(97, reconnect=0)


@pytest.mark.parametrize("content, message", [
    (b"", "empty"),
    (b"this is not a video at all\n" * 50, "cannot open|no frame"),
    (bytes(np.random.default_rng(0).integers(0, 256, 20000, dtype=np.uint8)), "cannot open|no frame"),
])
def test_unreadable_files_give_source_error(tmp_path, content, message):
    path = tmp_path / "camera.mp4"
    path.write_bytes(content)
    with pytest.raises(SourceError, match=message):
        open_source(path)


def test_zero_frame_video_gives_source_error(tmp_path):
    path = tmp_path / "zero.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 15.0, (320, 240))
    writer.release()  # a valid container with no frame in it
    with pytest.raises(SourceError):
        open_source(path)


def test_missing_path_and_refusing_stream(tmp_path):
    with pytest.raises(SourceError, match="no such file"):
        open_source(tmp_path / "nope.mp4")
    with socketserver.TCPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler) as probe:
        port = probe.server_address[1]  # a port nobody listens on once closed
    with pytest.raises(SourceError, match="cannot open stream"):
        open_source(f"http://127.0.0.1:{port}/live.mjpg", open_timeout=2)


def test_truncated_file_ends_with_a_reported_error_or_refuses(tmp_path, clips):
    data = (clips / "corridor.mp4").read_bytes()
    path = tmp_path / "cut.mp4"
    path.write_bytes(data[: len(data) // 2])
    try:
        source = open_source(path)
    except SourceError:
        return  # mp4 index at the end: refused at open with a clear message
    frames = list(source)
    assert len(frames) < 120 and source.error


class MJPEGServer:
    """An HTTP MJPEG camera (multipart/x-mixed-replace, like IP cameras) that serves
    ``per_connection`` frames and then drops the connection, ``connections`` times."""

    def __init__(self, frames: list[bytes], per_connection: int, connections: int) -> None:
        self.served = 0
        self.refused = 0  # requests answered 503 after the last connection: reconnect attempts seen
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                if outer.served >= connections:
                    outer.refused += 1
                    self.send_error(503)
                    return
                outer.served += 1
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.end_headers()
                for jpg in frames[:per_connection]:
                    self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % len(jpg))
                    self.wfile.write(jpg + b"\r\n")
                    time.sleep(0.005)

            def log_message(self, *args):
                pass

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/stream.mjpg"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def lobby_jpegs(clips):
    capture = cv2.VideoCapture(str(clips / "lobby.mp4"))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            return frames
        frames.append(cv2.imencode(".jpg", frame)[1].tobytes())


def test_dropping_stream_reconnects_then_reports(lobby_jpegs):
    server = MJPEGServer(lobby_jpegs, per_connection=30, connections=2)
    try:
        with open_source(server.url, camera_id="gate", reconnect=2, backoff=0.05) as source:
            frames = list(source)
    finally:
        server.close()
    assert source.live and source.reconnects == 1
    assert len(frames) >= 55  # both connections' frames (a frame may be lost at a drop)
    assert [f.index for f in frames] == list(range(len(frames)))
    assert "reconnect attempts failed" in source.error


def test_one_dropping_camera_does_not_stop_the_others(lobby_jpegs, watchlist, clips):
    server = MJPEGServer(lobby_jpegs, per_connection=20, connections=1)
    received = []
    try:
        summary = watch([SourceSpec(server.url, "gate", options={"reconnect": 1, "backoff": 0.05}),
                         SourceSpec(clips / "lobby.mp4", "cam-b"),
                         SourceSpec(clips / "missing.mp4", "cam-x")],
                        watchlist, [CallbackSink(received.append)], WatchConfig(detect_every=3))
    finally:
        server.close()
    cameras = {c.camera_id: c for c in summary.cameras}
    assert cameras["gate"].error and cameras["gate"].frames >= 15
    assert "no such file" in cameras["cam-x"].error and cameras["cam-x"].frames == 0
    assert cameras["cam-b"].error is None and cameras["cam-b"].frames == 90
    assert {a.identity for a in received if a.camera_id == "cam-b"} == {"sheldon", "leonard"}
