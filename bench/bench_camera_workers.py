"""Camera workers: threads against processes (``[server] camera_workers``), frames per second
summed over 1..N cameras looping tests/data/video/corridor.mp4 (720p, two people) in the server's
camera daemon, writing to a real gallery database (alerts, sightings) as the server does.

    python bench/bench_camera_workers.py --cameras 1 2 --seconds 20 --json runs/bench-camera-workers.json

Each configuration opens a fresh server state (``ServerState.open``: gallery, stores, event bus,
daemon — no HTTP), starts the cameras, waits until every camera is running and has delivered
frames (model loading and process start-up are not counted), then counts the frames delivered in
``--seconds`` and stops everything. Every camera detects every ``--detect-every`` frames (fixed,
so both kinds do the same work per frame); FACELENS_THREADS (ONNX Runtime threads per model) is
``--threads`` for both.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
VIDEO = ROOT / "tests" / "data" / "video"


def config(kind: str, cameras: int, detect_every: int) -> str:
    blocks = "".join(f"""
[[cameras]]
id = "cam{i}"
source = "{VIDEO / 'corridor.mp4'}"
watchlist = "bench"
loop = true
detect_every = {detect_every}
""" for i in range(cameras))
    return f'[server]\ncamera_workers = "{kind}"\n\n[watchlists.bench]\ncooldown_s = 0\n{blocks}'


def measure(kind: str, cameras: int, seconds: float, detect_every: int, folder: Path) -> dict:
    from facelens.server.config import load_settings
    from facelens.server.state import ServerState

    path = folder / f"{kind}-{cameras}.toml"
    path.write_text(config(kind, cameras, detect_every))
    settings = load_settings(path, db=str(folder / f"{kind}-{cameras}.db"))
    state = ServerState.open(settings, asyncio.new_event_loop())
    try:
        _enrol(state)
        state.daemon.start_configured()
        deadline = time.monotonic() + 180
        while not all(w.state == "running" and w.frames > 0 for w in state.daemon.workers.values()):
            if time.monotonic() > deadline:
                raise SystemExit(f"{kind} × {cameras}: cameras did not start: {state.daemon.states()}")
            time.sleep(0.1)
        before, began = sum(w.frames for w in state.daemon.workers.values()), time.monotonic()
        time.sleep(seconds)
        after, ended = sum(w.frames for w in state.daemon.workers.values()), time.monotonic()
        alerts = sum(w.alerts for w in state.daemon.workers.values())
    finally:
        state.close()
    fps = (after - before) / (ended - began)
    return {"workers": kind, "cameras": cameras, "frames": after - before, "seconds": round(ended - began, 2),
            "fps_total": round(fps, 1), "fps_per_camera": round(fps / cameras, 1), "alerts": alerts}


def _enrol(state) -> None:
    """obama and sheldon on the bench watchlist: the cameras match and alert as in production."""
    from facelens.usecases.enrolment import enrol

    for name, photos in {"obama": ["obama_obama.jpg"], "sheldon": ["sheldon_sheldon1.png", "sheldon_sheldon2.png"]}.items():
        enrol(state.gallery, name, [(VIDEO / "enrol" / p).read_bytes() for p in photos],
              metadata={"watchlist": "bench"}, force=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cameras", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--kinds", nargs="+", default=["threads", "processes"])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--detect-every", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="FACELENS_THREADS for every model")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    os.environ["FACELENS_THREADS"] = str(args.threads)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-cameras-") as tmp:
        os.environ.setdefault("FACELENS_KEY", base64.b64encode(os.urandom(32)).decode())
        for cameras in args.cameras:
            for kind in args.kinds:
                row = measure(kind, cameras, args.seconds, args.detect_every, Path(tmp))
                rows.append(row)
                print(f"{kind:9} × {cameras}: {row['fps_total']:6.1f} frames/s total "
                      f"({row['fps_per_camera']:.1f} per camera, {row['frames']} frames in {row['seconds']} s)",
                      flush=True)
    report = {"cpus": os.cpu_count(), "load_before": os.getloadavg(), "detect_every": args.detect_every,
              "threads_per_model": args.threads, "rows": rows}
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
