"""`facelens watch` and `facelens timeline`: parse, call facelens.video, print."""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

import typer

from .common import note as _note

DB_HELP = "Gallery database (SQLite path or postgresql:// URL; default $FACELENS_DB or the data dir)."
TIMELINE_HELP = "Time line database (SQLite; default <data dir>/timeline.db)."


def register(app: typer.Typer) -> None:
    app.command("watch")(watch)
    app.command("timeline")(timeline)


def _per_source(values: list[str], count: int, what: str) -> list[Optional[str]]:
    from ..errors import BadInputError

    if not values:
        return [None] * count
    if len(values) == 1 and count > 1 and what == "--location":
        return values * count
    if len(values) != count:
        raise BadInputError(f"give {what} once per SOURCE ({count}), not {len(values)} times")
    return list(values)


def _people(items: list[str]) -> dict[str, list[str]]:
    from ..errors import BadInputError

    people: dict[str, list[str]] = {}
    for item in items:
        if "=" not in item:
            raise BadInputError(f"--person takes NAME=IMAGE, not {item!r}")
        name, image = item.split("=", 1)
        people.setdefault(name.strip(), []).append(image)
    return people


def _start(value: Optional[str]) -> Optional[datetime]:
    from ..errors import BadInputError

    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadInputError(f"--start-time must be an ISO time such as 2026-01-31T09:00:00Z, not {value!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def watch(
    sources: list[str] = typer.Argument(..., help="Video files, image folders, webcam indexes (0) or rtsp:// / http:// URLs."),
    watchlist: Optional[str] = typer.Option(None, "--watchlist", help="Only alert on gallery identities whose metadata watchlist= names this list."),
    camera_id: list[str] = typer.Option([], "--camera-id", help="Camera id, once per SOURCE (default: from the file name / URL)."),
    location: list[str] = typer.Option([], "--location", help="Location label, once per SOURCE (or once for all)."),
    alerts: list[str] = typer.Option([], "--alerts", help="Alert sink: a .jsonl FILE, an http(s):// webhook URL, or - for stdout (repeatable)."),
    dead_letter: Optional[Path] = typer.Option(None, help="Where undeliverable webhook alerts are kept (default alerts.dead-letter.jsonl)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Annotated video (one file per camera when several)."),
    db: Optional[str] = typer.Option(None, "--db", help=DB_HELP),
    person: list[str] = typer.Option([], "--person", help="Watch for NAME=IMAGE instead of a gallery (repeatable)."),
    timeline_db: Optional[Path] = typer.Option(None, "--timeline", help=TIMELINE_HELP),
    no_timeline: bool = typer.Option(False, "--no-timeline", help="Do not record sightings."),
    report_unknown: bool = typer.Option(False, help="Also alert on tracks that match nobody."),
    threshold: Optional[float] = typer.Option(None, help="Similarity threshold (default: the calibrated one)."),
    detect_every: Optional[int] = typer.Option(None, min=1, help="Detect every N frames (default: adaptive to load)."),
    cooldown: float = typer.Option(30.0, help="Seconds before the same identity alerts again on a camera."),
    max_width: Optional[int] = typer.Option(None, help="Downscale wider frames to this width first."),
    start_time: Optional[str] = typer.Option(None, help="Wall-clock time of the first frame of files (ISO; default now)."),
    model: str = typer.Option("mobilefacenet", help="Embedding model."),
    progress: bool = typer.Option(True, help="Progress bar for files (on stderr)."),
    as_json: bool = typer.Option(False, "--json", help="Print the run summary as one JSON object."),
) -> None:
    """Watch cameras or files for watchlist identities: tracks, alerts, annotated video, summary."""
    from ..errors import SourceError
    from ..video.alerts import AlertManager, sink_for
    from ..video.identity import GalleryWatchlist, MemoryWatchlist
    from ..video.linking import Linker, TimelineStore
    from ..video.watch import SourceSpec, WatchConfig
    from ..video.watch import watch as run_watch

    logging.basicConfig(level=logging.WARNING, format="facelens: %(levelname)s: %(message)s")
    ids = _per_source(camera_id, len(sources), "--camera-id")
    places = _per_source(location, len(sources), "--location")
    options = {"max_width": max_width} if max_width else {}
    specs = [SourceSpec(s, c, p, options) for s, c, p in zip(sources, ids, places)]
    config = WatchConfig(model=model, detect_every=detect_every, report_unknown=report_unknown,
                         threshold=threshold, cooldown=cooldown)
    stdout_taken = "-" in alerts
    sinks = [sink_for(target, dead_letter) for target in alerts]
    if not alerts:
        sinks = [_PrintSink()]
    gallery = None
    try:
        if person:
            if watchlist:
                _note("--watchlist is ignored with --person")
            wl = MemoryWatchlist.from_images(_people(person), model=model, threshold=threshold)
        else:
            from ..gallery import Gallery

            gallery = Gallery(db)
            wl = GalleryWatchlist(gallery, watchlist, model=model, threshold=threshold)
        store = None if no_timeline else TimelineStore(timeline_db)
        linker = Linker(store)
        manager = AlertManager(sinks, cooldown=cooldown)
        show_bar = progress and sys.stderr.isatty()
        try:
            summary = run_watch(specs, wl, config=config, out=out, linker=linker, progress=show_bar,
                                alerts=manager, started_at=_start(start_time))
        finally:
            manager.close()
            if store is not None:
                store.close()
    finally:
        if gallery is not None:
            gallery.close()
    result = summary.to_dict()
    result["run_id"] = linker.run_id
    if len(summary.failed) < len(specs):
        for failed in summary.failed:
            _note(f"camera {failed.camera_id} stopped: {failed.error}")
    if as_json:
        print(json.dumps(result), file=sys.stderr if stdout_taken else sys.stdout)
    else:
        stream = sys.stderr if stdout_taken else sys.stdout
        for cam in result["cameras"]:
            status = f"  ERROR: {cam['error']}" if cam["error"] else ""
            print(f"{cam['camera_id']}: {cam['frames']} frames, {cam['faces']} faces, {cam['tracks']} tracks, "
                  f"{cam['alerts']} alerts, {cam['fps']:.1f} fps (detect every {cam['mean_detect_every']:.1f}){status}",
                  file=stream)
        print(f"total: {result['frames']} frames, {result['tracks']} tracks, {result['alerts']} alerts, "
              f"{result['unknown_alerts']} unknown, {result['fps']:.1f} fps in {result['seconds']:.1f} s", file=stream)
    if len(summary.failed) == len(specs):
        raise SourceError("no camera delivered frames: " + "; ".join(f"{c.camera_id}: {c.error}" for c in summary.failed))


