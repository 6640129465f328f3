"""The camera daemon: one worker per configured camera around ``video.CameraWatcher``.

A worker opens its source, runs the watcher until the source ends or fails, and then:
- a camera that failed (cannot open, dropped and did not come back) waits and tries again,
  the wait doubling from ``backoff_s`` up to ``max_backoff_s`` (reset after a run of 30 s);
  it never stops the other cameras or the server;
- a file or folder ends ("finished") unless ``loop = true``; a live stream that ended is reopened.
State for ``/health`` and ``GET /cameras``: stopped, starting, running, backoff, finished — with
the worker kind (``thread``, ``process`` or ``ray``) and, for a process, its pid.

What a camera produces goes to the server's database, not to side files: alerts (with the
sealed snapshot and the matched track's embedding, for review feedback), sightings (the time
line), with ``happiness = true`` expression observations, and with a watchlist's
``record_unknowns = true`` the faces of people who matched nobody (the gallery's unknown faces,
for ``GET /unknowns/clusters``; see UnknownFaces). Alerts are also published on
the event bus (SSE, MQTT, webhooks). A ``push`` camera has no source of its own: a device
POSTs frames (``POST /api/v1/cameras/{id}/frames``) into a small queue.

Everything a camera produces leaves its worker through one ``CameraOutput``. In the server
process that is ``DatabaseOutput`` — the only code that writes a camera's records and publishes
its events. Where a camera runs (``[server] camera_workers``):

* ``"threads"`` (default): a thread per camera, writing through ``DatabaseOutput`` directly.
  Detection and embedding run in ONNX Runtime / LiteRT and OpenCV, which release the GIL.
* ``"processes"``: a process per camera (workers.py, multiprocessing "spawn"). The child opens
  its own Gallery on the same database (searches only; it follows enrolments, deletions and
  negative templates by the gallery's generation counters), runs this same ``CameraWorker`` and
  sends its records over a pipe; a collector thread in the server hands them to
  ``DatabaseOutput``. A process that dies is reported and restarted with back-off.
* ``"ray"``: the same child loop in a Ray actor per camera (``facelens.video.distributed``'s
  cluster set-up), records back through a Ray queue to the same collector: past one machine.
docs/service.md measures threads against processes and says when to pick which.
"""

from __future__ import annotations

import logging
import os
import queue
import re
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Protocol

import numpy as np

from ..errors import ConflictError, FacelensError, NotFoundError, StorageError
from ..feedback import FeedbackWatchlist
from ..video import AlertManager, CameraWatcher, Frame, GalleryWatchlist, Linker, VideoSource, WatchConfig, open_source
from .config import CameraSettings, Settings, WatchlistSettings, hide_credentials

log = logging.getLogger("facelens.server.daemon")
FRESH_RUN_S = 30.0  # a run at least this long resets the back-off
_CREDENTIALS = re.compile(r"://[^/@\s]+@")


class PushSource(VideoSource):
    """Frames handed in by ``push`` (decoded RGB arrays), as a live source."""

    live = True
    fps = None
    frame_count = None

    def __init__(self, camera_id: str, location: str | None, capacity: int, frames: Any = None) -> None:
        self.camera_id = camera_id
        self.location = location
        self.started_at = datetime.now(timezone.utc)
        self.error = None
        self.spec = "push"
        # ``frames``: a queue filled elsewhere (a camera process reads the server's multiprocessing queue)
        self._frames: Any = frames if frames is not None else queue.Queue(capacity)
        self._closed = threading.Event()

    def push(self, rgb: np.ndarray) -> bool:
        """Queue one frame; False when the queue is full (the caller answers 503)."""
        try:
            self._frames.put_nowait(rgb)
            return True
        except queue.Full:
            return False

    def __iter__(self):
        index, start = 0, time.monotonic()
        while not self._closed.is_set():
            try:
                rgb = self._frames.get(timeout=0.2)
            except queue.Empty:
                continue
            yield Frame(index, time.monotonic() - start, rgb, self.camera_id, self.location)
            index += 1

    def close(self) -> None:
        self._closed.set()


