"""What the server tests share: real faces from tests/data, a real Mosquitto broker, a small
webhook receiver and `facelens serve` in a subprocess on a free loopback port with one API key
per role. The fixtures that use these live in conftest.py; tests import helpers from here, never
from conftest (two conftest modules on one pytest command line would shadow each other).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import socket
import subprocess
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import pytest

from server_process import free_port, launch, server_env, stop, wait_until  # noqa: F401 - re-exported for the tests

httpx = pytest.importorskip("httpx")

DATA = Path(__file__).resolve().parents[1] / "data"
FACES = DATA / "faces"
VIDEO = DATA / "video"
ROLES = ("admin", "operator", "viewer", "device")


def image(name: str, folder: Path = FACES) -> tuple[str, bytes, str]:
    """An upload tuple for httpx ``files=``."""
    path = folder / name
    kind = "image/png" if path.suffix == ".png" else "image/jpeg"
    return path.name, path.read_bytes(), kind


# ---------------------------------------------------------------- Mosquitto


@dataclass
class Broker:
    host: str
    port: int


def connectable(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class MqttLog:
    """Every message on the broker (subscribed to '#' before the server starts)."""

    def __init__(self, broker: Broker) -> None:
        import paho.mqtt.client as mqtt

        self.messages: list[tuple[str, bytes, bool]] = []
        self._lock = threading.Lock()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="facelens-test")
        self.client.on_message = self._on_message
        connected = threading.Event()
        self.client.on_connect = lambda client, *_: (client.subscribe("#", qos=1), connected.set())
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        assert connected.wait(10), "test subscriber could not connect to mosquitto"

    def _on_message(self, _client, _userdata, message) -> None:
        with self._lock:
            self.messages.append((message.topic, message.payload, bool(message.retain)))

    def on(self, topic: str) -> list[bytes]:
        with self._lock:
            return [payload for t, payload, _ in self.messages if t == topic]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


# ---------------------------------------------------------------- webhook receiver


class HookReceiver:
    def __init__(self) -> None:
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                received.append(json.loads(body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()


# ---------------------------------------------------------------- the server


@dataclass
class Server:
    base: str
    db: Path | str
    folder: Path
    env: dict
    keys: dict[str, str] = field(default_factory=dict)  # key name → key
    process: subprocess.Popen | None = None

    def client(self, key_name: str | None = "admin", **options) -> "httpx.Client":
        headers = {"X-API-Key": self.keys[key_name]} if key_name else {}
        return httpx.Client(base_url=self.base, headers=headers, timeout=options.pop("timeout", 60), **options)

    def log(self) -> str:
        path = self.folder / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""


def start_server(folder: Path, config: str, key_roles: dict[str, str], db: str | None = None) -> Server:
    from facelens.gallery import Gallery
    from facelens.server.auth import KeyStore

    secret = base64.b64encode(os.urandom(32)).decode()
    env = server_env(folder, secret)
    db = db or folder / "server.db"
    with Gallery(db, key=secret) as gallery:
        store = KeyStore(gallery)
        keys = {name: store.create(name, role, by="tests")["key"] for name, role in key_roles.items()}
    (folder / "facelens.toml").write_text(config)
    server = Server("", db, folder, env, keys)
    server.process, server.base = launch(folder, db, env)
    return server


@contextlib.contextmanager
def served(folder: Path, config: str, key_roles: dict[str, str], db: str | None = None) -> Iterator[Server]:
    """A server running for the block (``start_server``), stopped however the block ends."""
    server = start_server(folder, config, key_roles, db)
    try:
        yield server
    finally:
        stop(server.process)


def main_config(broker: Broker | None, hook_url: str, dead_letter: Path) -> str:
    mqtt = f'\n[mqtt]\nhost = "{broker.host}"\nport = {broker.port}\n' if broker else ""
    return f"""
[server]
max_upload_mb = 1
rate_per_minute = 60000
rate_burst = 2000
workers = 2
queue = 32

[watchlists.vip]
# Deliberately permissive (any face matches the best vip identity, biden scores -0.09 against
# obama): the review test needs a stranger mistaken for somebody before it can teach otherwise.
threshold = -1.0
cooldown_s = 0

[[cameras]]
id = "door"
source = "push"
location = "front door"
watchlist = "vip"
detect_every = 1
push_queue = 4

[watchlists.corridor]

[[cameras]]
id = "corridor"
source = "{VIDEO / 'corridor.mp4'}"
location = "corridor"
watchlist = "corridor"
autostart = false
detect_every = 2
happiness = true

[watchlists.strangers]
# nobody is on this list: every face the camera sees is unknown, alerted and recorded
report_unknown = true
record_unknowns = true

[[cameras]]
id = "strangers"
source = "{VIDEO / 'corridor.mp4'}"
location = "corridor"
watchlist = "strangers"
autostart = false
detect_every = 2

[[cameras]]
id = "ghost"
source = "rtsp://127.0.0.1:{free_port()}/stream"
location = "nowhere"
backoff_s = 0.2
max_backoff_s = 2
{mqtt}
[[webhooks]]
url = "{hook_url}"
dead_letter = "{dead_letter}"
attempts = 2

[doors.lab]
liveness = "none"

[doors.vault]
liveness = "active"
challenges = ["turn_right"]
"""
