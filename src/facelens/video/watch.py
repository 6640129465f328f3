"""The watch pipeline: frames → detections (every N frames) → tracks → track identity → alerts.

Per camera (``CameraWatcher``), for each frame:

* **Detection frames** (every N-th, or sooner when no track is live, and always on the first
  frame of a new shot): detect (BlazeFace with a low score floor, so ByteTrack's second stage
  sees weak faces; tiles where faces are small — resolution.py), embed every detection, and
  associate with the tracker behind the appearance gate (tracking.py); re-decide the identity of
  tracks whose best captures changed (identity.py), split a track whose captures vote for two
  people, and alert when a track becomes a watchlist identity (with its votes and agreement).
* **Shot cuts** (shotcut.py): on the first frame of a new shot every track must be re-found by
  appearance — no identity crosses a cut on position alone — and nothing is propagated by flow.
* **Unknown people** (``report_unknown``) are reported when their track ends, on its final
  decision: a face that starts turned away and is recognised later never alerts as unknown.
  ``record_unknowns`` also stores their averaged embedding in the gallery's unknown faces
  (``Gallery.add_unknowns``), for ``facelens gallery cluster`` and promotion to a person.
* **Frames in between**: each live track's box is moved by sparse optical flow (pyramidal
  Lucas–Kanade on a grid of points inside the box, on a ≤ 480 px grey copy; median shift and
  scale); when too few points survive the track's constant-velocity prediction is used.
* **N adapts to load** (``Cadence``): with the running mean cost of a detection frame ``td`` and
  of a tracking frame ``tt``, N is the smallest interval whose mean cost per frame
  ``(td + (N−1)·tt)/N`` keeps up with ``target_fps`` (the source's frame rate by default),
  clamped to 1…``max_detect_every``. Busy CPU (more streams, more faces) → larger N.

``watch`` runs several cameras, one thread each; a camera that fails (cannot open, drops and
does not come back) is reported in the summary and never stops the others. A live camera is
reopened with capped back-off for as long as the watcher runs (sources.py, ``reconnect``); its
summary says how many frames it delivered, how often it dropped and for how long it was out.
"""

from __future__ import annotations

import functools
import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..constants import DEFAULT_DETECTOR, DEFAULT_MODEL
from ..errors import FacelensError, SourceError
from ..alignment import align_face
from ..detection import get_detector
from ..pipeline import detect_rgb, embed_faces
from ..types import Face
from .alerts import Alert, AlertManager, Sink, snapshot_jpeg
from .identity import PENDING, UNKNOWN, TrackIdentity, Watchlist, decide_track, sticky, vote_split
from .linking import Linker, utc
from .resolution import DetectionResolution
from .shotcut import ShotCutDetector
from .sources import Frame, VideoSource, default_camera_id, open_source
from .tracking import APPEARANCE_GATE, REID_GATE, Track, Tracker

log = logging.getLogger(__name__)

RED = (230, 40, 40)
GREEN = (40, 200, 40)
GREY = (160, 160, 160)


@dataclass(frozen=True)
class WatchConfig:
    detector: str = DEFAULT_DETECTOR
    model: str = DEFAULT_MODEL
    detect_every: int | None = None  # fixed N; None = adaptive (Cadence)
    max_detect_every: int = 6
    target_fps: float | None = None  # adaptive cadence goal; None = the source's frame rate (or 25)
    low_score: float = 0.35
    high_score: float = 0.6
    max_age: float = 1.0  # seconds a track survives without a detection
    keep_best: int = 5
    min_captures: int = 2
    min_agreement: float = 0.5
    threshold: float | None = None  # None = the watchlist's threshold
    report_unknown: bool = False
    unknown_min_captures: int = 3
    cooldown: float = 30.0
    flow: bool = True
    snapshot: bool = True
    tile_size: int | str | None = "auto"  # "auto": tiles when faces are small (resolution.py); int: always; None: never
    detect_side: int | None = 640  # the whole-frame pass runs on a copy this large at most (None: full frame)
    shot_cuts: bool = True  # tracks re-confirm by appearance after a cut (shotcut.py)
    appearance_gate: float | None = APPEARANCE_GATE  # None: position-only association (the old tracker)
    reid_similarity: float = REID_GATE
    vote_split: bool = True  # split a track whose captures vote for two identities
    record_unknowns: bool = False  # store unknown tracks' embeddings in the gallery (Gallery.add_unknowns)


