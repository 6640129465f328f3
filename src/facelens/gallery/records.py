"""What the gallery stores, as plain records: consent, templates to write, templates read back.

Also the checks every write shares: a usable identity name, finite non-zero vectors (stored
L2-normalised), and the embedding model's version recorded beside each template.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import numpy as np

from ..errors import BadInputError


@dataclass(frozen=True)
class Consent:
    """Who consented, when, for what, until when (naive UTC datetimes)."""

    by: str | None = None
    at: datetime | None = None
    purpose: str | None = None
    expires: datetime | None = None

    def __post_init__(self) -> None:
        # A consent that has already run out cannot cover an enrolment (it would be purged as
        # expired at once); aware datetimes are stored as the naive UTC the database keeps.
        for name in ("by", "purpose"):
            if not isinstance(getattr(self, name), (str, type(None))):
                raise BadInputError(f"consent {name} must be text, not {type(getattr(self, name)).__name__}")
        for name in ("at", "expires"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, datetime):
                raise BadInputError(f"consent {name} must be a datetime, not {type(value).__name__}")
            if value is not None and value.tzinfo is not None:
                object.__setattr__(self, name, value.astimezone(timezone.utc).replace(tzinfo=None))
        now = datetime.now(timezone.utc).replace(tzinfo=None)
        if self.expires is not None and self.expires <= now:
            raise BadInputError(f"consent expiry {self.expires.isoformat()}Z is in the past; "
                                "an expired consent cannot cover an enrolment")
        if self.expires is not None and self.at is not None and self.expires <= self.at:
            raise BadInputError("consent expiry must come after the moment consent was given")


@dataclass
class Template:
    """One embedding to store. ``vector`` is L2-normalised here if it is not already."""

    vector: np.ndarray
    model: str
    model_version: str = "unknown"
    quality: float | None = None
    quality_detail: dict | None = None
    source: str | None = None
    image: bytes | None = None  # encoded face image, stored (encrypted) only when asked for


@dataclass
class EnrolRecord:
    name: str
    templates: list[Template]
    metadata: dict[str, Any] = field(default_factory=dict)
    consent: Consent | None = None

    def __post_init__(self) -> None:
        if self.consent is not None and not isinstance(self.consent, Consent):
            raise BadInputError(f"consent must be a Consent record, not {type(self.consent).__name__} "
                                f"({self.consent!r:.40})")


@dataclass(frozen=True)
class StoredTemplate:
    """One template as stored, decrypted: what ``Gallery.templates_of`` returns."""

    id: int
    vector: np.ndarray
    model: str
    source: str | None
    created_at: datetime
    quality: float | None
    quality_detail: dict | None


@dataclass
class VectorBatch:
    """Templates on their way into a search index: ids, float32 vectors, owner identity ids, and
    the names of those owners (identity id → name)."""

    keys: np.ndarray
    vectors: np.ndarray
    owners: np.ndarray
    names: dict[int, str]

    @classmethod
    def empty(cls, dim: int = 1) -> "VectorBatch":
        return cls(np.empty(0, np.int64), np.empty((0, dim), np.float32), np.empty(0, np.int64), {})


AuditItem = tuple[str, "str | None", dict[str, Any]]
"""(event, subject, details) of an audit entry written inside a change's transaction."""


def model_version(model: str) -> str:
    try:
        from ..embedding import get_embedder

        return str(get_embedder(model).version)
    except Exception:  # noqa: BLE001 - version is informative; an unknown model still stores
        return "unknown"


def check_name(name: str) -> str:
    if not isinstance(name, str) or not name.strip():
        raise BadInputError("identity name must be a non-empty string")
    if len(name) > 200:
        raise BadInputError("identity name is longer than 200 characters")
    return name.strip()


def _float32(values: Any, what: str) -> np.ndarray:
    try:
        return np.asarray(values, dtype=np.float32)
    except (TypeError, ValueError):  # strings, objects, ragged lists
        raise BadInputError(f"{what}: embedding must hold numbers") from None


def normalised(vector: Any, what: str) -> np.ndarray:
    array = _float32(vector, what).reshape(-1)
    if array.size == 0 or not np.isfinite(array).all():
        raise BadInputError(f"{what}: embedding must be a non-empty finite vector")
    norm = float(np.linalg.norm(array))
    if norm < 1e-6:
        raise BadInputError(f"{what}: embedding is all zeros")
    return array / norm


def _normalised_matrix(rows: list[np.ndarray]) -> np.ndarray | None:
    """The rows stacked and L2-normalised in one numpy pass, or None when any row is unusable
    (sizes differ, empty, non-finite, all zeros): the caller then checks row by row to say which."""
    if not rows or len({r.size for r in rows}) != 1:
        return None
    matrix = np.stack(rows)
    norms = np.linalg.norm(matrix, axis=1)
    if matrix.shape[1] == 0 or not np.isfinite(matrix).all() or (norms < 1e-6).any():
        return None
    return matrix / norms[:, None]


def _record_vectors(record: EnrolRecord) -> list[np.ndarray]:
    check_name(record.name)
    rows = [np.asarray(t.vector, dtype=np.float32).reshape(-1) for t in record.templates]
    matrix = _normalised_matrix(rows)
    if matrix is None:
        return [normalised(r, f"{record.name}/{t.source or 'template'}") for r, t in zip(rows, record.templates)]
    return list(matrix)


def normalised_records(records: Sequence[EnrolRecord]) -> list[tuple[EnrolRecord, list[np.ndarray]]]:
    """Every record's vectors checked and L2-normalised — one numpy pass when sizes agree."""
    rows = [np.asarray(t.vector, dtype=np.float32).reshape(-1) for r in records for t in r.templates]
    matrix = _normalised_matrix(rows)
    if matrix is None:
        return [(record, _record_vectors(record)) for record in records]
    out, at = [], 0
    for record in records:
        check_name(record.name)
        out.append((record, list(matrix[at:at + len(record.templates)])))
        at += len(record.templates)
    return out


def templates_from_vectors(embeddings: Any, model: str) -> list[Template]:
    """Precomputed embeddings of ``model`` (one row each) as Templates."""
    version = model_version(model)
    return [Template(vector=row, model=model, model_version=version, source="embedding")
            for row in np.atleast_2d(_float32(embeddings, "embeddings"))]
