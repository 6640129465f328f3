"""Cameras outside the server process: one OS process (``camera_workers = "processes"``) or one
Ray actor (``"ray"``) per camera, while the server stays the only writer and publisher.

The child (``camera_main``) opens its own Gallery on the server's database — searches only:
its watchlist and negative templates follow the gallery's generation counters, so a person
enrolled or deleted, or a ``wrong_person`` review, reaches the camera at its next match — and
runs ``daemon.CameraWorker`` (back-off and reconnects included) with a ``PipeOutput``: every
record (alert with snapshot and embedding, finished track, expression observations, unknown
face, state change, and twice a second the latest frame as JPEG for snapshot.jpg / stream.mjpg)
goes back to the server as a message. In the server, the camera's collector thread
(``ProcessCameraWorker``) hands each record to ``daemon.DatabaseOutput`` — the same code the
thread worker writes through.

Processes: ``multiprocessing`` "spawn" (no fork of a server holding threads, sockets and
database connections). The records travel over a one-way ``Pipe``, not a ``multiprocessing.Queue``:
its write end lives only in the child, so when the child dies — even killed in the middle of a
message — the collector reads EOF instead of blocking on half a message; and a full pipe
(64 KiB) makes the child wait, so the channel is bounded. A process that exits without
finishing is reported (``failures``, ``error`` with its exit code) and started again after the
camera's back-off (doubling up to ``max_backoff_s``, reset after a run of 30 s). Frames POSTed to
a push camera go to its child through a bounded ``multiprocessing.Queue`` (``push_queue``; full:
503). The child ends itself when the server process is gone (its lifeline pipe closes).

Ray: the same ``camera_main`` in an actor per camera, placed by Ray (``ray_address``, one actor
asks for ``ray_cpus_per_camera`` CPUs and runs its models with that many threads, as
``facelens.video.distributed`` does); records come back through a ``ray.util.queue.Queue``.
A cluster needs a PostgreSQL database every node reaches and ``FACELENS_KEY`` on every node.
``distributed.watch_streams`` itself returns its alerts when a run ends, so it cannot feed a
live server; its Ray set-up (``_init``) is what is shared. Push cameras stay processes here.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import queue
import signal
import threading
import time
from typing import Any, Callable

import numpy as np

from ..errors import ConflictError
from .config import CameraSettings, Settings
from .daemon import FRESH_RUN_S, CameraOutput, CameraWorker, DaemonContext

log = logging.getLogger("facelens.server.workers")
SPAWN = multiprocessing.get_context("spawn")
PREVIEW_EVERY_S = 0.5  # the latest frame goes to the server at most this often
STOP_GRACE_S = 10.0  # a child that has not ended this long after "stop" is killed
COUNTERS = ("frames", "failures", "runs")  # the child's; the server adds those of earlier children


# ---------------------------------------------------------------- the child


class PipeOutput(CameraOutput):
    """A camera's records as messages to the server (``send``: a pipe's or a Ray queue's)."""

    keeps_observations = True  # the server drops them when it keeps none

    def __init__(self, send: Callable[[tuple], Any]) -> None:
        self._send = send
        self._lock = threading.Lock()  # one message at a time on the pipe, whichever thread sends
        self._preview_at = 0.0

    def _put(self, message: tuple) -> None:
        with self._lock:
            self._send(message)

    def alert(self, alert: Any, embedding: np.ndarray | None) -> None:
        self._put(("alert", alert, embedding))

    def link(self, track: dict[str, Any]) -> None:
        self._put(("link", track))

    def observations(self, rows: list[Any]) -> None:
        self._put(("observations", list(rows)))

    def unknowns(self, vectors: np.ndarray, model: str, sources: list[str]) -> None:
        self._put(("unknowns", np.asarray(vectors, np.float32), model, list(sources)))

    def state(self, worker: Any) -> None:
        self._put(("state", _counters(worker)))

    def frame(self, worker: Any) -> None:
        """Counters after every frame (a few hundred bytes: a push camera's last frame must
        count at once), the picture itself at most every PREVIEW_EVERY_S."""
        now = time.monotonic()
        if now - self._preview_at >= PREVIEW_EVERY_S:
            self._preview_at = now
            self._put(("frame", _counters(worker), *_preview(worker.latest())))
        else:
            self._put(("progress", _counters(worker)))


def _counters(worker: Any) -> dict[str, Any]:
    return {"state": worker.state, "error": worker.error, "retry_in_s": worker.retry_in,
            "last_frame_at": worker.last_frame_at, **{name: getattr(worker, name) for name in COUNTERS}}


