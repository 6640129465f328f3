"""`facelens watch` and `facelens timeline`: parse, call facelens.usecases.watch, print."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Optional

import typer

from ..constants import DEFAULT_MODEL
from ..usecases.inputs import parse_people, parse_utc
from .common import note as _note

DB_HELP = "Gallery database (SQLite path or postgresql:// URL; default $FACELENS_DB or the data dir)."
TIMELINE_HELP = "Time line database (SQLite; default <data dir>/timeline.db)."


def register(app: typer.Typer) -> None:
    app.command("watch")(watch)
    app.command("timeline")(timeline)


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
    model: str = typer.Option(DEFAULT_MODEL, help="Embedding model."),
    record_unknowns: bool = typer.Option(False, help="Keep unknown people's faces (encrypted) in the gallery for `gallery cluster`."),
    reconnect: Optional[int] = typer.Option(None, min=0, help="Live cameras: give up after N failed reconnects in a row (default: retry while watching)."),
    max_backoff: float = typer.Option(8.0, min=0.1, help="Live cameras: longest wait between reconnect attempts (s)."),
    progress: bool = typer.Option(True, help="Progress bar for files (on stderr)."),
    as_json: bool = typer.Option(False, "--json", help="Print the run summary as one JSON object."),
) -> None:
    """Watch cameras or files for watchlist identities: tracks, alerts, annotated video, summary."""
    from ..usecases.watch import WatchRequest
    from ..usecases.watch import watch as run_watch

    logging.basicConfig(level=logging.WARNING, format="facelens: %(levelname)s: %(message)s")
    request = WatchRequest(
        sources=sources, camera_ids=camera_id, locations=location, people=parse_people(person), db=db,
        watchlist=watchlist, alerts=alerts, dead_letter=dead_letter, out=out, timeline=timeline_db,
        record_timeline=not no_timeline, report_unknown=report_unknown, threshold=threshold,
        detect_every=detect_every, cooldown=cooldown, max_width=max_width,
        start_time=parse_utc(start_time, "--start-time"), model=model, record_unknowns=record_unknowns,
        reconnect=reconnect, max_backoff=max_backoff)
    result = run_watch(request, on_alert=None if alerts else _print_alert, progress=progress and sys.stderr.isatty(),
                       notify=_note)
    if not result.nothing_ran:
        for failed in result.failed:
            _note(f"camera {failed.camera_id} stopped: {failed.error}")
    summary = result.to_dict()
    stream = sys.stderr if request.alerts_to_stdout else sys.stdout  # stdout carries the alerts then
    if as_json:
        print(json.dumps(summary), file=stream)
    else:
        for cam in summary["cameras"]:
            status = f"  ERROR: {cam['error']}" if cam["error"] else ""
            print(f"{cam['camera_id']}: {cam['frames']} frames, {cam['faces']} faces, {cam['tracks']} tracks, "
                  f"{cam['alerts']} alerts, {cam['fps']:.1f} fps (detect every {cam['mean_detect_every']:.1f}){status}",
                  file=stream)
        print(f"total: {summary['frames']} frames, {summary['tracks']} tracks, {summary['alerts']} alerts, "
              f"{summary['unknown_alerts']} unknown, {summary['fps']:.1f} fps in {summary['seconds']:.1f} s", file=stream)
    result.raise_if_nothing_ran()


def _print_alert(alert) -> None:
    """Without --alerts: one readable line per alert on stdout."""
    who = alert.identity or "unknown person"
    sim = f" similarity {alert.similarity:.2f}" if alert.similarity is not None else ""
    where = f" ({alert.location})" if alert.location else ""
    print(f"ALERT {who}{sim} camera {alert.camera_id}{where} track {alert.track_id} frame {alert.frame} "
          f"seen {alert.first_seen:.1f}–{alert.last_seen:.1f} s ({alert.first_seen_utc})", flush=True)


def timeline(
    person: Optional[str] = typer.Argument(None, help="Identity name or global id (person:NAME, unknown:RUN:N); none: list every global id."),
    timeline_db: Optional[Path] = typer.Option(None, "--timeline", help=TIMELINE_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """A person's time line across cameras: camera, location, entered, left (no PERSON: everyone)."""
    from ..usecases.watch import people
    from ..usecases.watch import timeline as read_timeline

    if person is None:
        rows = people(timeline_db)
        if as_json:
            print(json.dumps({"people": rows}))
            return
        print(f"{'global id':<28} {'identity':<20} {'sightings':>9}  {'cameras':<20} first entered")
        for r in rows:
            print(f"{r['global_id']:<28} {(r['identity'] or '-'):<20} {r['sightings']:>9}  "
                  f"{','.join(r['cameras']):<20} {r['first_entered']}")
        return

    result = read_timeline(person, timeline_db)
    if as_json:
        print(json.dumps(result.to_dict()))
        return
    print(f"{person}: {len(result.sightings)} sighting(s)")
    print(f"{'camera':<14} {'location':<16} {'entered':<26} {'left':<26} global id")
    for r in result.sightings:
        print(f"{r.camera_id:<14} {(r.location or '-'):<16} {r.entered:<26} {r.left:<26} {r.global_id}")
