"""The server under load: 200 concurrent clients on /api/v1/identify and /api/v1/verify for 60 s
each, against a 10k-template gallery, beside the same calls made in-process — the ratio is what
HTTP, auth, multipart and the worker queue cost.

    nice -n 10 python bench/bench_service.py --json runs/bench-service.json

The gallery: ``--templates`` − 2 synthetic unit vectors (192-d, MobileFaceNet's size) enrolled
through the library (``Gallery.enrol_records``, one identity each) plus two real people
(obama.jpg, biden.jpg from tests/data, enrolled from the photos). Probes are real photos:
identify obama2.jpg (must come back as "obama"), verify obama.jpg against obama2.jpg.

The server runs as ``facelens serve`` in a subprocess on a free loopback port, with ``--workers``
recognition threads and a queue long enough for every client (so nothing is refused: any
non-200 answer or transport error counts as an error). The client is one asyncio loop with
httpx, bounded by ``--clients`` concurrent requests, ``--seconds`` per endpoint and
``--max-requests``. In-process: the same use-case calls from ``--workers`` threads for
``--inprocess-seconds`` (the server's own parallelism, without HTTP).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
FACES = ROOT / "tests" / "data" / "faces"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def build_gallery(db: Path, key: str, templates: int, seed: int = 0) -> dict:
    from facelens.gallery import EnrolRecord, Gallery, Template
    from facelens.server.auth import KeyStore
    from facelens.usecases.enrolment import enrol

    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((templates - 2, 192)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    with Gallery(db, key=key) as gallery:
        for start in range(0, len(vectors), 5000):
            gallery.enrol_records([EnrolRecord(f"synthetic-{i:06d}", [Template(vectors[i], "mobilefacenet")])
                                   for i in range(start, min(start + 5000, len(vectors)))])
        enrol(gallery, "obama", [FACES / "obama.jpg"])
        enrol(gallery, "biden", [FACES / "biden.jpg"])
        client_key = KeyStore(gallery).create("bench", "viewer", by="bench")["key"]
        count = len(gallery)
    return {"identities": count, "seconds": round(time.perf_counter() - started, 1), "key": client_key}


def in_process(db: Path, key: str, workers: int, seconds: float) -> dict:
    """Calls per second and latency of the use cases themselves, from ``workers`` threads."""
    from facelens.gallery import Gallery
    from facelens.server.state import SharedGallery
    from facelens.usecases.faces import verify
    from facelens.usecases.identification import identify

    probe, a = (FACES / "obama2.jpg").read_bytes(), (FACES / "obama.jpg").read_bytes()
    out = {}
    with Gallery(db, key=key) as opened:
        gallery = SharedGallery(opened)
        calls = {"identify": lambda: identify(gallery, probe, top_k=5),
                 "verify": lambda: verify(a, probe)}
        assert calls["identify"]().faces[0].identity == "obama"
        for name, call in calls.items():
            call()  # models loaded, index built
            latencies: list[float] = []
            deadline = time.perf_counter() + seconds
            began = time.perf_counter()
            with ThreadPoolExecutor(workers) as pool:
                for future in [pool.submit(_repeat, call, deadline, latencies) for _ in range(workers)]:
                    future.result()
            elapsed = time.perf_counter() - began
            out[name] = {"calls": len(latencies), "per_second": round(len(latencies) / elapsed, 2),
                         "p50_ms": round(1000 * statistics.median(latencies), 1)}
    return out


def _repeat(call, deadline: float, latencies: list[float]) -> None:
    while time.perf_counter() < deadline:
        began = time.perf_counter()
        call()
        latencies.append(time.perf_counter() - began)


def start_server(db: Path, key: str, folder: Path, workers: int, clients: int) -> tuple[subprocess.Popen, str]:
    import httpx

    config = folder / "bench.toml"
    config.write_text(f"[server]\nworkers = {workers}\nqueue = {clients * 2}\nrate_per_minute = 1e9\n"
                      f"rate_burst = 1000000\nrequest_timeout_s = 600\n")
    port = free_port()
    env = dict(os.environ, FACELENS_KEY=key, XDG_DATA_HOME=str(folder / "xdg"), XDG_CONFIG_HOME=str(folder / "xdg"))
    env.pop("FACELENS_DB", None)
    log = (folder / "server.log").open("wb")
    process = subprocess.Popen([sys.executable, "-m", "facelens", "serve", "--host", "127.0.0.1", "--port", str(port),
                                "--db", str(db), "--config", str(config)], env=env, stdout=log,
                               stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                return process, base
        except httpx.TransportError:
            time.sleep(0.2)
        if process.poll() is not None:
            break
    process.kill()
    raise SystemExit("the server did not start:\n" + (folder / "server.log").read_text()[-3000:])


async def load(base: str, key: str, endpoint: str, clients: int, seconds: float, max_requests: int) -> dict:
    """``clients`` concurrent requests in flight until ``seconds`` pass or ``max_requests`` were sent."""
    import httpx

    assert base.startswith("http://127.0.0.1:"), "loopback only"
    files = {"identify": lambda: {"image": ("obama2.jpg", probe, "image/jpeg")},
             "verify": lambda: {"a": ("obama.jpg", first, "image/jpeg"), "b": ("obama2.jpg", probe, "image/jpeg")}}
    probe, first = (FACES / "obama2.jpg").read_bytes(), (FACES / "obama.jpg").read_bytes()
    latencies: list[float] = []
    errors: dict[str, int] = {}
    sent = 0
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, headers={"X-API-Key": key}, timeout=600, limits=limits) as client:
        warm = await client.post(f"/api/v1/{endpoint}", files=files[endpoint]())
        assert warm.status_code == 200, warm.text
        if endpoint == "identify":
            assert warm.json()["faces"][0]["identity"] == "obama", warm.text
        deadline = time.perf_counter() + seconds

        async def one_client() -> None:
            nonlocal sent
            while time.perf_counter() < deadline and sent < max_requests:
                sent += 1
                began = time.perf_counter()
                try:
                    response = await client.post(f"/api/v1/{endpoint}", files=files[endpoint]())
                    if response.status_code == 200:
                        latencies.append(time.perf_counter() - began)
                    else:
                        errors[str(response.status_code)] = errors.get(str(response.status_code), 0) + 1
                except httpx.HTTPError as exc:
                    errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1

        began = time.perf_counter()
        await asyncio.gather(*[one_client() for _ in range(clients)])
        elapsed = time.perf_counter() - began
    ordered = sorted(latencies)
    return {"endpoint": endpoint, "clients": clients, "seconds": round(elapsed, 1), "ok": len(latencies),
            "errors": sum(errors.values()), "error_kinds": errors,
            "per_second": round(len(latencies) / elapsed, 2),
            "p50_ms": round(1000 * ordered[len(ordered) // 2], 1) if ordered else None,
            "p99_ms": round(1000 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))], 1) if ordered else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--templates", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=60.0, help="per endpoint")
    parser.add_argument("--max-requests", type=int, default=200_000, help="per endpoint, a safety bound")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="server recognition threads")
    parser.add_argument("--inprocess-seconds", type=float, default=20.0)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    key = base64.b64encode(os.urandom(32)).decode()
    with tempfile.TemporaryDirectory(prefix="bench-service-") as tmp:
        folder = Path(tmp)
        db = folder / "bench.db"
        built = build_gallery(db, key, args.templates)
        print(f"gallery: {built['identities']} identities in {built['seconds']} s", flush=True)
        direct = in_process(db, key, args.workers, args.inprocess_seconds)
        print(f"in-process ({args.workers} threads): {json.dumps(direct)}", flush=True)
        process, base = start_server(db, key, folder, args.workers, args.clients)
        try:
            served = {}
            for endpoint in ("identify", "verify"):
                served[endpoint] = asyncio.run(load(base, built["key"], endpoint, args.clients, args.seconds,
                                                    args.max_requests))
                print(json.dumps(served[endpoint]), flush=True)
        finally:
            process.terminate()
            process.wait(timeout=30)
    result = {"templates": built["identities"], "workers": args.workers, "cpu_count": os.cpu_count(),
              "load_average_after": os.getloadavg(), "in_process": direct, "server": served,
              "overhead_ratio": {e: round(direct[e]["per_second"] / served[e]["per_second"], 2)
                                 for e in served if served[e]["per_second"]}}
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
