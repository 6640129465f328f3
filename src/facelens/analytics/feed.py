"""Turn tracked, analysed faces into happiness observations: one per track per ``every`` seconds.

Used by ``facelens analyze VIDEO --location`` and meant for the live watch pipeline too:

    feed = ObservationFeed("shop", camera="door", start=datetime.utcnow())
    for frame in source:
        ...faces with attributes["track_id"] and a smoothed attributes["emotion"]...
        store.add(feed.update(faces, frame.timestamp))

Frames are seconds since ``start`` (the video sources' convention); sampling once per second keeps
the table small (an hour of one person is 3,600 rows, not 90,000 at 25 fps) while the report,
which averages a person's observations in a bucket, is unchanged in expectation.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from ..constants import DEFAULT_EMOTION_MODEL
from ..types import Face
from .store import Observation


class ObservationFeed:
    def __init__(self, location: str, camera: str | None = None, start: datetime | None = None,
                 every: float = 1.0, model: str = DEFAULT_EMOTION_MODEL, source: str | None = None) -> None:
        self.location = location
        self.camera = camera
        self.start = start or datetime(1970, 1, 1)
        self.every = every
        self.model = model
        self.source = source
        self._last: dict[object, float] = {}

    def update(self, faces: Iterable[Face], timestamp: float) -> list[Observation]:
        """Observations due at this frame for faces that have a track id and emotion probabilities."""
        out = []
        for face in faces:
            track, emotion = face.attributes.get("track_id"), face.attributes.get("emotion")
            if track is None or not emotion:
                continue
            if timestamp - self._last.get(track, float("-inf")) < self.every:
                continue
            self._last[track] = timestamp
            name = f"{self.source}#{track}" if self.source else str(track)
            out.append(Observation(at=self.start + timedelta(seconds=timestamp), location=self.location,
                                   track=name, emotion=dict(emotion["probs"]), camera=self.camera,
                                   model=self.model, source=self.source))
        return out