def _preview(latest: tuple[int, np.ndarray, list] | None) -> tuple[bytes | None, list]:
    """The newest frame as JPEG and its faces as plain tuples (Face objects do not pickle)."""
    import cv2

    if latest is None:
        return None, []
    _, rgb, faces = latest
    ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])
    plain = [(tuple(float(v) for v in f.box), float(f.score), dict(f.attributes), f.detector) for f in faces]
    return (jpeg.tobytes() if ok else None), plain


def camera_main(camera: CameraSettings, settings: Settings, db: str | None, send: Callable[[tuple], Any],
                stop: Any, pushed_frames: Any = None) -> None:
    """The whole life of a camera process (or Ray actor): run the camera until the source
    finishes or ``stop.wait(timeout)`` answers True (asked to stop, or the server is gone)."""
    from ..feedback import NegativeTemplates
    from ..gallery import Gallery

    output = PipeOutput(send)
    try:
        gallery = Gallery(db)  # the key as the server found it: FACELENS_KEY or the key file beside the db
    except Exception as exc:  # noqa: BLE001 - reported to the server, which backs off and retries
        output._put(("error", f"camera process cannot open the gallery: {exc}"))
        raise
    try:
        context = DaemonContext(settings, gallery, alerts=None, sightings=None,
                                negatives=NegativeTemplates(gallery), bus=None)
        worker = CameraWorker(camera, context, output)
        worker.pushed_frames = pushed_frames
        threading.Thread(target=_stop_when, args=(stop, worker), daemon=True, name="facelens-camera-stop").start()
        worker.run()
    finally:
        gallery.close()


def _stop_when(stop: Any, worker: CameraWorker) -> None:
    while not stop.wait(0.5):
        pass
    worker.request_stop()


class _Lifeline:
    """The stop signal of a camera process: the read end of a pipe whose write end only the
    server holds. A message is "stop"; end of file means the server is gone (even killed), so
    no camera outlives it. (Not a multiprocessing.Event: setting one blocks for ever when a
    process that was waiting on it has died.)"""

    def __init__(self, connection: Any) -> None:
        self.connection = connection

    def wait(self, timeout: float) -> bool:
        try:
            return self.connection.poll(timeout)  # True on a message and on end of file
        except (EOFError, OSError):
            return True


def _process_main(camera: CameraSettings, settings: Settings, db: str | None, connection: Any, lifeline: Any,
                  pushed_frames: Any) -> None:
    # Ctrl-C and systemd's SIGTERM reach the whole group: the server stops us itself (stop pipe,
    # then a kill after the grace), so the tracks still open are finished and their records sent
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    logging.basicConfig(level=logging.WARNING, format=f"%(asctime)s %(levelname)s camera {camera.id}: %(message)s")
    try:
        camera_main(camera, settings, db, connection.send, _Lifeline(lifeline), pushed_frames)
    finally:
        connection.close()


# ---------------------------------------------------------------- the server side


class _Child:
    """One running camera process: its records' pipe, stop signal and frame queue."""

    def __init__(self, camera: CameraSettings, settings: Settings, db: str | None) -> None:
        self._reader, writer = SPAWN.Pipe(duplex=False)
        lifeline, self._lifeline = SPAWN.Pipe(duplex=False)
        self.pushed_frames = SPAWN.Queue(camera.push_queue) if camera.is_push else None
        self.process = SPAWN.Process(target=_process_main, name=f"facelens-camera-{camera.id}", daemon=True,
                                     args=(camera, settings, db, writer, lifeline, self.pushed_frames))
        try:
            self.process.start()
        finally:
            writer.close()  # only the child holds the records' write end now: its death is our EOF
            lifeline.close()  # only the child reads the lifeline; our exit closes its write end

    @property
    def pid(self) -> int | None:
        return self.process.pid

    @property
    def running(self) -> bool:
        return self.process.is_alive()

    def receive(self, timeout: float) -> tuple | None:
        """The next record, None when none came within ``timeout``; EOFError once the child ended."""
        if self._reader.poll(timeout):
            return self._reader.recv()
        return None

    def request_stop(self) -> None:
        try:
            self._lifeline.send("stop")
        except OSError:  # the child is gone already
            pass

    def kill(self) -> None:
        self.process.kill()

    def finish(self) -> int | None:
        """Wait for the process to end (it has closed its pipe); its exit code."""
        self.process.join(5)
        if self.process.exitcode is None:
            self.process.kill()
            self.process.join(5)
        self._reader.close()
        self._lifeline.close()
        if self.pushed_frames is not None:
            self.pushed_frames.cancel_join_thread()  # frames nobody will read: do not wait on them
            self.pushed_frames.close()
        return self.process.exitcode