class LiveWatchlist:
    """A GalleryWatchlist rebuilt whenever the gallery changes (people enrolled or erased through
    the API join or leave a named watchlist without a restart). Nobody on the list yet: no match."""

    def __init__(self, gallery: Any, name: str | None, settings: WatchlistSettings, model: str) -> None:
        self.gallery, self.name, self.model = gallery, name, model
        self.list_name = None if (name is None or settings.everyone) else name
        self.threshold = settings.threshold
        self._inner: GalleryWatchlist | None = None
        self._generation: str | None = "never"
        self._lock = threading.Lock()
        self._refresh()

    def _refresh(self) -> None:
        generation = self.gallery.meta(f"generation:{self.model}")
        if generation == self._generation:
            return
        try:
            self._inner = GalleryWatchlist(self.gallery, self.list_name, model=self.model, threshold=self.threshold)
        except NotFoundError:
            self._inner = None
        self._generation = generation
        if self.threshold is None:
            from ..match import FALLBACK_THRESHOLD, identification_threshold

            self.threshold = identification_threshold(self.model, uncalibrated=FALLBACK_THRESHOLD)[0]

    def __len__(self) -> int:
        return len(self._inner) if self._inner is not None else 0

    def match(self, vectors: np.ndarray, top_k: int = 3) -> list[list[Any]]:
        with self._lock:
            self._refresh()
            inner = self._inner
        if inner is None:
            return [[] for _ in np.atleast_2d(vectors)]
        return inner.match(vectors, top_k=top_k)


@dataclass
class DaemonContext:
    """What every camera worker shares."""

    settings: Settings
    gallery: Any  # the server's shared (locked) gallery
    alerts: Any  # store.AlertStore
    sightings: Any  # store.SightingStore
    negatives: Any  # feedback.NegativeTemplates
    bus: Any  # events.EventBus
    observations: Any = None  # analytics.ObservationStore, when a camera records happiness
    linker: Linker | None = None


class UnknownFaces:
    """Where one camera's watcher keeps the faces of people who matched nobody.

    ``WatchConfig.record_unknowns`` makes the watcher store an unknown track's embedding with
    ``watchlist.gallery.add_unknowns`` (video/watch.py): this object is that ``gallery``, and it
    hands the face to the camera's output, which adds it to the server's gallery with where it
    was seen — ``alert:<id>`` when the camera raised an unknown alert for the track (its snapshot
    is then the face's picture), else ``camera:<id>``. The watcher ends a track by offering its
    unknown alert (the sinks run in this camera's thread, at once) and then recording its face,
    so the alert noted just before is the same track's; the note is dropped after every frame,
    so a face recorded without an alert (its track had alerted as a match earlier) never
    borrows another's. Outputs keep order, so the alert is stored before its face."""

    def __init__(self, output: "CameraOutput", camera_id: str) -> None:
        self.output, self.camera_id = output, camera_id
        self._alert_id: str | None = None

    def alert_raised(self, alert: Any) -> None:
        if alert.kind == "unknown":
            self._alert_id = alert.alert_id

    def frame_done(self) -> None:
        self._alert_id = None

    def add_unknowns(self, vectors: np.ndarray, model: str) -> None:
        source = f"alert:{self._alert_id}" if self._alert_id else f"camera:{self.camera_id}"
        self._alert_id = None
        rows = np.atleast_2d(vectors)
        self.output.unknowns(rows, model, [source] * len(rows))


class _CameraWatchlist(FeedbackWatchlist):
    """The negative-template watchlist plus ``gallery``: where the watcher records unknown faces."""

    def __init__(self, inner: Any, negatives: Any, unknown_faces: UnknownFaces) -> None:
        super().__init__(inner, negatives)
        self.gallery = unknown_faces


class _AlertRecorder:
    """The video alert sink of one camera: note it for the unknown faces, attach the matched
    track's embedding, hand it to the output."""

    def __init__(self, worker: "CameraWorker") -> None:
        self.worker = worker

    def emit(self, alert: Any) -> None:
        self.worker.unknown_faces.alert_raised(alert)
        embedding = self.worker.track_embedding(alert.track_id) if alert.kind == "match" else None
        self.worker.output.alert(alert, embedding)

    def close(self) -> None:
        pass


class _LinkThrough:
    """What the watcher calls ``linker``: finished tracks go to the output, whose side links
    them (global ids need every camera, so linking stays in the server process)."""

    def __init__(self, output: "CameraOutput") -> None:
        self.output = output

    def link(self, **track: Any) -> None:
        self.output.link(track)


