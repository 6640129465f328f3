"""Expression observations, stored in the gallery's database (SQLite file by default).

Why this layout: the database *layer* is the gallery's (``gallery.store.Store``: ``--db`` /
``FACELENS_DB`` → URL, SQLite WAL + ``BEGIN IMMEDIATE`` writers, PostgreSQL, the refusal of
foreign databases), so one file holds a site's gallery and its analytics. The table
``analytics_observations`` is created by the gallery's migration chain (revision
``0002_access_analytics``), like every table in that database; this module only maps it.

Stored per observation: when (naive UTC), location, camera, track, the (smoothed) emotion
probabilities and the model that made them — no image, and no identity unless the caller
passes one.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import JSON, DateTime, Integer, String, Text, func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from ..constants import DEFAULT_EMOTION_MODEL
from ..errors import BadInputError
from ..gallery.store import Store

MAX_NAME = 200


class AnalyticsBase(DeclarativeBase):
    pass


class ObservationRow(AnalyticsBase):
    __tablename__ = "analytics_observations"
    __table_args__ = {"sqlite_autoincrement": True}
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime, index=True)
    location: Mapped[str] = mapped_column(String(MAX_NAME), index=True)
    camera: Mapped[str | None] = mapped_column(String(MAX_NAME), nullable=True)
    track: Mapped[str] = mapped_column(String(MAX_NAME))
    emotion: Mapped[dict] = mapped_column(JSON)  # {class: probability}
    model: Mapped[str] = mapped_column(String(64))
    source: Mapped[str | None] = mapped_column(Text, nullable=True)
    identity: Mapped[str | None] = mapped_column(String(MAX_NAME), nullable=True)  # opt-in only


@dataclass(frozen=True)
class Observation:
    """One person (track) seen at one moment with their smoothed expression probabilities."""

    at: datetime
    location: str
    track: str
    emotion: dict[str, float]
    camera: str | None = None
    model: str = DEFAULT_EMOTION_MODEL
    source: str | None = None
    identity: str | None = None

    def __post_init__(self) -> None:
        at = self.at
        if not isinstance(at, datetime):
            raise BadInputError(f"observation time must be a datetime, got {at!r}")
        if at.tzinfo is not None:
            at = at.astimezone(timezone.utc).replace(tzinfo=None)
        object.__setattr__(self, "at", at)
        for name in ("location", "track"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip() or len(value) > MAX_NAME:
                raise BadInputError(f"observation {name} must be a non-empty name (≤ {MAX_NAME} characters)")
        if not self.emotion:
            raise BadInputError("observation has no emotion probabilities")
        probs = {}
        for label, p in self.emotion.items():
            p = float(p)
            if not math.isfinite(p) or not -1e-6 <= p <= 1 + 1e-6:
                raise BadInputError(f"emotion probability {label}={p} is not in [0, 1]")
            probs[str(label)] = min(max(p, 0.0), 1.0)
        object.__setattr__(self, "emotion", probs)

    @property
    def label(self) -> str:
        return max(self.emotion, key=self.emotion.get)


class ObservationStore:
    """Observations in the gallery database at ``db`` (path or URL; FACELENS_DB; default file)."""

    def __init__(self, db: str | Path | None = None) -> None:
        self.store = Store(db)  # runs the migrations: the observations table is there after this

    @property
    def url(self) -> str:
        return self.store.url

    def add(self, observations: Iterable[Observation]) -> int:
        """Store all observations in one transaction (all or nothing); returns how many."""
        rows = [ObservationRow(at=o.at, location=o.location, camera=o.camera, track=o.track,
                               emotion=o.emotion, model=o.model, source=o.source, identity=o.identity)
                for o in observations]  # every Observation was validated on construction
        if not rows:
            return 0
        with self.store.write() as session:
            session.add_all(rows)
        return len(rows)

    def locations(self) -> list[str]:
        with self.store.read() as session:
            return list(session.execute(select(ObservationRow.location).distinct()
                                        .order_by(ObservationRow.location)).scalars())

    def count(self, location: str | None = None) -> int:
        query = select(func.count(ObservationRow.id))
        if location is not None:
            query = query.where(ObservationRow.location == location)
        with self.store.read() as session:
            return int(session.execute(query).scalar_one())

    def fetch(self, locations: Sequence[str] | None = None, start: datetime | None = None,
              end: datetime | None = None) -> list[Observation]:
        """Observations with start ≤ at < end, oldest first."""
        query = _in_range(select(ObservationRow).order_by(ObservationRow.at, ObservationRow.id), locations, start, end)
        with self.store.read() as session:
            return [Observation(at=r.at, location=r.location, track=r.track, emotion=r.emotion,
                                camera=r.camera, model=r.model, source=r.source, identity=r.identity)
                    for r in session.execute(query).scalars()]

    def rows(self, locations: Sequence[str] | None = None, start: datetime | None = None,
             end: datetime | None = None, *, ids: tuple[int, int] | None = None,
             ) -> list[tuple[str, datetime, str | None, str, dict[str, float]]]:
        """``(location, at, camera, track, emotion)`` of the observations ``fetch`` would return,
        as plain tuples: what the happiness index reads (validated when they were stored).
        ``ids``: only rows with ``ids[0] < id ≤ ids[1]`` (the ones added since a ``version``)."""
        query = select(ObservationRow.location, ObservationRow.at, ObservationRow.camera, ObservationRow.track,
                       ObservationRow.emotion).order_by(ObservationRow.at, ObservationRow.id)
        if ids is not None:
            query = query.where(ObservationRow.id > ids[0], ObservationRow.id <= ids[1])
        with self.store.read() as session:
            return [tuple(r) for r in session.execute(_in_range(query, locations, start, end))]

    def version(self) -> tuple[int, int]:
        """(rows, highest id): changes whenever observations are added or removed (ids are never
        reused), so a result computed from the table stays valid while this does not change."""
        with self.store.read() as session:
            count, highest = session.execute(select(func.count(ObservationRow.id), func.max(ObservationRow.id))).one()
        return int(count), int(highest or 0)

    def count_up_to(self, highest_id: int) -> int:
        """Rows with id ≤ ``highest_id``: equal to an earlier ``version`` count while none of
        those rows was removed (or committed late, as PostgreSQL sequences allow)."""
        with self.store.read() as session:
            return int(session.execute(select(func.count(ObservationRow.id))
                                       .where(ObservationRow.id <= highest_id)).scalar_one())

    def close(self) -> None:
        self.store.dispose()

    def __enter__(self) -> "ObservationStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _in_range(query, locations: Sequence[str] | None, start: datetime | None, end: datetime | None):
    """``query`` limited to the locations (all when none) and to start ≤ at < end."""
    if locations:
        query = query.where(ObservationRow.location.in_(list(locations)))
    if start is not None:
        query = query.where(ObservationRow.at >= start)
    if end is not None:
        query = query.where(ObservationRow.at < end)
    return query
