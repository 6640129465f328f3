"""The REST service, run as a real uvicorn server in a subprocess, on real photos."""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import sys
import time

import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("uvicorn")
pytest.importorskip("multipart")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory, data_dir):
    from facelens.gallery import Gallery

    folder = tmp_path_factory.mktemp("service")
    key = base64.b64encode(os.urandom(32)).decode()
    db = folder / "people.db"
    with Gallery(str(db), key=key) as gallery:
        gallery.enrol("obama", [str(data_dir / "faces" / "obama.jpg")])
    port = _free_port()
    env = dict(os.environ, FACELENS_KEY=key, FACELENS_DB=str(db))
    process = subprocess.Popen([sys.executable, "-m", "facelens", "serve", "--port", str(port)], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.5)
        else:
            pytest.fail("service did not start: " + process.stdout.read1().decode(errors="replace"))
        yield base
    finally:
        process.terminate()
        process.wait(timeout=20)


def _file(path):
    return (path.name, path.read_bytes(), "image/jpeg")


def test_health_lists_models(server):
    body = httpx.get(f"{server}/health").json()
    assert body["status"] == "ok" and body["models"]["mobilefacenet"] == "ok"


def test_detect_and_verify(server, data_dir):
    faces = data_dir / "faces"
    detected = httpx.post(f"{server}/detect", files={"image": _file(faces / "bbt4.jpg")}, timeout=60).json()
    assert len(detected["faces"]) == 6
    same = httpx.post(f"{server}/verify", files={"a": _file(faces / "obama.jpg"), "b": _file(faces / "obama2.jpg")},
                      timeout=60).json()
    other = httpx.post(f"{server}/verify", files={"a": _file(faces / "obama.jpg"), "b": _file(faces / "biden.jpg")},
                       timeout=60).json()
    assert same["verified"] is True and other["verified"] is False


def test_identify_against_the_gallery(server, data_dir):
    body = httpx.post(f"{server}/identify", files={"image": _file(data_dir / "faces" / "obama2.jpg")}, timeout=60).json()
    assert body["faces"][0]["identity"] == "obama"
    stranger = httpx.post(f"{server}/identify", files={"image": _file(data_dir / "faces" / "biden.jpg")}, timeout=60).json()
    assert stranger["faces"][0]["identity"] is None


def test_bad_upload_is_a_clean_400(server, data_dir):
    response = httpx.post(f"{server}/detect", files={"image": ("x.jpg", b"not an image", "image/jpeg")}, timeout=60)
    assert response.status_code == 400
    assert response.json()["exit_code"] == 2 and "not a readable image" in response.json()["error"]
    faceless = data_dir / "faces" / "bbt1.jpg"
    from PIL import Image
    import io

    buffer = io.BytesIO()
    Image.open(faceless).crop((0, 450, 1366, 768)).save(buffer, format="PNG")
    response = httpx.post(f"{server}/verify", files={"a": ("t.png", buffer.getvalue(), "image/png"),
                                                     "b": _file(data_dir / "faces" / "obama.jpg")}, timeout=60)
    assert response.status_code == 422 and response.json()["exit_code"] == 3
