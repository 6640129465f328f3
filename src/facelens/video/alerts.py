"""Alert events and where they go.

An ``Alert`` says: this track on this camera is watchlist identity X (or, optionally, an unknown
person), with the similarity, where and when (first/last seen, frame number) and a JPEG snapshot.
``AlertManager`` de-duplicates (one alert per track and identity, and a per-camera cooldown so a
person whose track broke in two does not alert twice) and fans out to sinks:

- ``JsonLinesSink``  one JSON object per line, appended and flushed (snapshot base64-encoded);
- ``StdoutSink``     one JSON line per alert without the snapshot;
- ``WebhookSink``    HTTP POST of the JSON from a background thread: ``emit`` never blocks the
  video loop; failed posts are retried with exponential back-off, and alerts that still cannot be
  delivered (or do not fit the queue, or are pending at shutdown) go to a dead-letter JSON Lines
  file, from which ``replay_dead_letters`` sends them later — no alert is lost;
- ``CallbackSink``   calls a function in-process (exceptions are logged, never propagated).
"""

from __future__ import annotations

import base64
import json
import logging
import queue
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Alert:
    kind: str  # "match" (watchlist identity) or "unknown"
    identity: str | None
    similarity: float | None
    camera_id: str
    location: str | None
    track_id: int
    frame: int  # frame index at which the decision was made
    first_seen: float  # seconds since the start of the stream
    last_seen: float
    first_seen_utc: str | None = None  # wall-clock times when the stream start is known
    last_seen_utc: str | None = None
    box: tuple[float, float, float, float] | None = None
    global_id: str | None = None
    votes: int = 0  # captures of the track that voted for this identity
    captures: int = 0  # usable captures the decision was made on
    agreement: float | None = None  # votes / captures
    snapshot: bytes | None = field(default=None, repr=False)  # JPEG
    alert_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    created_at: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="milliseconds"))

    def to_dict(self, include_snapshot: bool = True) -> dict[str, Any]:
        out = asdict(self)
        out["snapshot"] = None
        if self.snapshot is not None and include_snapshot:
            out["snapshot"] = {"mime": "image/jpeg", "base64": base64.b64encode(self.snapshot).decode("ascii")}
        if self.similarity is not None:
            out["similarity"] = round(float(self.similarity), 4)
        out["first_seen"] = round(self.first_seen, 3)
        out["last_seen"] = round(self.last_seen, 3)
        if self.box is not None:
            out["box"] = [round(v, 1) for v in self.box]
        if self.agreement is not None:
            out["agreement"] = round(float(self.agreement), 3)
        return out

    def to_json(self, include_snapshot: bool = True) -> str:
        return json.dumps(self.to_dict(include_snapshot))


def snapshot_jpeg(rgb: np.ndarray, box, margin: float = 0.25, quality: int = 85) -> bytes | None:
    """JPEG of the box (widened by ``margin``) cut from an RGB frame."""
    x1, y1, x2, y2 = box
    w, h = x2 - x1, y2 - y1
    x1, y1 = int(max(0, x1 - margin * w)), int(max(0, y1 - margin * h))
    x2, y2 = int(min(rgb.shape[1], x2 + margin * w)), int(min(rgb.shape[0], y2 + margin * h))
    if x2 <= x1 or y2 <= y1:
        return None
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(rgb[y1:y2, x1:x2], cv2.COLOR_RGB2BGR),
                            [cv2.IMWRITE_JPEG_QUALITY, quality])
    return data.tobytes() if ok else None


class Sink(Protocol):
    def emit(self, alert: Alert) -> None: ...

    def close(self) -> None: ...


class JsonLinesSink:
    def __init__(self, path: str | Path, include_snapshot: bool = True) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.include_snapshot = include_snapshot
        self._lock = threading.Lock()
        self._file = self.path.open("a", encoding="utf-8")

    def emit(self, alert: Alert) -> None:
        with self._lock:
            self._file.write(alert.to_json(self.include_snapshot) + "\n")
            self._file.flush()

    def close(self) -> None:
        with self._lock:
            self._file.close()


class StdoutSink:
    def __init__(self, stream=None) -> None:
        self.stream = stream
        self._lock = threading.Lock()

    def emit(self, alert: Alert) -> None:
        with self._lock:
            print(alert.to_json(include_snapshot=False), file=self.stream or sys.stdout, flush=True)

    def close(self) -> None:
        pass


