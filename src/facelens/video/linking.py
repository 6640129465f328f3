"""Multi-camera linking: one global id per person across cameras, and a time line store.

``Linker.link`` is called when a track ends. A track decided as a watchlist identity gets that
identity's global id (``person:<name>``). An unknown track is compared (cosine similarity of its
averaged best-capture embedding) with the unknown people already seen *in this run* on any
camera; at or above ``threshold`` (LINK_THRESHOLD) it joins that person (``unknown:<n>``), else
it starts one.

LINK_THRESHOLD = 0.65, calibrated by ``python bench/bench_video.py --linking --data DATA``: the
labelled faces of the three benchmark videos, cut into 1-second pieces per person (68 pieces; a
piece's template is the mean of its 5 largest faces, as a track's is): pieces of the same person
score median 0.952 (5th percentile 0.491), of different people 99th percentile 0.495, 99.9th
0.642, max 0.702. At 0.65, 0.10 % of different-people pairs merge and 88.5 % of same-person pairs
link; the old 0.5 merged 0.87 % (enough, over a run's many pairs, to put an audience member and
four people of the crowd under one id). It is also above the identification threshold (0.611):
joining two strangers should need at least the evidence that names a watchlist person.

Privacy: embeddings of unknown people stay in memory for the run only; the time line store
(SQLite) keeps sightings — global id, identity name, camera, location, entered, left — never
a face image or an embedding.
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np

from .. import config
from ..errors import NotFoundError, StorageError

SCHEMA = """
CREATE TABLE IF NOT EXISTS sightings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL,
    global_id TEXT NOT NULL,
    identity TEXT,
    camera_id TEXT NOT NULL,
    location TEXT,
    track_id INTEGER NOT NULL,
    entered TEXT NOT NULL,
    left TEXT NOT NULL,
    entered_s REAL NOT NULL,
    left_s REAL NOT NULL,
    similarity REAL
);
CREATE INDEX IF NOT EXISTS sightings_global ON sightings (global_id);
CREATE INDEX IF NOT EXISTS sightings_identity ON sightings (identity);
"""


def default_path() -> Path:
    return config.data_dir() / "timeline.db"


@dataclass(frozen=True)
class Sighting:
    global_id: str
    identity: str | None
    camera_id: str
    location: str | None
    track_id: int
    entered: str  # ISO UTC
    left: str
    entered_s: float  # stream seconds
    left_s: float
    similarity: float | None = None
    run_id: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def utc(start: datetime, seconds: float) -> str:
    return (start + timedelta(seconds=seconds)).astimezone(timezone.utc).isoformat(timespec="milliseconds")


class TimelineStore:
    """Sightings in a SQLite file (thread-safe; one connection guarded by a lock)."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path else default_path()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(self.path), check_same_thread=False, timeout=10)
            self._db.executescript(SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise StorageError(f"{self.path}: not a facelens time line database ({exc})") from None
        self._lock = threading.Lock()

    def add(self, sighting: Sighting) -> None:
        row = sighting.to_dict()
        with self._lock, self._db:
            self._db.execute(
                f"INSERT INTO sightings ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                tuple(row.values()))

    def timeline(self, person: str) -> list[Sighting]:
        """Sightings of a person (identity name or global id), oldest first."""
        rows = self.sightings(person)
        if not rows:
            raise NotFoundError(f"no sightings of {person!r} in {self.path}")
        return rows

    def sightings(self, person: str | None = None) -> list[Sighting]:
        """All sightings (or one person's), oldest first."""
        where, args = ("WHERE identity = ? OR global_id = ?", (person, person)) if person else ("", ())
        with self._lock:
            rows = self._db.execute(
                "SELECT run_id, global_id, identity, camera_id, location, track_id, entered, left, "
                f"entered_s, left_s, similarity FROM sightings {where} ORDER BY entered, camera_id", args).fetchall()
        return [Sighting(run_id=r[0], global_id=r[1], identity=r[2], camera_id=r[3], location=r[4],
                         track_id=r[5], entered=r[6], left=r[7], entered_s=r[8], left_s=r[9],
                         similarity=r[10]) for r in rows]

    def people(self) -> list[dict[str, Any]]:
        """One row per global id (watchlist people and unknown people alike), first seen first:
        global id, identity, sightings, cameras, first entered, last left — what ``facelens
        timeline`` lists when asked for everyone."""
        with self._lock:
            rows = self._db.execute(
                "SELECT global_id, MAX(identity), COUNT(*), GROUP_CONCAT(DISTINCT camera_id), MIN(entered), MAX(left) "
                "FROM sightings GROUP BY global_id ORDER BY MIN(entered), global_id").fetchall()
        return [{"global_id": r[0], "identity": r[1], "sightings": r[2], "cameras": sorted((r[3] or "").split(",")),
                 "first_entered": r[4], "last_left": r[5]} for r in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()


LINK_THRESHOLD = 0.65  # calibrated: module docstring


class Linker:
    """Assigns global ids to finished tracks and records them in an optional TimelineStore."""

    def __init__(self, store: TimelineStore | None = None, threshold: float = LINK_THRESHOLD,
                 run_id: str | None = None) -> None:
        self.store = store
        self.threshold = threshold
        self.run_id = run_id or uuid.uuid4().hex[:12]
        self.sightings: list[Sighting] = []
        self._unknown: list[tuple[str, np.ndarray, int]] = []  # (global id, mean template, count)
        self._lock = threading.Lock()

    def global_id(self, identity: str | None, template: np.ndarray | None) -> str:
        if identity:
            return f"person:{identity}"
        with self._lock:
            if template is not None and self._unknown:
                sims = [float(np.dot(template, t)) for _, t, _ in self._unknown]
                best = int(np.argmax(sims))
                if sims[best] >= self.threshold:
                    gid, mean, count = self._unknown[best]
                    merged = mean * count + template
                    self._unknown[best] = (gid, merged / max(float(np.linalg.norm(merged)), 1e-12), count + 1)
                    return gid
            gid = f"unknown:{self.run_id}:{len(self._unknown) + 1}"
            if template is not None:
                self._unknown.append((gid, np.asarray(template, np.float32), 1))
            return gid

    def link(self, *, identity: str | None, template: np.ndarray | None, camera_id: str,
             location: str | None, track_id: int, first_seen: float, last_seen: float,
             started_at: datetime, similarity: float | None = None) -> Sighting:
        sighting = Sighting(
            global_id=self.global_id(identity, template), identity=identity, camera_id=camera_id,
            location=location, track_id=track_id, entered=utc(started_at, first_seen),
            left=utc(started_at, last_seen), entered_s=round(first_seen, 3), left_s=round(last_seen, 3),
            similarity=None if similarity is None or not np.isfinite(similarity) else round(float(similarity), 4),
            run_id=self.run_id)
        with self._lock:
            self.sightings.append(sighting)
        if self.store is not None:
            self.store.add(sighting)
        return sighting

    def timeline(self, person: str) -> list[Sighting]:
        """This run's sightings of a person (identity or global id), by entry time."""
        found = [s for s in self.sightings if person in (s.identity, s.global_id)]
        return sorted(found, key=lambda s: (s.entered, s.camera_id))
