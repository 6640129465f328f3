"""Video and watchlist: cameras in, alerts out (see docs/video.md).

    from facelens.video import MemoryWatchlist, CallbackSink, SourceSpec, watch
    wl = MemoryWatchlist.from_images({"alice": ["alice.jpg"]})
    summary = watch([SourceSpec("door.mp4", "door", "main door")], wl, [CallbackSink(print)])

sources (Frame, open_source) → shotcut (new shots) → tracking (Tracker, Track; appearance gate)
→ identity (track voting, vote split) → alerts (sinks) → linking (global ids, time line); watch
runs them per camera (resolution: whole frame or tiles); distributed runs cameras or archive
chunks on Ray.
"""

from .alerts import Alert, AlertManager, CallbackSink, JsonLinesSink, StdoutSink, WebhookSink
from .identity import GalleryWatchlist, MemoryWatchlist, TrackIdentity, decide, vote_split
from .linking import Linker, TimelineStore
from .shotcut import ShotCutDetector
from .sources import Frame, VideoSource, open_source
from .tracking import Track, Tracker
from .watch import CameraWatcher, RunSummary, SourceSpec, WatchConfig, watch

__all__ = [
    "Alert", "AlertManager", "CallbackSink", "CameraWatcher", "Frame", "GalleryWatchlist", "JsonLinesSink",
    "Linker", "MemoryWatchlist", "RunSummary", "ShotCutDetector", "SourceSpec", "StdoutSink", "TimelineStore",
    "Track", "TrackIdentity", "Tracker", "VideoSource", "WatchConfig", "WebhookSink", "decide", "open_source",
    "vote_split", "watch",
]