class CameraOutput(Protocol):
    """Where a camera's records go, one method per kind: DatabaseOutput in the server process,
    workers.PipeOutput in a camera process (which sends them to the server's DatabaseOutput)."""

    keeps_observations: bool  # False: do not compute expression observations at all

    def alert(self, alert: Any, embedding: np.ndarray | None) -> None: ...  # a video.Alert, matched track's embedding

    def link(self, track: dict[str, Any]) -> None: ...  # a finished track: video.Linker.link's arguments

    def observations(self, rows: list[Any]) -> None: ...  # analytics.Observation

    def unknowns(self, vectors: np.ndarray, model: str, sources: list[str]) -> None: ...

    def state(self, worker: Any) -> None: ...  # the worker's state or error changed

    def frame(self, worker: Any) -> None: ...  # the worker finished a frame


class DatabaseOutput(CameraOutput):
    """The server side of a camera, whichever worker runs it: stores alerts (sealed) and then
    publishes them, links finished tracks into sightings, stores observations and unknown faces,
    publishes state changes. ``owner`` is the camera's worker in this process (counters,
    ``describe``). Alerts raised while the database is down wait in memory (bounded) and are
    written with the next one; a failed sighting, observation or unknown face loses that one
    record, never the camera."""

    def __init__(self, context: "DaemonContext", owner: Any) -> None:
        self.context, self.owner = context, owner
        self.model = context.settings.server.model
        self.pending: deque = deque(maxlen=1000)

    @property
    def keeps_observations(self) -> bool:  # type: ignore[override]
        return self.context.observations is not None

    def alert(self, alert: Any, embedding: np.ndarray | None) -> None:
        self.pending.append((alert, embedding))
        while self.pending:
            item, vector = self.pending[0]
            try:
                record = self.context.alerts.add(item, vector, self.model)
            except StorageError as exc:
                log.warning("camera %s: alert %s kept in memory: %s", self.owner.id, item.alert_id, exc)
                return
            self.pending.popleft()
            self.owner.alerts += 1
            self.context.bus.publish("alert", record, alert=item)

    def link(self, track: dict[str, Any]) -> None:
        try:
            self.context.linker.link(**track)
        except StorageError as exc:
            log.warning("camera %s: sighting of track %s not stored: %s", self.owner.id, track.get("track_id"), exc)

    def observations(self, rows: list[Any]) -> None:
        if self.context.observations is None or not rows:
            return
        try:
            self.context.observations.add(rows)
        except StorageError as exc:
            log.warning("camera %s: expression observations not stored: %s", self.owner.id, exc)

    def unknowns(self, vectors: np.ndarray, model: str, sources: list[str]) -> None:
        try:
            self.context.gallery.add_unknowns(vectors, model, sources=sources)
        except StorageError as exc:  # one face less to cluster, never a dead camera
            log.warning("camera %s: unknown face not stored: %s", self.owner.id, exc)
            return
        self.owner.unknown_faces_recorded += len(vectors)

    def state(self, worker: Any) -> None:
        self.context.bus.publish("camera", self.owner.describe())

    def frame(self, worker: Any) -> None:
        pass  # in this process the owner keeps its own latest frame and counters


class _TolerantSightings:
    """Sightings for video.Linker; a database hiccup loses one sighting, never the camera."""

    def __init__(self, store: Any) -> None:
        self.store = store

    def add(self, sighting: Any) -> None:
        try:
            self.store.add(sighting)
        except StorageError as exc:
            log.warning("sighting of %s not stored: %s", sighting.global_id, exc)


