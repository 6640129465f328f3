"""Negative templates: "this face is NOT identity X", learnt from ``wrong_person`` reviews.

The rule (``suppressed``): identity X is dropped from a probe's candidates when the probe is at
least as similar to one of X's negative templates as to X itself, *and* that similarity reaches
the model's calibrated same-person threshold. The same stranger again scores ~0.7–1.0 against
their own negative template but only the (low) similarity that fooled the matcher against X, so
X is dropped; X's real owner resembles X more than the stranger, so X stays — the guard that
keeps one wrong review from locking the real person out. A negative removed (the review
reverted) stops acting at once: the in-memory cache follows a generation counter in the
gallery's meta table, bumped by every change, in any process.

Storage: the gallery database, table ``feedback_negatives`` (created by the alembic chain,
revision 0003_server); vectors are AES-GCM sealed with the gallery key, bound to identity and
model, and every change is an audit entry in the same transaction (``Gallery.change``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import DateTime, Integer, LargeBinary, String, delete, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from ..errors import BadInputError
from ..gallery.store import Store, utcnow

GENERATION_KEY = "generation:feedback_negatives"  # meta value bumped by every change, any process


class FeedbackBase(DeclarativeBase):
    pass


class NegativeRow(FeedbackBase):
    __tablename__ = "feedback_negatives"
    __table_args__ = {"sqlite_autoincrement": True}
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    identity: Mapped[str] = mapped_column(String(200), index=True)
    model: Mapped[str] = mapped_column(String(64))
    dim: Mapped[int] = mapped_column(Integer)
    vector: Mapped[bytes] = mapped_column(LargeBinary)  # AES-GCM of float32 bytes
    origin: Mapped[str] = mapped_column(String(100), unique=True)  # e.g. "alert:<uid>"
    created_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)


@dataclass(frozen=True)
class Negative:
    id: int
    identity: str
    model: str
    origin: str
    created_by: str | None
    created_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "identity": self.identity, "model": self.model, "origin": self.origin,
                "created_by": self.created_by, "created_at": self.created_at.isoformat() + "Z"}


def _context(identity: str, model: str) -> str:
    return f"negative-v1|{identity}|{model}"


def same_person_threshold(model: str) -> float:
    """The model's calibrated identification threshold: a negative acts only on probes at
    least this similar to it (the same stranger), never on merely similar-looking people."""
    from ..match import FALLBACK_THRESHOLD, identification_threshold

    return float(identification_threshold(model, uncalibrated=FALLBACK_THRESHOLD)[0])


def _pairs(candidates: Iterable[Any]) -> list[tuple[Any, str, float]]:
    out = []
    for item in candidates:
        if isinstance(item, tuple):
            out.append((item, str(item[0]), float(item[1])))
        else:
            out.append((item, str(item.identity), float(item.similarity)))
    return out


def suppressed(probe: np.ndarray, candidates: Iterable[Any], negatives: dict[str, np.ndarray],
               threshold: float) -> set[str]:
    """Identities among ``candidates`` that ``probe`` must not match (rule in the module doc).
    ``negatives``: identity → K×D matrix of L2-normalised negative templates."""
    probe = np.asarray(probe, dtype=np.float32).reshape(-1)
    out = set()
    for _, identity, similarity in _pairs(candidates):
        matrix = negatives.get(identity)
        if matrix is None or matrix.shape[1] != probe.size:
            continue
        closest = float(np.max(matrix @ probe))
        if closest >= threshold and closest >= similarity:
            out.add(identity)
    return out


def filter_candidates(probe: np.ndarray, candidates: Sequence[Any], negatives: dict[str, np.ndarray],
                      threshold: float) -> list[Any]:
    """``candidates`` (ranked) without the suppressed identities, order kept."""
    drop = suppressed(probe, candidates, negatives, threshold)
    return [item for item, identity, _ in _pairs(candidates) if identity not in drop]


class NegativeTemplates:
    """The negative templates of one ``facelens.gallery.Gallery`` (its database, key and audit
    log). Thread-safe; one instance can serve every camera thread."""

    def __init__(self, gallery: Any) -> None:
        self.gallery = gallery
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[int, dict[str, np.ndarray]]] = {}  # model → (generation, matrices)

    @contextmanager
    def _changing(self, change: Any | None) -> Iterator[Any]:
        """The caller's open ``Gallery.change()`` transaction, or one of our own; either way the
        generation counter moves inside it."""
        if change is not None:
            _bump(change.session)
            yield change
        else:
            with self.gallery.change() as own:
                _bump(own.session)
                yield own

    def add(self, identity: str, vector: Any, model: str, origin: str, *, by: str | None = None,
            change: Any | None = None) -> int:
        """Store one negative template of ``identity`` (``origin`` names where it came from and
        is unique: the same alert cannot add two). ``change``: an open ``Gallery.change()`` to
        join (the alert review writes its status in the same transaction). Returns its id."""
        array = np.asarray(vector, dtype=np.float32).reshape(-1)
        norm = float(np.linalg.norm(array))
        if array.size == 0 or not np.isfinite(array).all() or norm < 1e-6:
            raise BadInputError("a negative template must be a non-zero finite vector")
        array = array / norm
        sealed = self.gallery.seal(array.astype("<f4").tobytes(), _context(identity, model))
        with self._changing(change) as open_change:
            row = NegativeRow(identity=identity, model=model, dim=int(array.size), vector=sealed, origin=origin,
                              created_by=by, created_at=utcnow())
            open_change.session.add(row)
            open_change.session.flush()
            open_change.audit("feedback.negative.add", identity, {"origin": origin, "model": model, "by": by})
            return int(row.id)

    def remove(self, origin: str, *, by: str | None = None, change: Any | None = None) -> int:
        """Remove the negative template(s) made from ``origin`` (a reverted review); how many."""
        with self._changing(change) as open_change:
            db = open_change.session
            rows = db.execute(select(NegativeRow.identity).where(NegativeRow.origin == origin)).all()
            if not rows:
                return 0
            db.execute(delete(NegativeRow).where(NegativeRow.origin == origin))
            open_change.audit("feedback.negative.remove", rows[0].identity, {"origin": origin, "by": by})
            return len(rows)

    def erase(self, identity: str, *, change: Any | None = None) -> int:
        """Every negative template of ``identity`` (the identity itself is being erased)."""
        with self._changing(change) as open_change:
            removed = open_change.session.execute(delete(NegativeRow).where(NegativeRow.identity == identity))
            return removed.rowcount or 0

    def list(self, identity: str | None = None) -> list[Negative]:
        query = select(NegativeRow).order_by(NegativeRow.id)
        if identity is not None:
            query = query.where(NegativeRow.identity == identity)
        with self.gallery.reading() as db:
            return [Negative(r.id, r.identity, r.model, r.origin, r.created_by, r.created_at)
                    for r in db.scalars(query)]

    def matrices(self, model: str) -> dict[str, np.ndarray]:
        """identity → K×D negative templates of ``model`` (cached until the next change)."""
        generation = int(self.gallery.meta(GENERATION_KEY) or 0)
        with self._lock:
            cached = self._cache.get(model)
            if cached is not None and cached[0] == generation:
                return cached[1]
        with self.gallery.reading() as db:
            rows = db.execute(select(NegativeRow.identity, NegativeRow.vector)
                              .where(NegativeRow.model == model)).all()
        grouped: dict[str, list[np.ndarray]] = {}
        for row in rows:
            plain = self.gallery.unseal(row.vector, _context(row.identity, model))
            grouped.setdefault(row.identity, []).append(np.frombuffer(plain, "<f4").astype(np.float32))
        matrices = {identity: np.stack(vectors) for identity, vectors in grouped.items()}
        with self._lock:
            self._cache[model] = (generation, matrices)
        return matrices

    def filter(self, model: str, probe: np.ndarray, candidates: Sequence[Any],
               threshold: float | None = None) -> list[Any]:
        """The matcher's hook: ``candidates`` of ``probe`` minus identities it must not match."""
        negatives = self.matrices(model)
        if not negatives or not candidates:
            return list(candidates)
        limit = same_person_threshold(model) if threshold is None else threshold
        return filter_candidates(probe, candidates, negatives, limit)


def _bump(session: Any) -> None:
    """Move the generation counter (the row lock also orders concurrent writers)."""
    before = int(Store.get_meta(session, GENERATION_KEY, lock=True) or 0)
    Store.set_meta(session, GENERATION_KEY, str(before + 1))


class FeedbackWatchlist:
    """A video watchlist (``match(vectors) -> ranked candidates``) that applies the negative
    templates: wraps GalleryWatchlist / MemoryWatchlist without changing them."""

    def __init__(self, inner: Any, negatives: NegativeTemplates, threshold: float | None = None) -> None:
        self.inner = inner
        self.negatives = negatives
        self.model = inner.model
        self.threshold = inner.threshold
        self.same_person = same_person_threshold(inner.model) if threshold is None else threshold

    def __len__(self) -> int:
        return len(self.inner)

    def match(self, vectors: np.ndarray, top_k: int = 3) -> list[list[Any]]:
        vectors = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
        ranked = self.inner.match(vectors, top_k=top_k + 2)  # room for the ones dropped
        out = []
        for vector, candidates in zip(vectors, ranked):
            kept = self.negatives.filter(self.model, vector, candidates, self.same_person)
            out.append(kept[:top_k])
        return out
