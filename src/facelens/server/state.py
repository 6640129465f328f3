"""Everything one running server holds: settings, the shared gallery, stores, workers, events.

``ServerState.open`` builds it (opening the database, creating the key file of a new SQLite
gallery beside it as the CLI does), ``close`` releases it; app.py's lifespan calls both.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from .config import Settings

LOCKED_METHODS = frozenset({"enrol", "enrol_records", "identify", "search", "delete", "erase", "remove_templates",
                            "purge", "index_for", "flush", "add_unknowns", "forget_unknowns"})


class SharedGallery:
    """One Gallery used by every request thread and camera thread.

    The gallery's in-memory search index is not safe to read while another thread patches it,
    so every method that searches or changes templates runs under one lock (a search over 10k
    templates is ~1–2 ms; the embedding that precedes it runs outside). Everything else —
    list, show, export, sessions, the audit log — is passed straight through."""

    def __init__(self, gallery: Any) -> None:
        self._gallery = gallery
        self._lock = threading.RLock()

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._gallery, name)
        if name not in LOCKED_METHODS:
            return value

        def locked(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                return value(*args, **kwargs)

        return locked

    def __len__(self) -> int:
        return len(self._gallery)

    def __contains__(self, name: object) -> bool:
        return name in self._gallery


@dataclass
class ServerState:
    settings: Settings
    gallery: Any
    keys: Any
    alerts: Any
    sightings: Any
    negatives: Any
    bus: Any
    pool: Any
    limiter: Any
    daemon: Any
    sse: Any
    mqtt: Any = None
    observations: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def open(cls, settings: Settings, loop: Any) -> "ServerState":
        from ..feedback import NegativeTemplates
        from ..gallery import Gallery
        from .auth import KeyStore
        from .daemon import CameraDaemon, DaemonContext
        from .events import EventBus, SseBroadcaster
        from .limits import RateLimiter, WorkPool
        from .store import AlertStore, SightingStore

        server = settings.server
        gallery = SharedGallery(Gallery(server.db, create_key=True))
        try:
            bus = EventBus()
            sse = SseBroadcaster(loop)
            bus.add(sse)
            mqtt = _mqtt(settings)
            if mqtt is not None:
                bus.add(mqtt)
            for hook in settings.webhooks:
                bus.add(_webhook(hook))
            _apply_doors(gallery, settings)
            from ..analytics import ObservationStore

            # kept open: the cameras write to it, and /happiness reads it on every request
            observations = ObservationStore(server.db)
            alerts, sightings, negatives = AlertStore(gallery), SightingStore(gallery), NegativeTemplates(gallery)
            daemon = CameraDaemon(DaemonContext(settings, gallery, alerts, sightings, negatives, bus, observations))
            return cls(settings=settings, gallery=gallery, keys=KeyStore(gallery, server.key_cache_s),
                       alerts=alerts, sightings=sightings, negatives=negatives, bus=bus,
                       pool=WorkPool(server.workers, server.queue, server.request_timeout_s),
                       limiter=RateLimiter(server.rate_per_minute, server.rate_burst), daemon=daemon, sse=sse,
                       mqtt=mqtt, observations=observations)
        except BaseException:
            gallery.close()
            raise

    def close(self) -> None:
        try:
            self.daemon.close()
            self.pool.close()
            self.bus.close()
            if self.observations is not None:
                self.observations.close()
        finally:
            self.gallery.close()


def _mqtt(settings: Settings) -> Any:
    if settings.mqtt is None:
        return None
    from .. import __version__
    from .events import MqttPublisher

    return MqttPublisher(settings.mqtt, [c.id for c in settings.cameras], __version__)


def _webhook(hook: Any) -> Any:
    from ..video.alerts import WebhookSink
    from .events import WebhookForwarder

    return WebhookForwarder(WebhookSink(hook.url, dead_letter=hook.dead_letter, attempts=hook.attempts,
                                        include_snapshot=hook.include_snapshot))


def _apply_doors(gallery: Any, settings: Settings) -> None:
    """Store the configured doors' policies (a changed policy is re-stored and audited)."""
    if not settings.doors:
        return
    from ..access import Policy, get_policy, set_policy

    for door, fields in settings.doors.items():
        wanted = Policy.from_dict({**fields, "door": door}).resolved()
        if get_policy(gallery, door) != wanted:
            set_policy(gallery, wanted)
