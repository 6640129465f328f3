"""The server under test: `facelens serve` in a subprocess on a free loopback port, over a fresh
database, with one API key per role, a real Mosquitto broker (started here; MQTT tests skip when
the `mosquitto` binary is absent) and a small webhook receiver. Real faces from tests/data.
Helpers are in server_support.py.

One main server is shared by the whole directory (names used by tests are unique per test); a
second one with tiny limits serves the rate-limit and queue tests (see test_errors.py).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

pytest.importorskip("httpx")
pytest.importorskip("uvicorn")
pytest.importorskip("argon2")
pytest.importorskip("sse_starlette")

from server_support import (  # noqa: E402 - after the skips: it imports httpx
    ROLES, Broker, HookReceiver, MqttLog, Server, connectable, free_port, main_config, served, wait_until)


@pytest.fixture(scope="session")
def broker(tmp_path_factory) -> Broker | None:
    """A real Mosquitto on a free port (None when the binary is not installed: MQTT tests skip)."""
    binary = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)
    if binary is None:
        yield None
        return
    folder = tmp_path_factory.mktemp("mosquitto")
    port = free_port()
    conf = folder / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
                    f"log_dest file {folder / 'mosquitto.log'}\n")
    process = subprocess.Popen([binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: connectable(port), 15, what="mosquitto to listen")
        yield Broker("127.0.0.1", port)
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def mqtt_log(broker):
    if broker is None:
        yield None
        return
    log = MqttLog(broker)
    yield log
    log.close()


@pytest.fixture(scope="session")
def hook():
    receiver = HookReceiver()
    yield receiver
    receiver.close()


@pytest.fixture(scope="session")
def server(tmp_path_factory, broker, mqtt_log, hook) -> Server:
    folder = tmp_path_factory.mktemp("server")
    with served(folder, main_config(broker, hook.url, folder / "dead-letter.jsonl"),
                {**{role: role for role in ROLES}, "to-revoke": "viewer"}) as running:
        yield running


@pytest.fixture(scope="session")
def admin(server):
    with server.client("admin") as client:
        yield client


@pytest.fixture(scope="session")
def operator(server):
    with server.client("operator") as client:
        yield client


@pytest.fixture(scope="session")
def viewer(server):
    with server.client("viewer") as client:
        yield client


@pytest.fixture(scope="session")
def device(server):
    with server.client("device") as client:
        yield client
