"""The server's own records, in the gallery database: API keys, alerts, sightings.

Tables (created by the alembic chain, revision 0003_server): ``server_api_keys`` (see auth.py),
``server_alerts`` (one row per alert a camera raised: where, when, who, similarity, the JPEG
snapshot and the matched track's embedding — both AES-GCM sealed with the gallery key — and the
review status), ``server_sightings`` (the camera daemon's time line: who entered/left which
camera when; no face data). Reads and writes go through the gallery's ``Store`` sessions, so
SQLite and PostgreSQL behave alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import JSON, DateTime, Float, Integer, LargeBinary, String, Text, delete, func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from ..errors import NotFoundError
from ..gallery.store import json_ready, utcnow

REVIEW_STATUSES = ("confirmed", "wrong_person", "dismissed")
STATUSES = ("new", *REVIEW_STATUSES)


class ServerBase(DeclarativeBase):
    pass


class ApiKeyRow(ServerBase):
    __tablename__ = "server_api_keys"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    key_id: Mapped[str] = mapped_column(String(32), unique=True)  # the public part of the key: lookup
    secret_hash: Mapped[str] = mapped_column(String(200))  # argon2id of the secret part
    created_at: Mapped[datetime] = mapped_column(DateTime)
    created_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class AlertRow(ServerBase):
    __tablename__ = "server_alerts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    identity: Mapped[str | None] = mapped_column(String(200), nullable=True, index=True)
    similarity: Mapped[float | None] = mapped_column(Float, nullable=True)
    camera_id: Mapped[str] = mapped_column(String(100), index=True)
    location: Mapped[str | None] = mapped_column(String(200), nullable=True)
    track_id: Mapped[int] = mapped_column(Integer)
    frame: Mapped[int] = mapped_column(Integer)
    first_seen_utc: Mapped[str | None] = mapped_column(String(40), nullable=True)
    last_seen_utc: Mapped[str | None] = mapped_column(String(40), nullable=True)
    box: Mapped[list | None] = mapped_column(JSON, nullable=True)
    votes: Mapped[int] = mapped_column(Integer, default=0)
    captures: Mapped[int] = mapped_column(Integer, default=0)
    model: Mapped[str | None] = mapped_column(String(64), nullable=True)
    snapshot: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    embedding: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    status: Mapped[str] = mapped_column(String(16), index=True, default="new")
    reviewed_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    review_note: Mapped[str | None] = mapped_column(Text, nullable=True)


class SightingRow(ServerBase):
    __tablename__ = "server_sightings"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(String(40))
    global_id: Mapped[str] = mapped_column(String(100), index=True)
    identity: Mapped[str | None] = mapped_column(String(200), nullable=True, index=True)
    camera_id: Mapped[str] = mapped_column(String(100))
    location: Mapped[str | None] = mapped_column(String(200), nullable=True)
    track_id: Mapped[int] = mapped_column(Integer)
    entered: Mapped[str] = mapped_column(String(40), index=True)
    left: Mapped[str] = mapped_column(String(40))
    entered_s: Mapped[float] = mapped_column(Float)
    left_s: Mapped[float] = mapped_column(Float)
    similarity: Mapped[float | None] = mapped_column(Float, nullable=True)


def _snapshot_context(uid: str) -> str:
    return f"alert-v1|{uid}|snapshot"


def _embedding_context(uid: str, model: str) -> str:
    return f"alert-v1|{uid}|{model}"


def alert_dict(row: AlertRow) -> dict[str, Any]:
    """An alert as the API shows it (the video Alert's JSON keys, plus review fields)."""
    return {
        "id": row.uid, "kind": row.kind, "identity": row.identity,
        "similarity": None if row.similarity is None else round(row.similarity, 4),
        "camera_id": row.camera_id, "location": row.location, "track_id": row.track_id, "frame": row.frame,
        "first_seen_utc": row.first_seen_utc, "last_seen_utc": row.last_seen_utc, "box": row.box,
        "votes": row.votes, "captures": row.captures, "model": row.model,
        "created_at": json_ready(row.created_at), "has_snapshot": row.snapshot is not None,
        "status": row.status, "reviewed_by": row.reviewed_by, "reviewed_at": json_ready(row.reviewed_at),
        "review_note": row.review_note,
    }


@dataclass(frozen=True)
class AlertQuery:
    camera: str | None = None
    identity: str | None = None
    status: str | None = None
    kind: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 50
    offset: int = 0


class AlertStore:
    """Alerts of the camera daemon, in the gallery database of ``gallery``."""

    def __init__(self, gallery: Any) -> None:
        self.gallery = gallery

    def add(self, alert: Any, embedding: np.ndarray | None, model: str | None) -> dict[str, Any]:
        """Store a ``facelens.video.Alert`` (snapshot and embedding sealed)."""
        uid = alert.alert_id
        row = AlertRow(
            uid=alert.alert_id, kind=alert.kind, identity=alert.identity, similarity=alert.similarity,
            camera_id=alert.camera_id, location=alert.location, track_id=alert.track_id, frame=alert.frame,
            first_seen_utc=alert.first_seen_utc, last_seen_utc=alert.last_seen_utc,
            box=[round(float(v), 1) for v in alert.box] if alert.box is not None else None,
            votes=alert.votes, captures=alert.captures, model=model if embedding is not None else None,
            snapshot=self.gallery.seal(alert.snapshot, _snapshot_context(uid)) if alert.snapshot else None,
            embedding=(self.gallery.seal(np.asarray(embedding, "<f4").tobytes(), _embedding_context(uid, model))
                       if embedding is not None and model else None),
            created_at=utcnow(), status="new")
        with self.gallery.change() as change:
            change.session.add(row)
        return alert_dict(row)

    def _row(self, db: Session, uid: str, lock: bool = False) -> AlertRow:
        query = select(AlertRow).where(AlertRow.uid == uid)
        row = db.scalars(query.with_for_update() if lock else query).first()
        if row is None:
            raise NotFoundError(f"no alert {uid!r}")
        return row

    def get(self, uid: str) -> dict[str, Any]:
        with self.gallery.reading() as db:
            return alert_dict(self._row(db, uid))

    def snapshot(self, uid: str) -> bytes | None:
        with self.gallery.reading() as db:
            row = self._row(db, uid)
            return self.gallery.unseal(row.snapshot, _snapshot_context(uid)) if row.snapshot else None

    def embedding(self, db: Session, uid: str) -> tuple[np.ndarray | None, str | None]:
        row = self._row(db, uid)
        if row.embedding is None or not row.model:
            return None, None
        plain = self.gallery.unseal(row.embedding, _embedding_context(uid, row.model))
        return np.frombuffer(plain, "<f4").astype(np.float32), row.model

    def query(self, q: AlertQuery) -> tuple[list[dict[str, Any]], int]:
        """One page of alerts, newest first, and the total that match the filters."""
        conditions = []
        for column, value in ((AlertRow.camera_id, q.camera), (AlertRow.identity, q.identity),
                              (AlertRow.status, q.status), (AlertRow.kind, q.kind)):
            if value is not None:
                conditions.append(column == value)
        if q.since is not None:
            conditions.append(AlertRow.created_at >= q.since)
        if q.until is not None:
            conditions.append(AlertRow.created_at < q.until)
        with self.gallery.reading() as db:
            total = db.scalar(select(func.count(AlertRow.id)).where(*conditions)) or 0
            rows = db.scalars(select(AlertRow).where(*conditions).order_by(AlertRow.id.desc())
                              .limit(q.limit).offset(q.offset)).all()
            return [alert_dict(r) for r in rows], int(total)

    def set_status(self, db: Session, uid: str, status: str, by: str | None, note: str | None) -> AlertRow:
        row = self._row(db, uid, lock=True)
        row.status = status
        row.reviewed_by = by if status != "new" else None
        row.reviewed_at = utcnow() if status != "new" else None
        row.review_note = note if status != "new" else None
        db.flush()
        return row

    def erase_identity(self, db: Session, identity: str) -> int:
        return db.execute(delete(AlertRow).where(AlertRow.identity == identity)).rowcount or 0


class SightingStore:
    """The daemon's time line in the gallery database; ``add`` is what video.Linker calls."""

    def __init__(self, gallery: Any) -> None:
        self.gallery = gallery

    def add(self, sighting: Any) -> None:
        with self.gallery.change() as change:
            change.session.add(SightingRow(**sighting.to_dict()))

    def sightings(self, person: str | None = None, camera: str | None = None, since: str | None = None,
                  until: str | None = None, limit: int = 500, offset: int = 0) -> list[dict[str, Any]]:
        """Oldest first; ``person``: identity name or global id; ``since``/``until``: ISO UTC."""
        query = select(SightingRow).order_by(SightingRow.entered, SightingRow.camera_id)
        if person:
            query = query.where((SightingRow.identity == person) | (SightingRow.global_id == person))
        if camera:
            query = query.where(SightingRow.camera_id == camera)
        if since:
            query = query.where(SightingRow.entered >= since)
        if until:
            query = query.where(SightingRow.entered < until)
        with self.gallery.reading() as db:
            return [{c: getattr(r, c) for c in ("global_id", "identity", "camera_id", "location", "track_id",
                                                "entered", "left", "entered_s", "left_s", "similarity", "run_id")}
                    for r in db.scalars(query.limit(limit).offset(offset))]

    def erase_identity(self, db: Session, identity: str) -> int:
        return db.execute(delete(SightingRow).where(SightingRow.identity == identity)).rowcount or 0