class ProcessCameraWorker(CameraWorker):
    """A camera in its own process. Same control and description as the thread worker;
    its ``_run`` (in the camera's collector thread) starts the child, hands the child's records to
    ``DatabaseOutput`` until the child ends, and restarts a child that died, with back-off."""

    kind = "process"

    def __init__(self, settings: CameraSettings, context: DaemonContext) -> None:
        super().__init__(settings, context)
        self.child: Any = None
        self._reported_state: str | None = None
        self._child_error: str | None = None
        self._base = dict.fromkeys(COUNTERS, 0)  # counters of earlier children
        self._preview: tuple[int, bytes | None, list] | None = None
        self._decoded: tuple[int, np.ndarray, list] | None = None

    def _start_child(self) -> Any:
        return _Child(self.settings, self.context.settings, self.context.settings.server.db)

    # -- control ------------------------------------------------------------------------------
    def request_stop(self) -> None:
        self._stop.set()
        child = self.child
        if child is not None:
            child.request_stop()

    @property
    def pid(self) -> int | None:
        child = self.child
        return child.pid if child is not None and self.alive and child.running else None

    def push(self, rgb: np.ndarray) -> bool:
        if not self.settings.is_push:
            raise ConflictError(f"camera {self.id!r} reads its own source; frames cannot be pushed to it")
        child = self.child
        frames = getattr(child, "pushed_frames", None)
        if frames is None or self.state != "running":
            raise ConflictError(f"camera {self.id!r} is not running (start it first)")
        try:
            frames.put_nowait(rgb)
        except queue.Full:
            return False
        except (ValueError, OSError):  # the child is stopping: its queue closed before the state moved
            raise ConflictError(f"camera {self.id!r} is not running (start it first)") from None
        return True

    # -- the collector ------------------------------------------------------------------------
    def _run(self) -> None:
        wait = self.settings.backoff_s
        while not self._stop.is_set():
            self._set("starting")
            began = time.monotonic()
            self._base = {name: getattr(self, name) for name in COUNTERS}  # the next child counts on from here
            self._reported_state = self._child_error = None
            try:
                self.child = self._start_child()
            except Exception as exc:  # noqa: BLE001 - e.g. no memory for another process: try later
                wait = self._back_off(f"camera {self.child_kind} could not start: {exc}", wait)
                continue
            self._collect(self.child)
            exit_code = self.child.finish()
            if self._stop.is_set():
                break
            if self._reported_state == "finished" and exit_code == 0:
                self._set("finished")
                return
            if time.monotonic() - began >= FRESH_RUN_S:
                wait = self.settings.backoff_s
            wait = self._back_off(self._child_error or f"camera {self.child_kind} {self.child.pid} died "
                                  f"(exit code {exit_code})", wait)
        self._set("stopped")

    @property
    def child_kind(self) -> str:
        return "process"

    def _collect(self, child: Any) -> None:
        """Hand the child's records to the output until the child has ended (or been stopped)."""
        stop_sent = None
        while True:
            if self._stop.is_set() and stop_sent is None:
                child.request_stop()
                stop_sent = time.monotonic()
            if stop_sent is not None and time.monotonic() - stop_sent > STOP_GRACE_S:
                log.warning("camera %s: the %s did not stop in %.0f s: killed", self.id, self.child_kind, STOP_GRACE_S)
                child.kill()
                stop_sent = float("inf")
            try:
                message = child.receive(0.2)
            except (EOFError, OSError):
                return
            if message is not None:
                self._handle(message)

    def _handle(self, message: tuple) -> None:
        kind = message[0]
        try:
            if kind == "alert":
                self.output.alert(message[1], message[2])
            elif kind == "link":
                self.output.link(message[1])
            elif kind == "observations":
                self.output.observations(message[1])
            elif kind == "unknowns":
                self.output.unknowns(message[1], message[2], message[3])
            elif kind in ("state", "progress", "frame"):
                self._follow(message[1])
                if kind == "frame":
                    self._preview = (self.frames, message[2], message[3])
            elif kind == "error":
                self._child_error = message[1]
        except Exception:  # noqa: BLE001 - one bad record must not stop the camera's collector
            log.exception("camera %s: a %s record from the %s failed", self.id, kind, self.child_kind)

    def _follow(self, counters: dict[str, Any]) -> None:
        """The child's state and counters (added to those of earlier children)."""
        for name in COUNTERS:
            setattr(self, name, self._base[name] + counters[name])
        self.last_frame_at = counters["last_frame_at"] or self.last_frame_at
        self.retry_in = counters["retry_in_s"]
        state = counters["state"]
        self._reported_state = state
        if state in ("stopped", "finished"):
            return  # the collector decides once the child has ended (and how)
        if counters["error"] is not None or state == "running":
            self.error = counters["error"]
        self._set(state)

    # -- the latest frame ---------------------------------------------------------------------
    def latest(self) -> tuple[int, np.ndarray, list] | None:
        preview = self._preview
        if preview is None or preview[1] is None:
            return None
        if self._decoded is None or self._decoded[0] != preview[0]:
            import cv2

            from ..types import Face

            bgr = cv2.imdecode(np.frombuffer(preview[1], np.uint8), cv2.IMREAD_COLOR)
            faces = [Face(box=box, score=min(1.0, max(0.0, score)), attributes=attributes, detector=detector)
                     for box, score, attributes, detector in preview[2]]
            self._decoded = (preview[0], cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), faces)
        return self._decoded

    def track_embedding(self, track_id: int) -> np.ndarray | None:
        return None  # the child attaches it to the alert


