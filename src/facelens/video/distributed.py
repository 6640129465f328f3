"""Beyond one machine: many cameras or a large archive on Ray, sharing one watchlist.

Two modes (``pip install "facelens[video]"`` installs Ray):

* ``watch_streams`` — one actor per camera (live streams or files). Each actor runs the same
  ``CameraWatcher`` as ``facelens watch`` and sends its alerts straight to its own sinks (JSON
  Lines file, webhook), so alert latency does not depend on the other cameras.
* ``watch_archive`` — one task per chunk of a long file (``chunk_frames`` frames each). Chunks
  cannot de-duplicate against each other, so their alerts and finished tracks come back to the
  driver, whose ``AlertManager`` — the same code as in-process — learns every visit and then
  de-duplicates the alerts (stream timestamps are absolute) and sends them.

Sharing the gallery: a ``MemoryWatchlist`` is put once in Ray's object store (``ray.put``) and
every actor reads the same copy (zero-copy numpy on one node, fetched once per node on a
cluster). A ``GallerySpec`` makes each actor open the gallery itself — use a ``postgresql://``
URL on a cluster so every node sees the same database (a SQLite file only works on one node).

Global ids: actors return their finished tracks (identity + averaged embedding, never images)
and the driver's ``Linker`` assigns global ids and writes the time line, exactly as in-process.

On a cluster: start Ray on the nodes (``ray start --head`` / ``ray start --address=HEAD:6379``)
and pass ``address="auto"`` (or ``ray://HEAD:10001``); each actor asks for ``cpus_per_actor``
CPUs and runs its models with that many threads (FACELENS_THREADS), so Ray packs cameras onto
nodes by CPU count.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any

from ..constants import DEFAULT_MODEL
from ..errors import FacelensError
from .alerts import Alert, AlertManager, CallbackSink, sink_for
from .identity import GalleryWatchlist, MemoryWatchlist
from .linking import Linker
from .watch import CameraSummary, RunSummary, SourceSpec, WatchConfig


@dataclass(frozen=True)
class GallerySpec:
    """How an actor opens the shared gallery itself (db URL/path, optional watchlist name)."""

    db: str | None = None
    watchlist: str | None = None
    model: str = DEFAULT_MODEL
    threshold: float | None = None

    def open(self):
        from ..gallery import Gallery

        gallery = Gallery(self.db)
        return gallery, GalleryWatchlist(gallery, self.watchlist, self.model, self.threshold)


class _Recorder(Linker):
    """Collects finished tracks in the actor; the driver links them (global ids need all cameras)."""

    def __init__(self) -> None:
        super().__init__(None)
        self.finished: list[dict[str, Any]] = []

    def link(self, **track: Any):  # type: ignore[override]
        self.finished.append(track)


def _run_camera(source: SourceSpec, watchlist: Any, config: WatchConfig, sinks: list[str],
                dead_letter: str | None, started_at: datetime | None, emit: bool) -> dict[str, Any]:
    """Body shared by actors and chunk tasks: returns summary, alerts and finished tracks."""
    from .watch import watch

    gallery = None
    if isinstance(watchlist, GallerySpec):
        gallery, watchlist = watchlist.open()
    collected: list[Alert] = []
    targets = [sink_for(t, dead_letter) for t in sinks] if emit else []
    manager = AlertManager([*targets, CallbackSink(collected.append)], cooldown=config.cooldown)
    recorder = _Recorder()
    try:
        summary = watch([source], watchlist, config=config, linker=recorder, alerts=manager,
                        started_at=started_at)
    finally:
        manager.close()
        if gallery is not None:
            gallery.close()
    return {"summary": summary.cameras[0] if summary.cameras else None,
            "alerts": collected, "tracks": recorder.finished}


def _ray():
    try:
        import ray
    except ImportError as exc:  # pragma: no cover - depends on the optional extra
        raise FacelensError('distributed mode needs Ray: pip install "facelens[video]"') from exc
    return ray


def _init(ray, address: str | None, num_cpus: int | None) -> None:
    if not ray.is_initialized():
        options: dict[str, Any] = {"ignore_reinit_error": True, "log_to_driver": False}
        if address:
            options["address"] = address
        else:
            options.update(num_cpus=num_cpus, include_dashboard=False)
        ray.init(**options)


def _link(results: list[dict[str, Any]], linker: Linker | None) -> None:
    if linker is None:
        return
    for result in results:
        for track in sorted(result["tracks"], key=lambda t: t["first_seen"]):
            linker.link(**track)


def watch_streams(sources: list[Any], watchlist: MemoryWatchlist | GallerySpec,
                  config: WatchConfig = WatchConfig(), alerts: list[str] = (),
                  dead_letter: str | None = None, linker: Linker | None = None,
                  address: str | None = None, num_cpus: int | None = None,
                  cpus_per_actor: float = 1.0, started_at: datetime | None = None) -> RunSummary:
    """One Ray actor per source; alerts go to ``alerts`` sinks from the actors.

    Each actor reserves ``cpus_per_actor`` CPUs for its life: live cameras beyond the cluster's
    CPU count wait for a slot, so give fractions (0.5 → two cameras per core) to oversubscribe."""
    ray = _ray()
    _init(ray, address, num_cpus)
    threads = max(1, int(cpus_per_actor))

    @ray.remote(num_cpus=cpus_per_actor, runtime_env={"env_vars": {"FACELENS_THREADS": str(threads)}})
    class CameraActor:
        def run(self, source, shared, config, sinks, dead_letter, started_at):
            return _run_camera(source, shared, config, sinks, dead_letter, started_at, emit=True)

    shared = ray.put(watchlist)
    started_at = started_at or datetime.now(timezone.utc)  # one clock for every file source
    specs = [s if isinstance(s, SourceSpec) else SourceSpec(s) for s in sources]
    started = time.perf_counter()
    actors = [CameraActor.remote() for _ in specs]
    futures = [a.run.remote(s, shared, config, list(alerts), dead_letter, started_at) for a, s in zip(actors, specs)]
    results: list[dict[str, Any] | None] = [None] * len(specs)
    pending = dict(zip(futures, range(len(specs))))
    while pending:
        done, _ = ray.wait(list(pending), num_returns=1)
        index = pending.pop(done[0])
        spec = specs[index]
        try:
            results[index] = ray.get(done[0])
        except Exception as exc:  # noqa: BLE001 - an actor that died must not hide the others
            camera = spec.camera_id or str(spec.spec)
            results[index] = {"summary": CameraSummary(camera, spec.location, str(spec.spec),
                                                       error=f"actor failed: {exc}"), "alerts": [], "tracks": []}
        ray.kill(actors[index])  # free its CPUs at once: cameras waiting for a slot can start
    _link(results, linker)
    return RunSummary([r["summary"] for r in results if r["summary"] is not None],
                      time.perf_counter() - started, [a for r in results for a in r["alerts"]])


def watch_archive(path: str, watchlist: MemoryWatchlist | GallerySpec, config: WatchConfig = WatchConfig(),
                  alerts: list[str] = (), chunk_frames: int = 900, camera_id: str | None = None,
                  location: str | None = None, linker: Linker | None = None, address: str | None = None,
                  num_cpus: int | None = None, started_at: datetime | None = None) -> RunSummary:
    """One Ray task per chunk of ``chunk_frames`` frames of a long file; the driver de-duplicates
    the chunks' alerts and sends them to ``alerts``. Tracks crossing a chunk boundary are split
    (the linker gives both halves the same global id)."""
    from .sources import open_source

    ray = _ray()
    _init(ray, address, num_cpus)
    with open_source(path, camera_id, location) as probe:
        total = probe.frame_count or 0
        camera = probe.camera_id
    if total <= 0:
        raise FacelensError(f"{path}: frame count unknown; archive mode needs a seekable file")
    started_at = started_at or datetime.now(timezone.utc)

    @ray.remote(num_cpus=1, runtime_env={"env_vars": {"FACELENS_THREADS": "1"}})
    def chunk(source, shared, config, started_at):
        return _run_camera(source, shared, config, [], None, started_at, emit=False)

    shared = ray.put(watchlist)
    started = time.perf_counter()
    futures = [chunk.remote(SourceSpec(path, camera, location, {"start_frame": s, "end_frame": min(s + chunk_frames, total)}),
                            shared, config, started_at) for s in range(0, total, chunk_frames)]
    results = ray.get(futures)
    manager = AlertManager([sink_for(t) for t in alerts], cooldown=config.cooldown)
    # The same AlertManager rule as in-process: it first learns every chunk's visits (the
    # finished tracks known as someone), then judges the alerts in time order.
    for number, result in enumerate(results):
        for track in result["tracks"]:
            if track.get("identity"):
                manager.seen(track["camera_id"], track["identity"], track["last_seen"],
                             track["track_id"] + 1_000_000 * number, track["first_seen"])
    kept: list[Alert] = []
    chunk_alerts = [(alert.first_seen, number, alert) for number, result in enumerate(results) for alert in result["alerts"]]
    for _, number, alert in sorted(chunk_alerts, key=lambda item: (item[0], item[1])):
        # track ids restart in every chunk: make them unique before de-duplicating
        unique = replace(alert, track_id=alert.track_id + 1_000_000 * number)
        if manager.offer(unique):
            kept.append(unique)
    manager.close()
    _link(results, linker)
    summaries = [r["summary"] for r in results if r["summary"] is not None]
    merged = CameraSummary(camera, location, path,
                           frames=sum(s.frames for s in summaries),
                           detection_frames=sum(s.detection_frames for s in summaries),
                           faces=sum(s.faces for s in summaries), embedded=sum(s.embedded for s in summaries),
                           tracks=sum(s.tracks for s in summaries), alerts=sum(a.kind == "match" for a in kept),
                           unknown_alerts=sum(a.kind == "unknown" for a in kept),
                           error="; ".join(s.error for s in summaries if s.error) or None)
    merged.seconds = time.perf_counter() - started
    merged.fps = merged.frames / merged.seconds if merged.seconds else 0.0
    return RunSummary([merged], merged.seconds, kept)