@dataclass
class CameraSummary:
    camera_id: str
    location: str | None
    source: str
    frames: int = 0
    detection_frames: int = 0
    faces: int = 0  # detections kept by the tracker, summed over detection frames
    embedded: int = 0
    tracks: int = 0
    alerts: int = 0
    unknown_alerts: int = 0
    seconds: float = 0.0
    fps: float = 0.0
    mean_detect_every: float = 0.0
    reconnects: int = 0
    outages: int = 0  # times a live stream stopped delivering frames
    offline_seconds: float = 0.0  # total time spent reconnecting
    shot_cuts: int = 0
    splits: int = 0  # tracks split because their captures voted for two people
    tiled_frames: int = 0  # detection frames that also ran the tiled pass
    unknowns_recorded: int = 0
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["seconds"] = round(self.seconds, 3)
        out["fps"] = round(self.fps, 2)
        out["mean_detect_every"] = round(self.mean_detect_every, 2)
        out["offline_seconds"] = round(self.offline_seconds, 2)
        return out


@dataclass
class RunSummary:
    cameras: list[CameraSummary]
    seconds: float
    alerts: list[Alert] = field(default_factory=list)

    @property
    def frames(self) -> int:
        return sum(c.frames for c in self.cameras)

    @property
    def failed(self) -> list[CameraSummary]:
        return [c for c in self.cameras if c.error]

    @property
    def delivered_nothing(self) -> bool:
        """True when no camera delivered a single frame (the CLI's exit code 10)."""
        return all(c.frames == 0 for c in self.cameras)

    def to_dict(self) -> dict[str, Any]:
        return {
            "cameras": [c.to_dict() for c in self.cameras],
            "frames": self.frames,
            "faces": sum(c.faces for c in self.cameras),
            "tracks": sum(c.tracks for c in self.cameras),
            "alerts": sum(c.alerts for c in self.cameras),
            "unknown_alerts": sum(c.unknown_alerts for c in self.cameras),
            "seconds": round(self.seconds, 3),
            "fps": round(self.frames / self.seconds, 2) if self.seconds > 0 else 0.0,
        }


class Cadence:
    """Chooses when to detect (see module docstring)."""

    def __init__(self, fixed: int | None, target_fps: float, max_every: int) -> None:
        self.fixed = fixed
        self.budget = 1.0 / max(target_fps, 1e-3)
        self.max_every = max(1, max_every)
        self.detect_cost: float | None = None
        self.track_cost: float | None = None
        self.every = fixed or 1
        self._since = math.inf
        self._chosen: list[int] = []

    def due(self) -> bool:
        return self._since >= self.every

    def record(self, detected: bool, seconds: float) -> None:
        def ema(old, new):
            return new if old is None else 0.8 * old + 0.2 * new

        if detected:
            self.detect_cost = ema(self.detect_cost, seconds)
            self._since = 1
            self._chosen.append(self.every)
        else:
            self.track_cost = ema(self.track_cost, seconds)
            self._since += 1
        if self.fixed is None and self.detect_cost is not None:
            tt = self.track_cost or 0.0
            spare = self.budget - tt
            if self.detect_cost <= self.budget:
                self.every = 1
            elif spare <= 0:
                self.every = self.max_every
            else:
                self.every = int(min(self.max_every, max(1, math.ceil((self.detect_cost - tt) / spare))))

    @property
    def mean_every(self) -> float:
        return float(np.mean(self._chosen)) if self._chosen else 0.0