class CameraWorker:
    """One camera in a thread (``start``/``stop``); in a child process, ``run`` is the whole
    life of the process (workers.py). ``output``: where its records go (DatabaseOutput)."""

    kind = "thread"

    def __init__(self, settings: CameraSettings, context: DaemonContext, output: CameraOutput | None = None) -> None:
        self.settings = settings
        self.id = settings.id
        self.context = context
        self.model = context.settings.server.model
        self.watchlist_settings = context.settings.watchlists.get(settings.watchlist or "", WatchlistSettings())
        self.state = "stopped"
        self.error: str | None = None
        self.frames = self.alerts = self.failures = self.runs = self.unknown_faces_recorded = 0
        self.retry_in: float | None = None
        self.last_frame_at: str | None = None
        self.source: VideoSource | None = None
        self.watcher: CameraWatcher | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._latest: tuple[int, np.ndarray, list] | None = None
        self._smoother = None
        self.output = output if output is not None else DatabaseOutput(context, self)
        self.pushed_frames: Any = None  # a push camera's frame queue when another process fills it
        self.unknown_faces = UnknownFaces(self.output, self.id)

    # -- control ------------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self.error = None
        self._thread = threading.Thread(target=self._run, name=f"facelens-camera-{self.id}", daemon=True)
        self._thread.start()

    def request_stop(self) -> None:
        self._stop.set()
        if isinstance(self.source, PushSource):
            self.source.close()

    def stop(self, timeout: float = 15.0) -> None:
        self.request_stop()
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def push(self, rgb: np.ndarray) -> bool:
        """A device's frame for a push camera; False when its queue is full."""
        source = self.source
        if not self.settings.is_push:
            raise ConflictError(f"camera {self.id!r} reads its own source; frames cannot be pushed to it")
        if not isinstance(source, PushSource) or self.state != "running":
            raise ConflictError(f"camera {self.id!r} is not running (start it first)")
        return source.push(rgb)

    # -- the worker loop ----------------------------------------------------------------------
    def run(self) -> None:
        """The worker loop in the calling thread, until stopped or finished."""
        self._run()

    def _run(self) -> None:
        wait = self.settings.backoff_s
        while not self._stop.is_set():
            self._set("starting")
            try:
                source = self._open()
                watcher = self._watcher(source)
            except FacelensError as exc:
                wait = self._back_off(str(exc), wait)
                continue
            self.source, self.watcher = source, watcher
            self._set("running")
            began = time.monotonic()
            summary = watcher.run(self._stop)
            self.runs += 1
            if self._stop.is_set():
                break
            if time.monotonic() - began >= FRESH_RUN_S:
                wait = self.settings.backoff_s
            if summary.error:
                wait = self._back_off(summary.error, wait)
            elif not (source.live or self.settings.loop):
                self._set("finished")
                return
        self._set("stopped")

    def _open(self) -> VideoSource:
        if self.settings.is_push:
            return PushSource(self.id, self.settings.location, self.settings.push_queue, self.pushed_frames)
        options: dict[str, Any] = {"reconnect": 2, "backoff": self.settings.backoff_s}
        if self.settings.max_width:
            options["max_width"] = self.settings.max_width
        return open_source(self.settings.source, self.id, self.settings.location, **options)

    def _watcher(self, source: VideoSource) -> CameraWatcher:
        listed = LiveWatchlist(self.context.gallery, self.settings.watchlist, self.watchlist_settings, self.model)
        watchlist = _CameraWatchlist(listed, self.context.negatives, self.unknown_faces)
        alerts = AlertManager([_AlertRecorder(self)], cooldown=self.watchlist_settings.cooldown_s)
        config = WatchConfig(model=self.model, detector=self.context.settings.server.detector,
                             detect_every=self.settings.detect_every, threshold=self.watchlist_settings.threshold,
                             report_unknown=self.watchlist_settings.report_unknown,
                             record_unknowns=self.watchlist_settings.record_unknowns,
                             cooldown=self.watchlist_settings.cooldown_s)
        return CameraWatcher(source, watchlist, alerts, config, linker=_LinkThrough(self.output),  # type: ignore[arg-type]
                             on_frame=self._on_frame)

    def _back_off(self, error: str, wait: float) -> float:
        self.error, self.failures, self.retry_in = error, self.failures + 1, wait
        log.warning("camera %s: %s; retrying in %.1f s", self.id, error, wait)
        self._set("backoff")
        self._stop.wait(wait)
        self.retry_in = None
        return min(wait * 2, self.settings.max_backoff_s)

    def _set(self, state: str) -> None:
        if state == self.state:
            return
        self.state = state
        if state == "running":
            self.error = None
        self.output.state(self)

    # -- per frame ----------------------------------------------------------------------------
    def _on_frame(self, frame: Frame, faces: list) -> None:
        self.unknown_faces.frame_done()
        self.frames += 1
        self.last_frame_at = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
        self._latest = (self.frames, frame.image, faces)
        if self.settings.happiness and any(f.detector != "flow" for f in faces):
            self._observe_expressions(frame, faces)
        self.output.frame(self)

    def _observe_expressions(self, frame: Frame, faces: list) -> None:
        from ..analytics import ObservationFeed
        from ..attributes.emotion import predict_emotions
        from ..attributes.temporal import TrackSmoother

        detected = [f for f in faces if f.detector != "flow" and "track_id" in f.attributes]
        if not detected or not self.output.keeps_observations:
            return
        if self._smoother is None:
            start = self.source.started_at.astimezone(timezone.utc).replace(tzinfo=None)
            self._smoother = (TrackSmoother(), ObservationFeed(self.settings.location or self.id, camera=self.id,
                                                               start=start, source=self.id))
        smoother, feed = self._smoother
        with_emotion = []
        for face, record in zip(detected, predict_emotions(frame.image, detected)):
            labels = list(record["probs"])
            smoothed = smoother.update(face.attributes["track_id"], [record["probs"][k] for k in labels], frame.index)
            with_emotion.append(face.with_attributes(emotion={"probs": dict(zip(labels, smoothed.tolist()))}))
        observations = feed.update(with_emotion, frame.timestamp)
        if observations:
            self.output.observations(observations)

    def track_embedding(self, track_id: int) -> np.ndarray | None:
        """The averaged embedding of a live track (what matched), for review feedback."""
        watcher = self.watcher
        track = watcher.tracker.tracks.get(track_id) if watcher is not None else None
        if track is None or not len(track.embeddings):
            return None
        mean = np.asarray(track.embeddings, dtype=np.float32).mean(0)
        return mean / max(float(np.linalg.norm(mean)), 1e-12)

    def latest(self) -> tuple[int, np.ndarray, list] | None:
        """(frame number, RGB image, faces with track ids and identities) of the newest frame."""
        return self._latest

    def describe(self) -> dict[str, Any]:
        """The camera as /health and GET /cameras show it (every worker kind)."""
        return {"id": self.id, "location": self.settings.location, "state": self.state,
                "source": "push" if self.settings.is_push else hide_credentials(self.settings.source),
                "watchlist": self.settings.watchlist, "frames": self.frames, "alerts": self.alerts,
                "failures": self.failures, "error": _without_credentials(self.error), "retry_in_s": self.retry_in,
                "last_frame_at": self.last_frame_at, "happiness": self.settings.happiness,
                "unknown_faces_recorded": self.unknown_faces_recorded, "worker": self.kind, "pid": self.pid}

    @property
    def pid(self) -> int | None:
        return os.getpid() if self.alive else None


