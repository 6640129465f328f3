"""Run `facelens serve` as a real subprocess for the server and browser tests (one copy of the
start/wait/stop steps both suites need). tests/ is on sys.path through its root conftest."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate, timeout: float = 30.0, interval: float = 0.1, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def server_env(folder: Path, secret: str) -> dict[str, str]:
    """The caller's environment with the server's own key and data dirs, nothing of the user's."""
    env = {k: v for k, v in os.environ.items() if k not in ("FACELENS_DB", "FACELENS_KEY_FILE", "FACELENS_CONFIG")}
    env.update(FACELENS_KEY=secret, XDG_DATA_HOME=str(folder / "xdg-data"), XDG_CONFIG_HOME=str(folder / "xdg-config"),
               FACELENS_THREADS="1")
    return env


def launch(folder: Path, db: Path | str, env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    """Start the server on a free port with folder/facelens.toml, logging to folder/server.log,
    and wait until /health answers. Returns (process, base URL)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = folder / "server.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "facelens", "serve", "--port", str(port), "--db", str(db),
         "--config", str(folder / "facelens.toml")], env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)

    def up() -> bool:
        if process.poll() is not None:
            raise AssertionError("server exited at start-up:\n" + log.read_text(errors="replace")[-3000:])
        try:
            return httpx.get(f"{base}/health", timeout=2).status_code in (200, 503)
        except httpx.TransportError:
            return False

    wait_until(up, 90, 0.3, "the server to answer /health")
    return process, base


def stop(process: subprocess.Popen | None) -> None:
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