class FlowPropagator:
    """Moves boxes from one frame to the next with pyramidal Lucas–Kanade optical flow."""

    def __init__(self, max_side: int = 480, grid: int = 4) -> None:
        self.max_side = max_side
        self.grid = grid
        self.previous: np.ndarray | None = None
        self.scale = 1.0

    def grey(self, rgb: np.ndarray) -> np.ndarray:
        scale = min(1.0, self.max_side / max(rgb.shape[:2]))
        grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        if scale < 1.0:  # bilinear: 5× cheaper than INTER_AREA on 720p, and LK is robust to it
            grey = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
        self.scale = scale
        return grey

    def move(self, current: np.ndarray, boxes: list[tuple]) -> list[tuple | None]:
        previous, self.previous = self.previous, current
        if previous is None or not boxes or previous.shape != current.shape:
            return [None] * len(boxes)
        s = self.scale
        points, owners = [], []
        for i, (x1, y1, x2, y2) in enumerate(boxes):
            w, h = (x2 - x1) * s, (y2 - y1) * s
            xs = np.linspace(x1 * s + 0.2 * w, x1 * s + 0.8 * w, self.grid)
            ys = np.linspace(y1 * s + 0.2 * h, y1 * s + 0.8 * h, self.grid)
            grid = np.stack(np.meshgrid(xs, ys), -1).reshape(-1, 2)
            points.append(grid)
            owners += [i] * len(grid)
        p0 = np.concatenate(points).astype(np.float32).reshape(-1, 1, 2)
        p1, status, _ = cv2.calcOpticalFlowPyrLK(previous, current, p0, None, winSize=(15, 15), maxLevel=2)
        owners_arr = np.array(owners)
        out: list[tuple | None] = []
        for i, box in enumerate(boxes):
            mine = (owners_arr == i) & (status.ravel() == 1)
            if mine.sum() < 4:
                out.append(None)
                continue
            a, b = p0[mine, 0], p1[mine, 0]
            shift = np.median(b - a, axis=0) / s
            da = np.linalg.norm(a - a.mean(0), axis=1)
            db = np.linalg.norm(b - b.mean(0), axis=1)
            zoom = float(np.clip(np.median(db[da > 1e-3] / da[da > 1e-3]), 0.8, 1.25)) if (da > 1e-3).any() else 1.0
            cx, cy = (box[0] + box[2]) / 2 + shift[0], (box[1] + box[3]) / 2 + shift[1]
            hw, hh = (box[2] - box[0]) / 2 * zoom, (box[3] - box[1]) / 2 * zoom
            out.append((cx - hw, cy - hh, cx + hw, cy + hh))
        return out


def detect_scaled(rgb: np.ndarray, detector: str, max_side: int | None, **options) -> list[Face]:
    """Detect on a copy no larger than ``max_side`` (BlazeFace looks at 192 px anyway, and
    shrinking 720p/1080p frames with OpenCV's area filter costs more than the model), then align
    and measure quality on the full-resolution frame, so crops and embeddings lose nothing."""
    if options.get("tile_size"):
        return detect_rgb(rgb, detector, keep_crop=True, **options)
    return [align_face(rgb, face, keep_crop=True) for face in _unaligned(rgb, detector, max_side, **options)]


def _label(track: Track) -> tuple[str, tuple[int, int, int]]:
    decision: TrackIdentity | None = track.attributes.get("identity")
    if decision is None or decision.state == PENDING:
        return f"#{track.track_id}", GREY
    if decision.state == UNKNOWN:
        return f"#{track.track_id} unknown", GREEN
    return f"#{track.track_id} {decision.state} {decision.similarity:.2f}", RED