class CallbackSink:
    def __init__(self, callback: Callable[[Alert], Any]) -> None:
        self.callback = callback

    def emit(self, alert: Alert) -> None:
        try:
            self.callback(alert)
        except Exception:  # noqa: BLE001 - a user callback must not stop the video loop
            log.exception("alert callback failed for alert %s", alert.alert_id)

    def close(self) -> None:
        pass


def post_json(url: str, body: bytes, timeout: float, headers: dict[str, str] | None = None) -> int:
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json", **(headers or {})})
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - user-given URL
        return response.status


class WebhookSink:
    """POST alerts as JSON to ``url`` from a background thread.

    Each alert is tried up to ``attempts`` times with waits ``backoff``, 2·backoff, … (capped at
    ``max_backoff``); 2xx is success, anything else (refused, timeout, 5xx, 4xx) is retried. An
    alert that is never delivered is appended to ``dead_letter`` (JSON Lines, with the last error).
    ``close(timeout)`` waits for the queue to drain, then dead-letters what is left.
    """

    def __init__(self, url: str, dead_letter: str | Path | None = None, attempts: int = 5,
                 backoff: float = 0.5, max_backoff: float = 10.0, timeout: float = 5.0,
                 max_queue: int = 1000, include_snapshot: bool = True,
                 headers: dict[str, str] | None = None) -> None:
        self.url = url
        self.dead_letter = Path(dead_letter) if dead_letter else Path("alerts.dead-letter.jsonl")
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.timeout = timeout
        self.include_snapshot = include_snapshot
        self.headers = headers
        self.delivered = 0
        self.failed = 0
        self.retries = 0
        self._queue: queue.Queue = queue.Queue(maxsize=max_queue)
        self._stop = threading.Event()
        self._dead_lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="facelens-webhook", daemon=True)
        self._thread.start()

    def emit(self, alert: Alert) -> None:
        try:
            self._queue.put_nowait(alert)
        except queue.Full:
            self._bury(alert, "webhook queue full")

    def _run(self) -> None:
        while True:
            try:
                alert = self._queue.get(timeout=0.1)
            except queue.Empty:
                if self._stop.is_set():
                    return
                continue
            try:
                self._deliver(alert)
            finally:
                self._queue.task_done()

    def _deliver(self, alert: Alert) -> None:
        body = alert.to_json(self.include_snapshot).encode("utf-8")
        wait = self.backoff
        error = ""
        for attempt in range(1, self.attempts + 1):
            if self._stop.is_set() and attempt > 1:
                break  # shutting down: keep the alert in the dead-letter file instead of waiting
            try:
                status = post_json(self.url, body, self.timeout, self.headers)
                if 200 <= status < 300:
                    self.delivered += 1
                    return
                error = f"HTTP {status}"
            except urllib.error.HTTPError as exc:
                error = f"HTTP {exc.code}"
            except (urllib.error.URLError, OSError, TimeoutError) as exc:
                error = str(getattr(exc, "reason", exc))
            if attempt < self.attempts:
                self.retries += 1
                log.warning("webhook %s: %s; retry %d/%d in %.1f s", self.url, error, attempt,
                            self.attempts - 1, wait)
                if self._stop.wait(wait):
                    continue
                wait = min(wait * 2, self.max_backoff)
        self._bury(alert, error)

    def _bury(self, alert: Alert, error: str) -> None:
        self.failed += 1
        log.error("webhook %s: alert %s not delivered (%s); kept in %s", self.url, alert.alert_id,
                  error, self.dead_letter)
        record = alert.to_dict(self.include_snapshot)
        record["_error"] = error
        record["_url"] = self.url
        with self._dead_lock:
            self.dead_letter.parent.mkdir(parents=True, exist_ok=True)
            with self.dead_letter.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(record) + "\n")

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued alert was delivered or dead-lettered; False on timeout."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.02)
        return not self._queue.unfinished_tasks

    def close(self, timeout: float = 10.0) -> None:
        self.flush(timeout)
        self._stop.set()
        self._thread.join(timeout=self.timeout + 1)
        while True:  # anything still queued after the deadline is kept, not lost
            try:
                self._bury(self._queue.get_nowait(), "not sent before shutdown")
            except queue.Empty:
                break


