"""The dashboard under test: `facelens serve` in a subprocess on a free loopback port, driven by
Debian's headless Chromium through Playwright's Python package (no browser download: the tests
point Playwright at /usr/bin/chromium, which scripts/test.sh installs with apt).

Two servers: ``dashboard`` (a fresh database; the tests enrol, run a file camera and review
through the pages) and ``crowded`` (1,000 people, 10,000 alerts, sightings and happiness
observations written through the library before it starts), on which page loads are timed.
Screenshots go to $FACELENS_SCREENSHOTS when set (docs/dashboard/ holds a few of them), else to a
temporary folder.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from dashboard_support import CHROMIUM, CONFIG, Server, prepare, seed_crowd, start, stop


def need_server_extra() -> None:
    for module in ("uvicorn", "argon2", "sse_starlette"):
        pytest.importorskip(module, reason="the server's extra is not installed: pip install -e '.[service]'")


@pytest.fixture(scope="session")
def dashboard(tmp_path_factory) -> Server:
    need_server_extra()
    server = start(prepare(tmp_path_factory.mktemp("dashboard"), CONFIG))
    yield server
    stop(server)


@pytest.fixture(scope="session")
def crowded(tmp_path_factory) -> Server:
    need_server_extra()
    server = prepare(tmp_path_factory.mktemp("crowded"), CONFIG)
    seed_crowd(server)
    start(server)
    yield server
    stop(server)


# Per module, not per session: Playwright's sync API keeps an event loop running in this thread
# while the browser is open, which would break asyncio.run in tests collected after these
# (tests/server) in the same pytest run.
@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed: pip install -e '.[dev]'")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}: install Debian's `chromium` (scripts/test.sh does) "
                    "or set FACELENS_CHROMIUM")
    with sync_api.sync_playwright() as playwright:
        # --no-sandbox: CI and this machine run as root, where Chromium's sandbox cannot start
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def shots(tmp_path_factory) -> Path:
    folder = Path(os.environ.get("FACELENS_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