class CameraWatcher:
    """Runs the pipeline on one source. ``process(frame)`` handles one frame (returns the faces
    shown on it, each with ``track_id`` and, once decided, ``identity``/``similarity``)."""

    def __init__(self, source: VideoSource, watchlist: Watchlist | None, alerts: AlertManager,
                 config: WatchConfig = WatchConfig(), out: str | Path | None = None,
                 linker: Linker | None = None,
                 on_frame: Callable[[Frame, list[Face]], Any] | None = None) -> None:
        self.source = source
        self.watchlist = watchlist
        self.alerts = alerts
        self.config = config
        self.linker = linker
        self.on_frame = on_frame
        fps = source.fps or 25.0
        self.tracker = Tracker(high_score=config.high_score, low_score=config.low_score,
                               max_age=max(1, round(config.max_age * fps)), keep_best=config.keep_best,
                               camera_id=source.camera_id, appearance_gate=config.appearance_gate,
                               reid_similarity=config.reid_similarity)
        self.cadence = Cadence(config.detect_every, config.target_fps or fps, config.max_detect_every)
        self.flow = FlowPropagator() if config.flow else None
        self.cuts = ShotCutDetector() if config.shot_cuts else None
        # A tiled detection frame may cost what the cadence can spread over its longest interval.
        self.resolution = DetectionResolution(
            config.tile_size, max_cost=config.max_detect_every / (config.target_fps or fps))
        origin = getattr(source, "spec", None)
        self.summary = CameraSummary(source.camera_id, source.location,
                                     str(origin if origin is not None else getattr(source, "folder", "")))
        self.out_path = Path(out) if out else None
        self._writer: cv2.VideoWriter | None = None
        self._visible: set[int] = set()
        self._alerted: set[int] = set()
        self._renamed: dict[int, int] = {}  # split this frame: old track id → continuing id
        self._last_detection = -1

    # -- one frame --------------------------------------------------------------------------
    def process(self, frame: Frame) -> list[Face]:
        started = time.perf_counter()
        grey = self.flow.grey(frame.image) if self.flow else None
        cut = self.cuts is not None and self.cuts.is_cut(frame.image)
        if cut:
            self._cut(frame)
        detect = cut or self.cadence.due()
        if detect:
            faces = self._detect(frame)
            if self.flow:
                self.flow.previous = grey
        else:
            faces = self._propagate(frame, grey)
        self._finish_tracks()
        self.cadence.record(detect, time.perf_counter() - started)
        self.summary.frames += 1
        if self._writer is not None or self.out_path is not None:
            self._write(frame, faces)
        if self.on_frame is not None:
            self.on_frame(frame, faces)
        return faces

    def _cut(self, frame: Frame) -> None:
        """First frame of a new shot: positions mean nothing any more (see tracking.cut)."""
        self.summary.shot_cuts += 1
        self.tracker.cut(frame.index)
        self._visible.clear()
        self.resolution.reset()
        if self.flow:
            self.flow.previous = None

    def _find_faces(self, frame: Frame) -> list[Face]:
        options = {"min_score": self.config.low_score}
        if self.resolution.auto or self.resolution.tile is not None:
            whole = _unaligned(frame.image, self.config.detector, self.config.detect_side, **options)
            faces, tiled = self.resolution.detect(frame.image, frame.timestamp, whole, self.config.detector,
                                                  self.config.low_score)
            self.summary.tiled_frames += tiled
            return [align_face(frame.image, face, keep_crop=True) for face in faces]
        return detect_scaled(frame.image, self.config.detector, self.config.detect_side, **options)

    def _detect(self, frame: Frame) -> list[Face]:
        found = self._find_faces(frame)
        embed = functools.partial(self._embed, frame.image) if self.watchlist is not None else None
        gated = embed is not None and self.config.appearance_gate is not None
        tracked = self.tracker.update(found, frame.index, frame.timestamp, embed=embed, embed_all=gated)
        self.summary.detection_frames += 1
        self.summary.faces += len(tracked)
        self._last_detection = frame.index
        if self.watchlist is not None:
            if not gated:  # embed only the faces that improve their track's captures
                wanted = [f for f in tracked if f.embedding is None and self.tracker.wants(f.attributes["track_id"], f)]
                for face in embed(wanted) if wanted else []:
                    self.tracker.observe(face.attributes["track_id"], face)
            for face in tracked:
                track = self.tracker.tracks.get(face.attributes["track_id"])
                if track is not None and track.captures_changed:
                    track.captures_changed = False
                    self._decide(track, frame, face.box)
        out = []
        for face in tracked:
            # A split moved this face's track under a new id: show the face with the live track.
            track = self.tracker.tracks.get(self._renamed.get(face.attributes["track_id"], face.attributes["track_id"]))
            if track is None:
                continue
            out.append(self._annotate(face.replace(crop=None).with_attributes(track_id=track.track_id), track))
        self._visible = {f.attributes["track_id"] for f in out}
        self._renamed.clear()
        return out

    def _embed(self, rgb: np.ndarray, faces: list[Face]) -> list[Face]:
        self.summary.embedded += len(faces)
        return embed_faces(rgb, faces, self.config.model)

    def _propagate(self, frame: Frame, grey: np.ndarray | None) -> list[Face]:
        tracks = [self.tracker.tracks[t] for t in self._visible if t in self.tracker.tracks]
        boxes = [t.box for t in tracks]
        moved = self.flow.move(grey, boxes) if self.flow else [None] * len(tracks)
        height, width = frame.image.shape[:2]
        out = []
        for track, box in zip(tracks, moved):
            if box is None:
                box = track.predicted_box(frame.index)
            x1, y1 = max(0.0, box[0]), max(0.0, box[1])
            x2, y2 = min(float(width), box[2]), min(float(height), box[3])
            if x2 - x1 < 2 or y2 - y1 < 2:
                continue  # left the frame
            self.tracker.move(track.track_id, (x1, y1, x2, y2), frame.index, frame.timestamp)
            face = Face(box=(x1, y1, x2, y2), score=track.score, detector="flow",
                        attributes={"track_id": track.track_id})
            out.append(self._annotate(face, track))
            decision = track.attributes.get("identity")
            if decision is not None and decision.known:
                self.alerts.seen(frame.camera_id, decision.state, frame.timestamp, track.track_id, track.first_seen)
        return out

    def _annotate(self, face: Face, track: Track) -> Face:
        decision: TrackIdentity | None = track.attributes.get("identity")
        if decision is None:
            return face
        similarity = None if math.isnan(decision.similarity) else round(decision.similarity, 4)
        return face.with_attributes(identity=decision.identity, identity_state=decision.state,
                                    similarity=similarity)

    # -- identity and alerts ----------------------------------------------------------------
    def _decide(self, track: Track, frame: Frame, box) -> None:
        if self.config.vote_split:
            sides = vote_split(track.best_faces, self.watchlist, self.config.threshold,
                               min_votes=self.config.min_captures)
            continuing = self.tracker.split(track.track_id, *sides) if sides else None
            if continuing is not None:
                # The older part ended as a track of its own (decided when it is handed out).
                self.summary.splits += 1
                self._renamed[track.track_id] = continuing.track_id
                track = continuing
                track.captures_changed = False
        decision = decide_track(track, self.watchlist, min_captures=self.config.min_captures,
                                min_agreement=self.config.min_agreement, threshold=self.config.threshold)
        decision = sticky(track.attributes.get("identity"), decision)
        track.attributes["identity"] = decision
        if decision.known:
            self.alerts.seen(frame.camera_id, decision.state, frame.timestamp, track.track_id, track.first_seen)
            if self._alert(track, decision, "match", frame, box):
                self.summary.alerts += 1

    def _alert(self, track: Track, decision: TrackIdentity, kind: str, frame: Frame | None, box) -> bool:
        start = self.source.started_at
        snapshot = None
        if self.config.snapshot:
            if frame is not None and box is not None:
                snapshot = snapshot_jpeg(frame.image, box)
            elif track.captures and track.captures[0][1].crop is not None:
                snapshot = snapshot_jpeg(track.captures[0][1].crop, (0, 0, 112, 112), margin=0)
        alert = Alert(
            kind=kind, identity=decision.identity, similarity=None if math.isnan(decision.similarity) else decision.similarity,
            camera_id=self.source.camera_id, location=self.source.location, track_id=track.track_id,
            frame=frame.index if frame is not None else track.last_frame,
            first_seen=track.first_seen, last_seen=track.last_seen,
            first_seen_utc=utc(start, track.first_seen), last_seen_utc=utc(start, track.last_seen),
            box=tuple(box) if box is not None else track.box, votes=decision.votes, captures=decision.captures,
            agreement=round(decision.agreement, 3) if decision.captures else None, snapshot=snapshot)
        sent = self.alerts.offer(alert)
        if sent:
            self._alerted.add(track.track_id)
        return sent

    def _finish_tracks(self, flush: bool = False) -> None:
        ended = self.tracker.flush() if flush else self.tracker.finished()
        for track in ended:
            self.summary.tracks += 1
            self._visible.discard(track.track_id)
            decision: TrackIdentity | None = track.attributes.get("identity")
            if self.watchlist is not None and (decision is None or track.captures_changed) and track.captures:
                decision = sticky(decision, decide_track(
                    track, self.watchlist, min_captures=self.config.min_captures,
                    min_agreement=self.config.min_agreement, threshold=self.config.threshold))
                track.attributes["identity"] = decision
            if self.watchlist is not None and decision is not None and decision.state == PENDING:
                decision = replace(decision, state=UNKNOWN)
                track.attributes["identity"] = decision
            if (self.config.report_unknown and decision is not None and decision.state == UNKNOWN
                    and track.track_id not in self._alerted
                    and decision.captures >= self.config.unknown_min_captures):
                if self._alert(track, decision, "unknown", None, None):
                    self.summary.unknown_alerts += 1
            template = _template(track)
            if (self.config.record_unknowns and decision is not None and decision.state == UNKNOWN
                    and template is not None and decision.captures >= self.config.unknown_min_captures):
                self.summary.unknowns_recorded += _record_unknown(self.watchlist, template, self.config.model)
            if self.linker is not None and track.hits >= 2:
                self.linker.link(identity=decision.identity if decision else None, template=template,
                                 camera_id=self.source.camera_id, location=self.source.location,
                                 track_id=track.track_id, first_seen=track.first_seen,
                                 last_seen=track.last_seen, started_at=self.source.started_at,
                                 similarity=decision.similarity if decision and decision.known else None)

    # -- output -----------------------------------------------------------------------------
    def _write(self, frame: Frame, faces: list[Face]) -> None:
        from ..draw import draw_faces

        if self._writer is None:
            self.out_path.parent.mkdir(parents=True, exist_ok=True)
            self._writer = cv2.VideoWriter(str(self.out_path), cv2.VideoWriter_fourcc(*"mp4v"),
                                           self.source.fps or 25.0, (frame.width, frame.height))
            if not self._writer.isOpened():
                self._writer = None
                raise SourceError(f"cannot write annotated video {self.out_path} (folder or codec?)")
        labels, colours = [], []
        for face in faces:
            track = self.tracker.tracks.get(face.attributes.get("track_id"))
            label, colour = _label(track) if track else ("", GREY)
            labels.append(label)
            colours.append(colour)
        canvas = draw_faces(frame.image, faces, labels, colours)
        self._writer.write(cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR))

    def run(self, stop: threading.Event | None = None, progress: Callable[[int], None] | None = None) -> CameraSummary:
        started = time.perf_counter()
        if stop is not None and hasattr(self.source, "stop_event"):
            self.source.stop_event = stop  # a live source stops reconnecting when the run stops
        try:
            for frame in self.source:
                self.process(frame)
                if progress is not None:
                    progress(1)
                if stop is not None and stop.is_set():
                    break
            if self.source.error:
                self.summary.error = self.source.error
        except FacelensError as exc:
            self.summary.error = str(exc)
        except Exception as exc:  # noqa: BLE001 - one camera's failure must not stop the others
            log.exception("camera %s failed", self.source.camera_id)
            self.summary.error = f"{type(exc).__name__}: {exc}"
        finally:
            self.close()
            self.summary.seconds = time.perf_counter() - started
            self.summary.fps = self.summary.frames / self.summary.seconds if self.summary.seconds > 0 else 0.0
            self.summary.mean_detect_every = self.cadence.mean_every
            self.summary.reconnects = getattr(self.source, "reconnects", 0)
            self.summary.outages = getattr(self.source, "outages", 0)
            self.summary.offline_seconds = getattr(self.source, "offline_seconds", 0.0)
        return self.summary

    def close(self) -> None:
        self._finish_tracks(flush=True)
        self.source.close()
        if self._writer is not None:
            self._writer.release()
            self._writer = None


