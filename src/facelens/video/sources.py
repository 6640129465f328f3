"""Every way frames arrive — video files, webcams, RTSP/HTTP streams, image folders — as one
iterable of ``Frame`` records (RGB uint8, index, timestamp, camera id, location).

OpenCV (its bundled FFmpeg) reads files and streams. Opening fails with ``SourceError`` and a
message naming the source and what went wrong; a *live* stream (URL or webcam) that stops
delivering frames is reopened with exponential back-off capped at ``max_backoff`` — by default
for as long as the watcher runs (``reconnect=None``; an int gives up after that many failed
attempts in a row; ``stop_event`` ends the waiting) — while a file that stops early simply ends
(its ``error`` attribute says why if it was a read failure rather than the end). A live source
counts what happened: ``reconnects`` (successful), ``outages`` (drops) and ``offline_seconds``.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import cv2
import numpy as np

from ..constants import IMAGE_SUFFIXES
from ..errors import SourceError

log = logging.getLogger(__name__)

STREAM_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "udp://", "tcp://")


@dataclass(frozen=True)
class Frame:
    """One decoded frame. ``timestamp`` is seconds since the start of the source (files: from
    the frame rate; live streams: wall-clock time since opening)."""

    index: int
    timestamp: float
    image: np.ndarray  # H×W×3 RGB uint8
    camera_id: str
    location: str | None = None

    @property
    def height(self) -> int:
        return int(self.image.shape[0])

    @property
    def width(self) -> int:
        return int(self.image.shape[1])


class VideoSource:
    """Base class: a context manager and an iterable of Frame (iterate once)."""

    camera_id: str
    location: str | None
    fps: float | None = None
    frame_count: int | None = None
    live: bool = False
    started_at: datetime  # wall-clock time of timestamp 0 (UTC)
    error: str | None = None  # set when frames stopped for a reason other than the normal end

    def __enter__(self) -> "VideoSource":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __iter__(self) -> Iterator[Frame]:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def describe(self) -> str:
        return f"{self.camera_id}"


def _to_rgb(bgr: np.ndarray) -> np.ndarray:
    if bgr.ndim == 2:
        return cv2.cvtColor(bgr, cv2.COLOR_GRAY2RGB)
    if bgr.shape[2] == 4:
        return cv2.cvtColor(bgr, cv2.COLOR_BGRA2RGB)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _resize(rgb: np.ndarray, max_width: int | None) -> np.ndarray:
    if max_width and rgb.shape[1] > max_width:
        scale = max_width / rgb.shape[1]
        size = (max_width, max(1, round(rgb.shape[0] * scale)))
        return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    return rgb


class CaptureSource(VideoSource):
    """A file, webcam index or stream URL read through cv2.VideoCapture.

    Options: ``reconnect`` (failed attempts in a row after which a dropped live stream is given
    up; None, the default, = never: retry for as long as the watcher runs; 0 = no retry),
    ``backoff`` (first wait in seconds, doubled each attempt up to ``max_backoff``, default 8 s),
    ``open_timeout`` (seconds, for streams), ``max_width`` (downscale wider frames),
    ``realtime`` (files only: sleep to play at the file's frame rate, default False),
    ``start_frame``/``end_frame`` (files: a chunk of frames), ``started_at`` (UTC time of frame 0;
    default: when opened — pass the recording time for archived footage; live sources always
    use the opening time).
    """

    def __init__(self, spec: str | int, camera_id: str, location: str | None, *, live: bool,
                 reconnect: int | None = None, backoff: float = 0.5, max_backoff: float = 8.0,
                 open_timeout: float = 10.0, max_width: int | None = None,
                 realtime: bool = False, start_frame: int = 0, end_frame: int | None = None,
                 started_at: datetime | None = None) -> None:
        self.spec = spec
        self.camera_id = camera_id
        self.location = location
        self.live = live
        self.reconnect = None if reconnect is None or int(reconnect) < 0 else int(reconnect)
        self.backoff = float(backoff)
        self.max_backoff = float(max_backoff)
        self.open_timeout = float(open_timeout)
        self.max_width = max_width
        self.realtime = realtime
        self.reconnects = 0
        self.outages = 0
        self.offline_seconds = 0.0
        self.delivered = 0
        self.stop_event: threading.Event | None = None  # set by the watcher: stop reconnecting
        self.start_frame = max(0, int(start_frame))
        self.end_frame = end_frame
        # Live timestamps count from opening, so their wall clock is the opening time.
        self.started_at = (None if live else started_at) or datetime.now(timezone.utc)
        self._capture = self._open()
        if self.start_frame and not live:
            self._capture.set(cv2.CAP_PROP_POS_FRAMES, self.start_frame)
        fps = self._capture.get(cv2.CAP_PROP_FPS)
        self.fps = float(fps) if fps and 0 < fps < 1000 else None
        count = int(self._capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        self.frame_count = count if (count > 0 and not live) else None
        # Decode the first frame now so a bad codec or empty file fails at open, not mid-run.
        self._first = self._read()
        if self._first is None:
            self._capture.release()
            what = "no frame could be decoded (empty file, 0 frames, or a codec OpenCV cannot read)"
            raise SourceError(f"{self.describe()}: {what}")

    def describe(self) -> str:
        return f"camera {self.camera_id!r} ({self.spec})"

    def _open(self) -> cv2.VideoCapture:
        if isinstance(self.spec, int):
            capture = cv2.VideoCapture(self.spec)
        elif self.live:
            timeout_ms = int(self.open_timeout * 1000)
            params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, timeout_ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, timeout_ms]
            capture = cv2.VideoCapture(self.spec, cv2.CAP_FFMPEG, params)
        else:
            capture = cv2.VideoCapture(self.spec, cv2.CAP_FFMPEG)
        if not capture.isOpened():
            capture.release()
            kind = "stream" if self.live else "video file"
            raise SourceError(f"{self.describe()}: cannot open {kind} (unreachable, refused, "
                              "unsupported format or codec)")
        return capture

    def _read(self) -> np.ndarray | None:
        try:
            ok, bgr = self._capture.read()
        except cv2.error as exc:  # some FFmpeg failures surface as exceptions
            log.warning("%s: read failed: %s", self.describe(), exc)
            return None
        if not ok or bgr is None or bgr.size == 0:
            return None
        return _resize(_to_rgb(bgr), self.max_width)

    def _reopen(self) -> bool:
        """Reopen a dropped live stream with capped exponential back-off until it delivers a frame
        (True), ``reconnect`` attempts failed in a row, or ``stop_event`` is set (False)."""
        self._capture.release()
        self.outages += 1
        dropped = time.monotonic()
        wait = self.backoff
        attempt = 0
        try:
            while self.reconnect is None or attempt < self.reconnect:
                attempt += 1
                limit = "∞" if self.reconnect is None else str(self.reconnect)
                log.warning("%s: stream dropped; reconnect %d/%s in %.1f s", self.describe(), attempt, limit, wait)
                if self._wait(wait):
                    return False
                wait = min(wait * 2, self.max_backoff)
                try:
                    self._capture = self._open()
                except SourceError:
                    continue
                first = self._read()
                if first is not None:
                    self.reconnects += 1
                    self._first = first
                    return True
                self._capture.release()
            return False
        finally:
            self.offline_seconds += time.monotonic() - dropped

    def _wait(self, seconds: float) -> bool:
        """Sleep; True when the watcher was stopped meanwhile."""
        if self.stop_event is not None:
            return self.stop_event.wait(seconds)
        time.sleep(seconds)
        return False

    def __iter__(self) -> Iterator[Frame]:
        index = self.start_frame
        start = time.monotonic()
        step = 1.0 / self.fps if self.fps else 1.0 / 25.0
        while True:
            if self.end_frame is not None and index >= self.end_frame:
                return
            rgb, self._first = (self._first, None) if self._first is not None else (self._read(), None)
            if rgb is None:
                if self.live and self._reopen():
                    continue
                if self.live and not (self.stop_event is not None and self.stop_event.is_set()):
                    self.error = (f"stream stopped after {self.delivered} frames; {self.reconnect} reconnect "
                                  f"attempts failed in a row ({self.outages} drop(s), "
                                  f"{self.offline_seconds:.1f} s offline in all)")
                elif self.frame_count and index < self.frame_count - 1:
                    # Files whose header promises more frames than decode: a truncated or damaged file.
                    self.error = f"read failed at frame {index} of {self.frame_count} (truncated or damaged file?)"
                if self.error:
                    log.warning("%s: %s", self.describe(), self.error)
                return
            if self.live:
                timestamp = time.monotonic() - start
            else:
                timestamp = index * step
                if self.realtime:
                    delay = timestamp - (time.monotonic() - start)
                    if delay > 0:
                        time.sleep(delay)
            self.delivered += 1
            yield Frame(index, timestamp, rgb, self.camera_id, self.location)
            index += 1

    def close(self) -> None:
        self._capture.release()


class FolderSource(VideoSource):
    """Images in a folder, in name order, as a pseudo-stream at ``fps`` (default 1 frame/s).
    Unreadable images are skipped with a warning."""

    def __init__(self, folder: Path, camera_id: str, location: str | None, *, fps: float = 1.0,
                 max_width: int | None = None, started_at: datetime | None = None, **_ignored) -> None:
        self.started_at = started_at or datetime.now(timezone.utc)
        self.folder = Path(folder)
        self.camera_id = camera_id
        self.location = location
        self.fps = float(fps)
        self.max_width = max_width
        self.paths = sorted(p for p in self.folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not self.paths:
            raise SourceError(f"{self.describe()}: folder holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
        self.frame_count = len(self.paths)

    def describe(self) -> str:
        return f"camera {self.camera_id!r} ({self.folder})"

    def __iter__(self) -> Iterator[Frame]:
        index = 0
        for path in self.paths:
            bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if bgr is None:
                log.warning("%s: skipping unreadable image %s", self.describe(), path.name)
                continue
            yield Frame(index, index / self.fps, _resize(_to_rgb(bgr), self.max_width),
                        self.camera_id, self.location)
            index += 1


def default_camera_id(spec: str | int | os.PathLike) -> str:
    if isinstance(spec, int):
        return f"webcam{spec}"
    text = str(spec)
    if text.startswith(STREAM_SCHEMES):
        return text.split("://", 1)[1].split("@")[-1].split("?")[0].rstrip("/") or text
    return Path(text).stem or text


def open_source(spec: str | int | os.PathLike, camera_id: str | None = None,
                location: str | None = None, **options) -> VideoSource:
    """Open a video file, webcam index (int or digit string), stream URL or image folder.

    Raises SourceError with a clear message when the source does not exist, cannot be opened,
    or yields no decodable frame. See ``CaptureSource``/``FolderSource`` for ``options``.
    """
    if isinstance(spec, bool):
        raise SourceError(f"not a video source: {spec!r}")
    if isinstance(spec, str) and spec.strip().isdigit():
        spec = int(spec.strip())
    camera = camera_id or default_camera_id(spec)
    folder_fps = options.pop("fps", None)  # the pseudo frame rate of image folders only
    if isinstance(spec, int):
        return CaptureSource(spec, camera, location, live=True, **options)
    text = os.fspath(spec)
    if text.startswith(STREAM_SCHEMES):
        return CaptureSource(text, camera, location, live=True, **options)
    path = Path(text)
    if not path.exists():
        raise SourceError(f"{text}: no such file, folder or stream")
    if path.is_dir():
        return FolderSource(path, camera, location, fps=folder_fps or 1.0, **options)
    if path.stat().st_size == 0:
        raise SourceError(f"camera {camera!r} ({text}): file is empty (0 bytes)")
    return CaptureSource(str(path), camera, location, live=False, **options)
