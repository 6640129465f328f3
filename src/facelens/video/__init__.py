"""Video and watchlist: cameras in, alerts out (see docs/video.md).

    from facelens.video import MemoryWatchlist, CallbackSink, SourceSpec, watch
    wl = MemoryWatchlist.from_images({"alice": ["alice.jpg"]})
    summary = watch([SourceSpec("door.mp4", "door", "main door")], wl, [CallbackSink(print)])

sources (Frame, open_source) → tracking (Tracker, Track) → identity (track voting) →
alerts (sinks) → linking (global ids, time line); watch runs them per camera; distributed runs
cameras or archive chunks on Ray.
"""

from .alerts import Alert, AlertManager, CallbackSink, JsonLinesSink, StdoutSink, WebhookSink
from .identity import GalleryWatchlist, MemoryWatchlist, TrackIdentity, decide
from .linking import Linker, TimelineStore
from .sources import Frame, VideoSource, open_source
from .tracking import Track, Tracker
from .watch import CameraWatcher, RunSummary, SourceSpec, WatchConfig, watch

__all__ = [
    "Alert", "AlertManager", "CallbackSink", "CameraWatcher", "Frame", "GalleryWatchlist", "JsonLinesSink",
    "Linker", "MemoryWatchlist", "RunSummary", "SourceSpec", "StdoutSink", "TimelineStore", "Track",
    "TrackIdentity", "Tracker", "VideoSource", "WatchConfig", "WebhookSink", "decide", "open_source", "watch",
]
