"""ObservationFeed: once per track per interval, only faces with a track and an expression."""

from __future__ import annotations

from datetime import datetime

from facelens.analytics import ObservationFeed
from facelens.types import Face

PROBS = {"happy": 0.7, "neutral": 0.3}


def face(track=None, emotion=True):
    attrs = {"emotion": {"label": "happy", "probs": PROBS}} if emotion else {}
    if track is not None:
        attrs["track_id"] = track
    return Face(box=(0, 0, 10, 10), score=0.9, attributes=attrs)


def test_one_observation_per_track_per_second():
    feed = ObservationFeed("shop", camera="door", start=datetime(2026, 3, 2, 9), source="a.mp4")
    got = []
    for i in range(26):  # 25 fps for just over a second
        got += feed.update([face(1), face(2), face(None), face(3, emotion=False)], i / 25)
    assert [(o.track, o.at.second, o.at.microsecond) for o in got] == [
        ("a.mp4#1", 0, 0), ("a.mp4#2", 0, 0), ("a.mp4#1", 1, 0), ("a.mp4#2", 1, 0)]
    assert all(o.location == "shop" and o.camera == "door" and o.emotion == PROBS for o in got)
