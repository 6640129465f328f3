"""Attributes over a video: detect → track → analyze → smooth per track → time lines.

Each frame's faces get a track id from ``video.tracking.Tracker``; the emotion probabilities of
each track are smoothed (``temporal.TrackSmoother``, EMA by default) so the label does not
flicker. Output: one row per (frame, track) with raw and smoothed emotion, gender and age; a
summary per track (time in/out, smoothed dominant expression, gender from the mean
probabilities, median age); optionally an annotated video; and happiness ``Observation``s — one
per track per ``observe_every`` seconds of video (default 1 s), holding the smoothed
probabilities — for ``analytics`` when a location is given.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np

from ..constants import DEFAULT_DETECTOR, DEFAULT_GENDER_MODEL
from .analyze import DEFAULT_ACTIONS, MIN_FACE_SIZE, analyze_faces, parse_actions
from .emotion import DEFAULT_EMOTION_MODEL, emotion_record
from .temporal import TrackSmoother, label_changes

ROW_FIELDS = ("frame", "time", "track", "x1", "y1", "x2", "y2", "emotion_raw", "emotion",
              "emotion_score", "gender", "female_prob", "age", "note")


@dataclass
class VideoTimeline:
    source: str
    fps: float | None
    frames: int = 0
    rows: list[dict] = field(default_factory=list)
    observations: list = field(default_factory=list)
    labels: tuple[str, ...] = ()

    def tracks(self) -> list[dict]:
        """One summary per track, by first appearance."""
        grouped: dict[int, list[dict]] = defaultdict(list)
        for row in self.rows:
            grouped[row["track"]].append(row)
        out = []
        for track, rows in sorted(grouped.items(), key=lambda kv: kv[1][0]["frame"]):
            emotions = [r["emotion"] for r in rows if r["emotion"]]
            females = [r["female_prob"] for r in rows if r["female_prob"] is not None]
            ages = [r["age"] for r in rows if r["age"] is not None]
            summary = {"track": track, "first_time": rows[0]["time"], "last_time": rows[-1]["time"],
                       "frames": len(rows)}
            if emotions:
                counts = {label: emotions.count(label) for label in set(emotions)}
                summary["emotion"] = max(counts, key=counts.get)
                summary["emotion_share"] = {k: round(v / len(emotions), 3) for k, v in sorted(counts.items())}
                summary["label_changes"] = {"raw": label_changes([r["emotion_raw"] for r in rows if r["emotion"]]),
                                            "smoothed": label_changes(emotions)}
            if females:
                female = float(np.mean(females))
                summary["gender"] = {"label": "female" if female >= 0.5 else "male",
                                     "probs": {"female": round(female, 4), "male": round(1 - female, 4)}}
            if ages:
                summary["age"] = round(float(np.median(ages)), 1)
            out.append(summary)
        return out

    def to_dict(self) -> dict:
        return {"source": self.source, "fps": self.fps, "frames": self.frames,
                "tracks": self.tracks(), "rows": self.rows}

    def write_csv(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=ROW_FIELDS)
            writer.writeheader()
            for row in self.rows:
                writer.writerow({k: row.get(k) for k in ROW_FIELDS})
        return path

    def write_json(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict()))
        return path


def _row(frame, face, smoothed: np.ndarray | None, labels: Sequence[str]) -> dict:
    attrs = face.attributes
    gender = attrs.get("gender")
    row = {"frame": frame.index, "time": round(frame.timestamp, 3), "track": int(attrs["track_id"]),
           **dict(zip(("x1", "y1", "x2", "y2"), (round(v, 1) for v in face.box))),
           "emotion_raw": attrs.get("emotion", {}).get("label"), "emotion": None, "emotion_score": None,
           "gender": gender["label"] if gender else None,
           "female_prob": gender["probs"]["female"] if gender else None,
           "age": attrs.get("age"), "note": "; ".join(attrs.get("notes", [])) or None}
    if smoothed is not None:
        best = int(np.argmax(smoothed))
        row["emotion"], row["emotion_score"] = labels[best], round(float(smoothed[best]), 4)
    return row


def _label_of(row: dict) -> str:
    parts = [f"#{row['track']}"]
    if row["emotion"]:
        parts.append(row["emotion"])
    if row["gender"]:
        parts.append(row["gender"][0].upper())
    if row["age"] is not None:
        parts.append(f"{row['age']:.0f}")
    return " ".join(parts)


def analyze_video(path: str | Path, actions: str | Sequence[str] = DEFAULT_ACTIONS, detector: str = DEFAULT_DETECTOR,
                  camera: str | None = None, location: str | None = None,
                  emotion_model: str = DEFAULT_EMOTION_MODEL, smoothing: str = "ema",
                  start: datetime | None = None, observe_every: float = 1.0,
                  annotated: Path | None = None, every: int = 1, max_frames: int | None = None,
                  min_face_size: float = MIN_FACE_SIZE,
                  progress: Callable[[int, int | None], None] | None = None,
                  gender_model: str = DEFAULT_GENDER_MODEL) -> VideoTimeline:
    """Time lines of every face track in a video file (or image folder / stream)."""
    from ..analytics.feed import ObservationFeed
    from ..pipeline import detect_rgb
    from ..video.sources import open_source
    from ..video.tracking import Tracker

    actions = parse_actions(actions)
    smoother = TrackSmoother(smoothing)
    writer = None
    labels: tuple[str, ...] = ()
    if "emotion" in actions:
        from .emotion import get_emotion_model

        labels = get_emotion_model(emotion_model).labels
    with open_source(path, camera_id=camera, location=location) as source:
        timeline = VideoTimeline(str(path), source.fps)
        tracker = Tracker(camera_id=source.camera_id, keep_crops=False)
        feed = ObservationFeed(location, source.camera_id, start, observe_every, emotion_model,
                               source=Path(str(path)).name) if location else None
        for frame in source:
            if max_frames is not None and frame.index >= max_frames:
                break
            timeline.frames += 1
            if frame.index % every:
                continue
            faces = tracker.update(detect_rgb(frame.image, detector), frame.index, frame.timestamp)
            faces = analyze_faces(frame.image, faces, actions, emotion_model, min_face_size, gender_model)
            rows, smoothed_faces = [], []
            for face in faces:
                smoothed = None
                if "emotion" in face.attributes:
                    probs = [face.attributes["emotion"]["probs"][k] for k in labels]
                    smoothed = smoother.update(int(face.attributes["track_id"]), probs, frame.index)
                    smoothed_faces.append(face.with_attributes(emotion=emotion_record(smoothed, labels)))
                rows.append(_row(frame, face, smoothed, labels))
            if feed is not None:
                timeline.observations.extend(feed.update(smoothed_faces, frame.timestamp))
            timeline.rows.extend(rows)
            if annotated is not None:
                writer = writer or _open_writer(annotated, frame.image, source.fps)
                writer.write(_annotate(frame.image, faces, rows))
            if progress:
                progress(frame.index + 1, source.frame_count)
    if writer is not None:
        writer.release()
    timeline.labels = labels
    return timeline


def _annotate(rgb: np.ndarray, faces, rows: list[dict]) -> np.ndarray:
    import cv2

    from ..draw import draw_faces

    canvas = draw_faces(rgb, list(faces), labels=[_label_of(r) for r in rows])
    return cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR)


def _open_writer(path: Path, first: np.ndarray, fps: float | None):
    import cv2

    from ..errors import BadInputError

    path.parent.mkdir(parents=True, exist_ok=True)
    height, width = first.shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps or 25.0, (width, height))
    if not writer.isOpened():
        raise BadInputError(f"{path}: cannot write a video there (use a .mp4 name in a writable folder)")
    return writer