# ---------------------------------------------------------------- Ray


class _RayChild:
    """One camera in a Ray actor; records through a Ray queue (same interface as _Child)."""

    pushed_frames = None

    def __init__(self, camera: CameraSettings, settings: Settings, db: str | None) -> None:
        from ray.util.queue import Queue

        from ..video.distributed import _init, _ray

        ray = self.ray = _ray()
        server = settings.server
        _init(ray, server.ray_address, server.ray_num_cpus)
        threads = max(1, int(server.ray_cpus_per_camera))
        actor_class = ray.remote(num_cpus=server.ray_cpus_per_camera, max_concurrency=2,
                                 runtime_env={"env_vars": {"FACELENS_THREADS": str(threads)}})(_CameraActor)
        self.records = Queue(maxsize=256)
        self.actor = actor_class.remote()
        self._pid: int | None = ray.get(self.actor.pid.remote(), timeout=120)
        self.done = self.actor.run.remote(camera, settings, db, self.records)
        self.exit_code: int | None = None

    @property
    def pid(self) -> int | None:
        return self._pid

    @property
    def running(self) -> bool:
        return self.exit_code is None

    def receive(self, timeout: float) -> tuple | None:
        from ray.util.queue import Empty

        try:
            return self.records.get(timeout=timeout)
        except Empty:
            if self.exit_code is None:
                finished, _ = self.ray.wait([self.done], timeout=0)
                if finished:
                    try:
                        self.ray.get(finished[0])
                        self.exit_code = 0
                    except Exception as exc:  # noqa: BLE001 - the actor died: the collector backs off
                        log.warning("camera actor ended: %s", exc)
                        self.exit_code = 1
            if self.exit_code is not None and self.records.empty():
                raise EOFError from None
            return None

    def request_stop(self) -> None:
        try:
            self.actor.stop.remote()
        except Exception:  # noqa: BLE001 - a dead actor needs no stopping
            pass

    def kill(self) -> None:
        self.ray.kill(self.actor)

    def finish(self) -> int | None:
        try:
            self.ray.kill(self.actor)
            self.records.shutdown(force=True)  # the queue is an actor too
        except Exception:  # noqa: BLE001 - already gone with the cluster
            pass
        return self.exit_code


class _CameraActor:
    """The Ray actor class (made remote in _RayChild): ``run`` is camera_main; ``stop`` runs
    beside it (max_concurrency=2)."""

    def __init__(self) -> None:
        self._stop = threading.Event()

    def pid(self) -> int:
        return os.getpid()

    def run(self, camera: CameraSettings, settings: Settings, db: str | None, records: Any) -> None:
        camera_main(camera, settings, db, records.put, self._stop)

    def stop(self) -> None:
        self._stop.set()


class RayCameraWorker(ProcessCameraWorker):
    """A camera in a Ray actor (``camera_workers = "ray"``); see the module docstring."""

    kind = "ray"

    @property
    def child_kind(self) -> str:
        return "actor"

    def _start_child(self) -> Any:
        return _RayChild(self.settings, self.context.settings, self.context.settings.server.db)
