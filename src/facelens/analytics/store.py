"""Expression observations, stored in the gallery's database (SQLite file by default).

Why this layout: the database *layer* is the gallery's (``gallery.store.Store``: ``--db`` /
``FACELENS_DB`` → URL, SQLite WAL + ``BEGIN IMMEDIATE`` writers, PostgreSQL, the refusal of
foreign databases), so one file holds a site's gallery and its analytics. The *table* is ours:
``analytics_observations`` lives in its own SQLAlchemy metadata and is created with an
idempotent ``create_all`` after the gallery's Alembic chain has run. Adding a revision to the
gallery's migrations folder would tie two owners' schemas into one chain; our schema version is
kept in the gallery's meta table (``analytics_schema``) so a later change can migrate it.

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
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from ..errors import BadInputError
from ..gallery.store import Store, storage_error

SCHEMA_KEY = "analytics_schema"
SCHEMA_VERSION = "1"
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
    model: str = "emotion_mini_xception"
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
        self.store = Store(db)
        try:
            AnalyticsBase.metadata.create_all(self.store.engine)  # idempotent: only missing tables
        except SQLAlchemyError as exc:
            self.store.dispose()
            raise storage_error(exc, self.store.url) from None
        self.store.ensure_meta(SCHEMA_KEY, SCHEMA_VERSION)

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
        query = select(ObservationRow).order_by(ObservationRow.at, ObservationRow.id)
        if locations:
            query = query.where(ObservationRow.location.in_(list(locations)))
        if start is not None:
            query = query.where(ObservationRow.at >= start)
        if end is not None:
            query = query.where(ObservationRow.at < end)
        with self.store.read() as session:
            return [Observation(at=r.at, location=r.location, track=r.track, emotion=r.emotion,
                                camera=r.camera, model=r.model, source=r.source, identity=r.identity)
                    for r in session.execute(query).scalars()]

    def close(self) -> None:
        self.store.dispose()

    def __enter__(self) -> "ObservationStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
