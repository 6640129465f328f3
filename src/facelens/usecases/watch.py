"""Watch cameras or files for watchlist identities, and read a person's time line back.

``watch`` does the wiring a user asks for in one request: sources with camera ids and
locations, a watchlist (people given as images, or gallery identities on a named list), alert
sinks, cross-camera linking into a time line store, and an annotated output video.

    result = watch(WatchRequest(["door.mp4"], people={"alice": ["alice.jpg"]}, alerts=["alerts.jsonl"]))
    print(result.to_dict()["alerts"])
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Sequence

from ..errors import NotFoundError, SourceError
from ..constants import DEFAULT_MODEL
from .inputs import per_source

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WatchRequest:
    """What to watch, for whom, and where alerts and sightings go.

    ``sources``: video files, image folders, webcam indexes ('0') or rtsp:// / http:// URLs.
    ``camera_ids``: once per source (default: from the file name / URL); ``locations``: once per
    source or once for all. Watchlist: ``people`` (name → images) or else the gallery at ``db``,
    limited to identities whose metadata ``watchlist=`` names ``watchlist`` when given.
    ``alerts``: sink targets — a .jsonl file, an http(s):// webhook, or '-' for stdout.
    ``timeline``: the time line database (default <data dir>/timeline.db); ``record_timeline``
    False keeps sightings in memory only. ``start_time``: wall-clock time of a file's first frame.
    """

    sources: Sequence[str]
    camera_ids: Sequence[str] = ()
    locations: Sequence[str] = ()
    people: Mapping[str, Sequence[str]] = field(default_factory=dict)
    db: Optional[str] = None
    watchlist: Optional[str] = None
    alerts: Sequence[str] = ()
    dead_letter: Optional[Path] = None
    out: Optional[Path] = None
    timeline: Optional[Path] = None
    record_timeline: bool = True
    report_unknown: bool = False
    threshold: Optional[float] = None
    detect_every: Optional[int] = None
    cooldown: float = 30.0
    max_width: Optional[int] = None
    start_time: Optional[datetime] = None
    model: str = DEFAULT_MODEL
    record_unknowns: bool = False  # unknown tracks' embeddings into the gallery (for `gallery cluster`)
    reconnect: Optional[int] = None  # live sources: give up after N failed attempts in a row (None: never)
    max_backoff: float = 8.0  # live sources: longest wait between reconnect attempts (seconds)

    @property
    def alerts_to_stdout(self) -> bool:
        """True when a sink writes alerts to stdout (a caller's own output then goes elsewhere)."""
        return "-" in self.alerts


@dataclass(frozen=True)
class WatchResult:
    """The run summary (video.watch.RunSummary) and the run id its global ids are made from."""

    summary: Any
    run_id: str

    @property
    def failed(self) -> list:
        """Camera summaries of the sources that stopped with an error."""
        return self.summary.failed

    @property
    def nothing_ran(self) -> bool:
        """No camera delivered a single frame (a camera that stopped after delivering some did run)."""
        return self.summary.delivered_nothing

    def raise_if_nothing_ran(self) -> None:
        """SourceError when no camera delivered frames (the summary still says why, per camera)."""
        if self.nothing_ran:
            raise SourceError("no camera delivered frames: "
                              + "; ".join(f"{c.camera_id}: {c.error}" for c in self.summary.failed))

    def to_dict(self) -> dict[str, Any]:
        return {**self.summary.to_dict(), "run_id": self.run_id}


def watch(request: WatchRequest, *, on_alert: Optional[Callable[[Any], Any]] = None, progress: bool = False,
          notify: Callable[[str], None] = log.warning) -> WatchResult:
    """Run the watch until every source ends (files) or fails. ``on_alert(alert)``: called for
    each alert besides the request's sinks; ``progress``: a progress bar per file on stderr;
    ``notify``: remarks about the request (an option that has no effect)."""
    from ..video.alerts import AlertManager, CallbackSink, sink_for
    from ..video.linking import Linker, TimelineStore
    from ..video.watch import SourceSpec, WatchConfig
    from ..video.watch import watch as run_watch

    count = len(request.sources)
    ids = per_source(request.camera_ids, count, "--camera-id")
    places = per_source(request.locations, count, "--location", broadcast=True)
    options = {"max_width": request.max_width} if request.max_width else {}
    options.update(reconnect=request.reconnect, max_backoff=request.max_backoff)
    specs = [SourceSpec(s, c, p, options) for s, c, p in zip(request.sources, ids, places)]
    config = WatchConfig(model=request.model, detect_every=request.detect_every,
                         report_unknown=request.report_unknown, threshold=request.threshold,
                         cooldown=request.cooldown, record_unknowns=request.record_unknowns)
    sinks = [sink_for(target, request.dead_letter) for target in request.alerts]
    if on_alert is not None:
        sinks.append(CallbackSink(on_alert))
    with contextlib.ExitStack() as cleanup:
        watchlist = _watchlist(request, cleanup, notify)
        store = None
        if request.record_timeline:
            store = TimelineStore(request.timeline)
            cleanup.callback(store.close)
        linker = Linker(store)
        manager = AlertManager(sinks, cooldown=request.cooldown)
        cleanup.callback(manager.close)  # closed before the store and the gallery (last in, first out)
        summary = run_watch(specs, watchlist, config=config, out=request.out, linker=linker, progress=progress,
                            alerts=manager, started_at=request.start_time)
    return WatchResult(summary, linker.run_id)


def _watchlist(request: WatchRequest, cleanup: contextlib.ExitStack, notify: Callable[[str], None]):
    from ..video.identity import GalleryWatchlist, MemoryWatchlist

    if request.people:
        if request.watchlist:
            notify("--watchlist is ignored with --person")
        return MemoryWatchlist.from_images(request.people, model=request.model, threshold=request.threshold)
    from ..gallery import Gallery

    gallery = cleanup.enter_context(Gallery(request.db))
    return GalleryWatchlist(gallery, request.watchlist, model=request.model, threshold=request.threshold)


@dataclass(frozen=True)
class Timeline:
    """A person's sightings across cameras, oldest first (video.linking.Sighting records)."""

    person: str
    sightings: list

    def to_dict(self) -> dict[str, Any]:
        return {"person": self.person, "sightings": [s.to_dict() for s in self.sightings]}


def people(path: Optional[Path] = None) -> list[dict[str, Any]]:
    """Everyone in the time line database: one row per global id (person:NAME and unknown:RUN:N),
    with identity, sightings, cameras, first entered and last left (video.linking.TimelineStore.people)."""
    from ..video.linking import TimelineStore, default_path

    path = path or default_path()
    if not Path(path).exists():
        raise NotFoundError(f"no time line database at {path} (run `facelens watch` first)")
    store = TimelineStore(path)
    try:
        return store.people()
    finally:
        store.close()


def timeline(person: str, path: Optional[Path] = None) -> Timeline:
    """Sightings of an identity name or global id (person:NAME, unknown:RUN:N) in the time line
    database at ``path`` (default <data dir>/timeline.db); NotFoundError when it has none."""
    from ..video.linking import TimelineStore, default_path

    path = path or default_path()
    if not Path(path).exists():
        raise NotFoundError(f"no time line database at {path} (run `facelens watch` first)")
    store = TimelineStore(path)
    try:
        return Timeline(person, store.timeline(person))
    finally:
        store.close()