@dataclass(frozen=True)
class SourceSpec:
    spec: Any
    camera_id: str | None = None
    location: str | None = None
    options: dict = field(default_factory=dict)


def _out_for(out: str | Path | None, camera_id: str, several: bool) -> Path | None:
    if out is None:
        return None
    out = Path(out)
    return out.with_name(f"{out.stem}_{camera_id}{out.suffix or '.mp4'}") if several else out


def watch(sources: Sequence[Any], watchlist: Watchlist | None, sinks: Sequence[Sink] = (),
          config: WatchConfig = WatchConfig(), out: str | Path | None = None,
          linker: Linker | None = None, progress: bool = False,
          on_frame: Callable[[Frame, list[Face]], Any] | None = None,
          stop: threading.Event | None = None, alerts: AlertManager | None = None,
          started_at: datetime | None = None) -> RunSummary:
    """Watch several sources at once (one thread each) and return the run summary.

    ``sources``: specs (path, URL, webcam index), ``SourceSpec`` (with camera id, location and
    options) or open ``VideoSource`` objects. Each source is opened in its own thread, so a
    camera that is slow to answer or cannot be opened delays nobody: it is reported in its
    camera summary (``error``) and the others run. ``out``: annotated video path (one file per
    camera, ``<stem>_<camera>.mp4``, when several). ``stop``: set it to end every camera.
    """
    manager = alerts or AlertManager(list(sinks), cooldown=config.cooldown)
    started = time.perf_counter()
    started_at = started_at or datetime.now(timezone.utc)  # one clock for every file source
    summaries: list[CameraSummary | None] = [None] * len(sources)
    several = len(sources) > 1
    bar = _Progress() if progress else None

    def run_one(i: int, item: Any) -> None:
        if not isinstance(item, (SourceSpec, VideoSource)):
            item = SourceSpec(item)
        try:
            if isinstance(item, VideoSource):
                source = item
            else:
                options = dict(item.options)
                options.setdefault("started_at", started_at)
                source = open_source(item.spec, item.camera_id, item.location, **options)
        except FacelensError as exc:
            camera = item.camera_id or default_camera_id(item.spec)
            summaries[i] = CameraSummary(camera, item.location, str(item.spec), error=str(exc))
            return
        watcher = CameraWatcher(source, watchlist, manager, config,
                                _out_for(out, source.camera_id, several), linker, on_frame)
        summaries[i] = watcher.run(stop, bar.task(source) if bar else None)

    try:
        if len(sources) == 1:
            run_one(0, sources[0])
        else:
            threads = [threading.Thread(target=run_one, args=(i, item), name=f"facelens-camera-{i}", daemon=True)
                       for i, item in enumerate(sources)]
            for thread in threads:
                thread.start()
            for thread in threads:
                while thread.is_alive():
                    thread.join(timeout=0.2)
    except KeyboardInterrupt:
        if stop is not None:
            stop.set()
        raise
    finally:
        if bar is not None:
            bar.close()
        if alerts is None:
            manager.close()
    return RunSummary([s for s in summaries if s is not None], time.perf_counter() - started, list(manager.sent))