def replay_dead_letters(path: str | Path, url: str | None = None, timeout: float = 5.0) -> tuple[int, int]:
    """Re-send a dead-letter file; delivered lines are removed, the rest kept. (sent, kept)."""
    path = Path(path)
    if not path.exists():
        return 0, 0
    kept, sent = [], 0
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        record = json.loads(line)
        target = url or record.get("_url")
        body = {k: v for k, v in record.items() if not k.startswith("_")}
        try:
            if target and 200 <= post_json(target, json.dumps(body).encode(), timeout) < 300:
                sent += 1
                continue
        except (urllib.error.URLError, OSError, TimeoutError):
            pass
        kept.append(line)
    path.write_text("".join(k + "\n" for k in kept), encoding="utf-8")
    return sent, len(kept)


class AlertManager:
    """De-duplicates and fans out. One alert per (camera, track, identity); a track of an
    identity that was in view on the same camera less than ``cooldown`` seconds (stream time)
    before this track began is suppressed — a track broken by an occlusion does not alert twice,
    a person who left and came back after the cooldown does.

    The rule only looks at *visits*: (first, last) seen of every track known as the identity on
    the camera (``seen`` keeps them current; ``offer`` records the alerting track's own). Only
    tracks that began before the alerting one count, so the answer does not depend on when the
    alert is offered: the live watcher (online) and the Ray archive driver (after the fact, with
    every chunk's tracks) run this same code and agree.
    """

    def __init__(self, sinks: list[Sink] | None = None, cooldown: float = 30.0) -> None:
        self.sinks = list(sinks or [])
        self.cooldown = cooldown
        self.sent: list[Alert] = []
        self.suppressed = 0
        self._per_track: set[tuple[str, int, str | None, str]] = set()
        self._visits: dict[tuple[str, str], dict[int, tuple[float, float]]] = {}
        self._lock = threading.Lock()

    def offer(self, alert: Alert) -> bool:
        """Send unless it duplicates an earlier alert; True when sent."""
        track_key = (alert.camera_id, alert.track_id, alert.identity, alert.kind)
        with self._lock:
            if track_key in self._per_track:
                return False
            self._per_track.add(track_key)
            if alert.kind == "match" and alert.identity is not None:
                key = (alert.camera_id, alert.identity)
                self._visit(key, alert.track_id, alert.first_seen, alert.last_seen)
                previous = self._previous_visit_end(key, alert.track_id, alert.first_seen)
                if previous is not None and alert.first_seen - previous < self.cooldown:
                    self.suppressed += 1
                    return False
            self.sent.append(alert)
        for sink in self.sinks:
            try:
                sink.emit(alert)
            except Exception:  # noqa: BLE001 - one broken sink must not stop the others
                log.exception("alert sink %s failed", type(sink).__name__)
        return True

    def seen(self, camera_id: str, identity: str, last_seen: float, track_id: int | None = None,
             first_seen: float | None = None) -> None:
        """Record that a track known as ``identity`` is in view until ``last_seen``. Without a
        track id the sighting extends the identity's latest visit (the old call)."""
        with self._lock:
            key = (camera_id, identity)
            visits = self._visits.get(key)
            if track_id is None:
                if visits:
                    latest = max(visits, key=lambda t: visits[t][1])
                    self._visit(key, latest, visits[latest][0], last_seen)
                return
            self._visit(key, track_id, last_seen if first_seen is None else first_seen, last_seen)

    def _visit(self, key: tuple[str, str], track_id: int, first: float, last: float) -> None:
        visits = self._visits.setdefault(key, {})
        old = visits.get(track_id)
        visits[track_id] = (min(first, old[0]) if old else first, max(last, old[1]) if old else last)
        if len(visits) > 64:  # long runs: forget visits that can no longer suppress anything
            newest = max(v[1] for v in visits.values())
            for tid in [t for t, v in visits.items() if v[1] < newest - self.cooldown]:
                del visits[tid]

    def _previous_visit_end(self, key: tuple[str, str], track_id: int, first_seen: float) -> float | None:
        ends = [last for tid, (first, last) in self._visits.get(key, {}).items()
                if tid != track_id and (first, tid) < (first_seen, track_id)]
        return max(ends) if ends else None

    def close(self) -> None:
        for sink in self.sinks:
            try:
                sink.close()
            except Exception:  # noqa: BLE001
                log.exception("closing alert sink %s failed", type(sink).__name__)


def sink_for(target: str, dead_letter: str | Path | None = None) -> Sink:
    """'-' → stdout, http(s)://… → webhook, anything else → a JSON Lines file."""
    if target == "-":
        return StdoutSink()
    if target.startswith(("http://", "https://")):
        return WebhookSink(target, dead_letter=dead_letter)
    return JsonLinesSink(target)