def _without_credentials(text: str | None) -> str | None:
    """An error message naming a stream URL, without the user:password part."""
    return _CREDENTIALS.sub("://***@", text) if text else text


class CameraDaemon:
    def __init__(self, context: DaemonContext) -> None:
        self.context = context
        if context.linker is None:
            context.linker = Linker(_TolerantSightings(context.sightings))
        self.kind = context.settings.server.camera_workers
        self.workers = {c.id: self._worker(c) for c in context.settings.cameras}

    def _worker(self, camera: CameraSettings) -> Any:
        if self.kind == "threads":
            return CameraWorker(camera, self.context)
        from .workers import ProcessCameraWorker, RayCameraWorker

        if self.kind == "ray" and not camera.is_push:  # frames pushed here are decoded here
            return RayCameraWorker(camera, self.context)
        return ProcessCameraWorker(camera, self.context)

    def start_configured(self) -> None:
        for worker in self.workers.values():
            if worker.settings.autostart:
                worker.start()

    def worker(self, camera_id: str) -> Any:
        try:
            return self.workers[camera_id]
        except KeyError:
            raise NotFoundError(f"no camera {camera_id!r} in the configuration") from None

    def states(self) -> list[dict[str, Any]]:
        return [w.describe() for w in self.workers.values()]

    def close(self, timeout: float = 15.0) -> None:
        for worker in self.workers.values():
            worker.request_stop()  # all at once: cameras wind down in parallel
        for worker in self.workers.values():
            worker.stop(timeout)