def _unaligned(rgb: np.ndarray, detector: str, max_side: int | None, **options) -> list[Face]:
    """The whole-frame pass on a ≤ ``max_side`` copy, boxes in full-frame pixels, not aligned."""
    scale = min(1.0, max_side / max(rgb.shape[:2])) if max_side else 1.0
    small = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR) if scale < 1.0 else rgb
    faces = get_detector(detector, **options).detect(small)
    if scale == 1.0:
        return faces
    return [face.replace(box=tuple(v / scale for v in face.box),
                         keypoints={k: (x / scale, y / scale) for k, (x, y) in face.keypoints.items()})
            for face in faces]


def _template(track: Track) -> np.ndarray | None:
    embeddings = track.embeddings
    if not len(embeddings):
        return None
    mean = embeddings.mean(0)
    return mean / max(float(np.linalg.norm(mean)), 1e-12)


_UNKNOWN_LOCK = threading.Lock()  # one gallery written from every camera thread


def _record_unknown(watchlist: Any, template: np.ndarray, model: str) -> int:
    """Store an unknown track's template in the watchlist's gallery (if it has one); 1 when stored."""
    gallery = getattr(watchlist, "gallery", None)
    if gallery is None or not hasattr(gallery, "add_unknowns"):
        return 0
    with _UNKNOWN_LOCK:
        gallery.add_unknowns(template[None, :], model)
    return 1


class _Progress:
    """A rich progress bar on stderr, one line per file source of known length."""

    def __init__(self) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                            TimeRemainingColumn(), transient=True)
        self.bar.start()

    def task(self, source: VideoSource) -> Callable[[int], None] | None:
        if source.live or not source.frame_count:
            return None
        task = self.bar.add_task(source.camera_id, total=source.frame_count)
        return lambda n: self.bar.advance(task, n)

    def close(self) -> None:
        self.bar.stop()
