"""What the dashboard tests share: starting a real server, opening pages in Chromium."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from server_process import launch, server_env, wait_until  # noqa: F401 - wait_until re-exported for the tests
from server_process import stop as stop_process

DATA = Path(__file__).resolve().parents[1] / "data"
CHROMIUM = os.environ.get("FACELENS_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
DESKTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}
ROLES = ("admin", "operator", "viewer")


@dataclass
class Server:
    base: str
    folder: Path
    secret: str
    keys: dict[str, str] = field(default_factory=dict)  # role → key
    process: subprocess.Popen | None = None

    @property
    def db(self) -> Path:
        return self.folder / "server.db"

    def client(self, role: str = "admin") -> "httpx.Client":
        return httpx.Client(base_url=f"{self.base}/api/v1", headers={"X-API-Key": self.keys[role]}, timeout=60)

    def log(self) -> str:
        path = self.folder / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""


def prepare(folder: Path, config: str) -> Server:
    """A database with one key per role (written through the library) and the TOML file."""
    from facelens.gallery import Gallery
    from facelens.server.auth import KeyStore

    server = Server("", folder, base64.b64encode(os.urandom(32)).decode())
    with Gallery(server.db, key=server.secret) as gallery:
        store = KeyStore(gallery)
        server.keys = {role: store.create(f"web-{role}", role, by="tests")["key"] for role in ROLES}
    (folder / "facelens.toml").write_text(config)
    return server


def start(server: Server) -> Server:
    server.process, server.base = launch(server.folder, server.db, server_env(server.folder, server.secret))
    return server


def stop(server: Server) -> None:
    stop_process(server.process)


CONFIG = f"""
[server]
rate_per_minute = 60000
rate_burst = 5000

[[cameras]]
id = "corridor"
source = "{DATA / 'video' / 'corridor.mp4'}"
location = "corridor"
autostart = false
detect_every = 2
happiness = true

[[cameras]]
id = "lobby"
source = "{DATA / 'video' / 'lobby.mp4'}"
location = "lobby"
watchlist = "staff"
autostart = false

[watchlists.staff]
# strangers in the lobby are alerted and kept for the Unknown faces page
report_unknown = true
record_unknowns = true
"""


def new_page(browser, server: Server, role: str | None, viewport=DESKTOP):
    """A fresh browser context (own storage), logged in with the role's key when given."""
    context = browser.new_context(viewport=viewport, base_url=server.base)
    # a script error on any tab of this context fails the next open_page
    context.js_errors = []
    context.on("page", lambda tab: tab.on("pageerror", lambda error: context.js_errors.append(f"{tab.url}: {error}")))
    context.set_default_timeout(20_000)
    if role is not None:
        # what the login page stores after a successful log in, for every tab of this context
        # (the login form itself has its own test)
        me = json.dumps({"name": f"web-{role}", "role": role})
        context.add_init_script(f"if (location.protocol === 'http:') {{"  # not on about:blank
                                f"sessionStorage.setItem('facelens.key', {server.keys[role]!r});"
                                f"sessionStorage.setItem('facelens.me', {me!r}); }}")
    return context.new_page()


def open_page(page, path: str) -> None:
    page.goto(path)
    page.wait_for_selector("body[data-ready='1']")
    assert not page.context.js_errors, page.context.js_errors


def screenshot(page, shots: Path, name: str) -> Path:
    path = shots / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path


# ---------------------------------------------------------------- a crowded server, for timing

CROWD_PEOPLE = 1_000
CROWD_ALERTS = 10_000
CROWD_CAMERAS = ("entrance", "hall", "shop")
CROWD_OBSERVATIONS = 10_080  # 3 places × 56 days × 3 hours × 20 people
CROWD_STRANGERS = 20  # unknown people, each seen 10 times


def seed_crowd(server: Server) -> dict[str, int]:
    """1,000 people, 10,000 alerts (with real face snapshots), sightings, 10,080 happiness
    observations and 200 unknown faces (20 strangers seen 10 times, pictured by alerts' snapshots),
    written through the library into the server's database before it starts."""
    from datetime import datetime, timedelta, timezone

    import cv2
    import numpy as np

    from facelens.analytics.store import Observation, ObservationStore
    from facelens.gallery import Gallery
    from facelens.gallery.records import EnrolRecord, Template
    from facelens.server.store import AlertStore, SightingStore
    from facelens.video.alerts import Alert
    from facelens.video.linking import Sighting

    rng = np.random.default_rng(13)
    snapshots = [cv2.imencode(".jpg", cv2.imread(str(path)))[1].tobytes()
                 for path in sorted((DATA / "gallery").glob("*.png"))]
    start = datetime(2026, 10, 1, 8, tzinfo=timezone.utc)
    names = [f"person{i:04d}" for i in range(CROWD_PEOPLE)]
    with Gallery(server.db, key=server.secret) as gallery:
        # random unit vectors stand in for embeddings: the pages time listing, not matching
        gallery.enrol_records([EnrolRecord(name, [Template(vector=rng.standard_normal(128).astype(np.float32),
                                                           model="mobilefacenet")]) for name in names])
        alerts = AlertStore(gallery)
        alert_ids = []
        for i in range(CROWD_ALERTS):
            at = (start + timedelta(minutes=7 * i)).isoformat(timespec="milliseconds")
            alert_ids.append(alerts.add(Alert("match", names[i % CROWD_PEOPLE], float(rng.uniform(0.45, 0.9)),
                                              CROWD_CAMERAS[i % 3], f"{CROWD_CAMERAS[i % 3]} floor", i, i, 1.0, 3.0,
                                              at, at, snapshot=snapshots[i % len(snapshots)]), None, None)["id"])
        # strangers: a random direction each, seen 10 times with noise (cosine ≈ 0.96 to it)
        centres = rng.standard_normal((CROWD_STRANGERS, 192))
        seen = np.repeat(centres, 10, axis=0) + 0.3 * rng.standard_normal((CROWD_STRANGERS * 10, 192))
        gallery.add_unknowns(seen.astype(np.float32), "mobilefacenet",
                             sources=[f"alert:{alert_ids[i]}" for i in range(len(seen))])
        sightings = SightingStore(gallery)
        for i in range(60):
            entered = start + timedelta(hours=5 * i)
            sightings.add(Sighting("person:person0001", "person0001", CROWD_CAMERAS[i % 3], CROWD_CAMERAS[i % 3], i,
                                   entered.isoformat(), (entered + timedelta(minutes=4)).isoformat(), 0.0, 240.0, 0.8))
    happy = {"happy": 0.8, "neutral": 0.2}
    calm = {"happy": 0.1, "neutral": 0.9}
    with ObservationStore(server.db) as store:
        store.add(Observation(start + timedelta(days=day, hours=hour), place, f"{place}-{day}-{hour}-{n}",
                              happy if rng.random() < 0.3 + 0.1 * k else calm, camera=place)
                  for k, place in enumerate(CROWD_CAMERAS) for day in range(56) for hour in (9, 13, 17) for n in range(20))
    return {"people": CROWD_PEOPLE, "alerts": CROWD_ALERTS}


def ready_ms(page) -> tuple[float, float]:
    """(milliseconds from the start of the navigation to the page showing its data, the longest
    API request made before that): the second part is the server's share of the first."""
    return tuple(page.evaluate("""() => {
        const ready = performance.getEntriesByName('facelens-ready')[0].startTime;
        const api = performance.getEntriesByType('resource')
            .filter((e) => e.name.includes('/api/v1/') && e.responseEnd <= ready)
            .map((e) => e.responseEnd - e.startTime);
        return [ready, Math.max(0, ...api)];
    }"""))