class _PrintSink:
    """Default sink: one readable line per alert on stdout."""

    def emit(self, alert) -> None:
        who = alert.identity or "unknown person"
        sim = f" similarity {alert.similarity:.2f}" if alert.similarity is not None else ""
        where = f" ({alert.location})" if alert.location else ""
        print(f"ALERT {who}{sim} camera {alert.camera_id}{where} track {alert.track_id} frame {alert.frame} "
              f"seen {alert.first_seen:.1f}–{alert.last_seen:.1f} s ({alert.first_seen_utc})", flush=True)

    def close(self) -> None:
        pass


def timeline(
    person: str = typer.Argument(..., help="Identity name or global id (person:NAME, unknown:RUN:N)."),
    timeline_db: Optional[Path] = typer.Option(None, "--timeline", help=TIMELINE_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """A person's time line across cameras: camera, location, entered, left."""
    from ..errors import NotFoundError
    from ..video.linking import TimelineStore, default_path

    path = timeline_db or default_path()
    if not Path(path).exists():
        raise NotFoundError(f"no time line database at {path} (run `facelens watch` first)")
    store = TimelineStore(path)
    try:
        rows = store.timeline(person)
    finally:
        store.close()
    if as_json:
        print(json.dumps({"person": person, "sightings": [r.to_dict() for r in rows]}))
        return
    print(f"{person}: {len(rows)} sighting(s)")
    print(f"{'camera':<14} {'location':<16} {'entered':<26} {'left':<26} global id")
    for r in rows:
        print(f"{r.camera_id:<14} {(r.location or '-'):<16} {r.entered:<26} {r.left:<26} {r.global_id}")
