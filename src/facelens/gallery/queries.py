"""Read side of the gallery repository: identities, templates (decrypted) and search inputs.

``GalleryRepository`` (repository.py) extends this with opening, keys and every write; the two
together are the only code that touches the database and the cipher.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..errors import NotFoundError
from .crypto import Cipher
from .records import StoredTemplate, VectorBatch
from .store import IdentityRow, Store, TemplateRow, UnknownRow, json_ready


def template_aad(identity_uid: str, model: str) -> bytes:
    return f"facelens-template-v1|{identity_uid}|{model}".encode()


def unknown_aad(model: str) -> bytes:
    return f"facelens-unknown-v1|{model}".encode()


def image_aad(identity_uid: str) -> bytes:
    return f"facelens-image-v1|{identity_uid}".encode()


class GalleryQueries:
    """Reads over ``store``, decrypting with ``cipher`` (both set by the repository)."""

    store: Store
    cipher: Cipher

    def _open_vector(self, blob: bytes, identity_uid: str, model: str) -> np.ndarray:
        return np.frombuffer(self.cipher.decrypt(blob, template_aad(identity_uid, model)), dtype="<f4").astype(np.float32)

    def meta(self, key: str) -> str | None:
        with self.store.read() as session:
            return self.store.get_meta(session, key)

    def generation(self, model: str) -> int:
        return self.store.generation(model)

    def unknowns(self, model: str) -> tuple[np.ndarray, np.ndarray]:
        with self.store.read() as session:
            rows = session.execute(select(UnknownRow.id, UnknownRow.vector).where(UnknownRow.model == model)
                                   .order_by(UnknownRow.id)).all()
        ids = np.array([r.id for r in rows], dtype=np.int64)
        vectors = [np.frombuffer(self.cipher.decrypt(r.vector, unknown_aad(model)), "<f4") for r in rows]
        return ids, (np.stack(vectors).astype(np.float32) if vectors else np.empty((0, 0), np.float32))

    # ------------------------------------------------------------------ reading identities

    @staticmethod
    def _identity(session: Session, name: str) -> IdentityRow:
        row = session.scalars(select(IdentityRow).where(IdentityRow.name == name)).first()
        if row is None:
            raise NotFoundError(f"no identity named {name!r} in the gallery")
        return row

    def count(self, name: object = None) -> int:
        """Identities in the gallery (named ``name``, when given)."""
        query = select(func.count()).select_from(IdentityRow)
        if name is not None:
            query = query.where(IdentityRow.name == name)
        with self.store.read() as session:
            return session.scalar(query) or 0

    def list(self) -> list[dict[str, Any]]:
        with self.store.read() as session:
            rows = session.execute(
                select(IdentityRow.name, IdentityRow.created_at, IdentityRow.consent_expires,
                       func.count(TemplateRow.id).label("templates"))
                .outerjoin(TemplateRow, TemplateRow.identity_id == IdentityRow.id)
                .group_by(IdentityRow.id).order_by(IdentityRow.name)
            ).all()
        return [{"name": r.name, "templates": r.templates, "created_at": json_ready(r.created_at),
                 "consent_expires": json_ready(r.consent_expires)} for r in rows]

    def list_page(self, contains: str | None, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
        """One page of ``list()`` (names containing ``contains``, any case) and how many match."""
        wanted = IdentityRow.name.icontains(contains, autoescape=True) if contains else IdentityRow.id.is_not(None)
        with self.store.read() as session:
            total = session.scalar(select(func.count()).select_from(IdentityRow).where(wanted)) or 0
            page = (select(IdentityRow.id).where(wanted).order_by(IdentityRow.name).limit(limit).offset(offset)
                    .subquery())
            rows = session.execute(
                select(IdentityRow.name, IdentityRow.created_at, IdentityRow.consent_expires,
                       func.count(TemplateRow.id).label("templates"))
                .join(page, page.c.id == IdentityRow.id)
                .outerjoin(TemplateRow, TemplateRow.identity_id == IdentityRow.id)
                .group_by(IdentityRow.id).order_by(IdentityRow.name)
            ).all()
        return [{"name": r.name, "templates": r.templates, "created_at": json_ready(r.created_at),
                 "consent_expires": json_ready(r.consent_expires)} for r in rows], int(total)

    def face_image(self, template_id: int) -> tuple[str, bytes | None]:
        """(owner's name, the face crop kept at enrolment, decrypted; None when none was kept)."""
        with self.store.read() as session:
            row = session.execute(select(IdentityRow.name, IdentityRow.uid, TemplateRow.image)
                                  .join(IdentityRow, IdentityRow.id == TemplateRow.identity_id)
                                  .where(TemplateRow.id == template_id)).first()
        if row is None:
            raise NotFoundError(f"no face (template) with id {template_id}")
        return row.name, self.cipher.decrypt(row.image, image_aad(row.uid)) if row.image is not None else None

    def unknown_sources(self, ids: list[int]) -> dict[int, str | None]:
        """Where each stored unknown face was seen (``add_unknowns(sources=…)``), by id."""
        wanted = [int(i) for i in ids]
        found: dict[int, str | None] = {}
        with self.store.read() as session:
            for start in range(0, len(wanted), 5000):  # SQLite caps bound parameters per statement
                found.update(session.execute(select(UnknownRow.id, UnknownRow.source)
                                             .where(UnknownRow.id.in_(wanted[start:start + 5000]))).all())
        return found

    def show(self, name: str) -> dict[str, Any]:
        with self.store.read() as session:
            return self._describe(session, self._identity(session, name), with_vectors=False)

    def _describe(self, session: Session, row: IdentityRow, with_vectors: bool) -> dict[str, Any]:
        templates = session.scalars(select(TemplateRow).where(TemplateRow.identity_id == row.id).order_by(TemplateRow.id)).all()
        out = {
            "name": row.name, "id": row.uid, "metadata": row.info or {},
            "consent": {"by": row.consent_by, "at": json_ready(row.consent_at),
                        "purpose": row.consent_purpose, "expires": json_ready(row.consent_expires)},
            "created_at": json_ready(row.created_at), "templates": [],
        }
        for t in templates:
            item = {"id": t.id, "model": t.model, "model_version": t.model_version, "dim": t.dim,
                    "quality": t.quality, "quality_detail": t.quality_detail, "source": t.source,
                    "created_at": json_ready(t.created_at), "has_image": t.image is not None}
            if with_vectors:
                item["embedding"] = [round(float(v), 7) for v in self._open_vector(t.vector, row.uid, t.model)]
            out["templates"].append(item)
        return out

    def templates_of(self, name: str, model: str) -> list[StoredTemplate]:
        with self.store.read() as session:
            row = self._identity(session, name)
            rows = session.scalars(select(TemplateRow).where(TemplateRow.identity_id == row.id, TemplateRow.model == model)
                                   .order_by(TemplateRow.id)).all()
            return [StoredTemplate(t.id, self._open_vector(t.vector, row.uid, model), model, t.source, t.created_at,
                                   t.quality, t.quality_detail) for t in rows]

    # ------------------------------------------------------------------ reading templates for search

    def template_owner(self, template_id: int) -> tuple[str, str]:
        """(identity name, model) of a stored template."""
        with self.store.read() as session:
            row = session.execute(select(IdentityRow.name, TemplateRow.model)
                                  .join(IdentityRow, IdentityRow.id == TemplateRow.identity_id)
                                  .where(TemplateRow.id == template_id)).first()
        if row is None:
            raise NotFoundError(f"no face (template) with id {template_id}")
        return row.name, row.model

    def template_ids(self, model: str) -> np.ndarray:
        with self.store.read() as session:
            return np.array(session.scalars(select(TemplateRow.id).where(TemplateRow.model == model)
                                            .order_by(TemplateRow.id)).all(), dtype=np.int64)

    def dim_of(self, model: str) -> int | None:
        with self.store.read() as session:
            return session.execute(select(TemplateRow.dim).where(TemplateRow.model == model).limit(1)).scalar_one_or_none()

    def _open_rows(self, rows: list, model: str) -> VectorBatch:
        if not rows:
            return VectorBatch.empty()
        keys = np.fromiter((r.id for r in rows), np.int64, len(rows))
        owners = np.fromiter((r.identity_id for r in rows), np.int64, len(rows))
        vectors = np.stack([self._open_vector(r.vector, r.uid, model) for r in rows])
        return VectorBatch(keys, vectors, owners, {r.identity_id: r.name for r in rows})

    def _vector_rows(self):
        return (select(TemplateRow.id, TemplateRow.vector, TemplateRow.identity_id, IdentityRow.uid, IdentityRow.name)
                .join(IdentityRow, IdentityRow.id == TemplateRow.identity_id))

    def load_vectors(self, model: str, ids: np.ndarray) -> VectorBatch:
        """Decrypted vectors of the given templates, with their owners and the owners' names."""
        with self.store.read() as session:
            rows = []
            for start in range(0, len(ids), 500):
                part = ids[start:start + 500].tolist()
                rows += session.execute(self._vector_rows().where(TemplateRow.id.in_(part))).all()
        rows.sort(key=lambda r: r.id)
        return self._open_rows(rows, model)

    def stream_vectors(self, model: str, wanted: np.ndarray, batch: int = 20000) -> Iterator[VectorBatch]:
        """Like ``load_vectors`` for many templates, read in batches (a rebuild of a big index)."""
        query = (self._vector_rows().where(TemplateRow.model == model).order_by(TemplateRow.id)
                 .execution_options(yield_per=batch))
        with self.store.read() as session:
            for part in session.execute(query).partitions(batch):
                keys = np.fromiter((r.id for r in part), dtype=np.int64, count=len(part))
                keep = np.isin(keys, wanted, assume_unique=True)
                rows = [r for r, k in zip(part, keep) if k]
                if rows:
                    yield self._open_rows(rows, model)

    # ------------------------------------------------------------------ retention

    def consent_expired(self, now: datetime) -> list[str]:
        with self.store.read() as session:
            return list(session.scalars(
                select(IdentityRow.name).where(IdentityRow.consent_expires.is_not(None), IdentityRow.consent_expires <= now)
                .order_by(IdentityRow.name)).all())

    def templates_older_than(self, cutoff: datetime) -> list[tuple[int, str, str]]:
        """(template id, model, identity name) of templates created before ``cutoff``."""
        with self.store.read() as session:
            return [(r.id, r.model, r.name) for r in session.execute(
                select(TemplateRow.id, TemplateRow.model, IdentityRow.name)
                .join(IdentityRow, IdentityRow.id == TemplateRow.identity_id)
                .where(TemplateRow.created_at < cutoff)).all()]

    def template_counts(self, names: list[str]) -> dict[str, int]:
        if not names:
            return {}
        with self.store.read() as session:
            return dict(session.execute(
                select(IdentityRow.name, func.count(TemplateRow.id))
                .join(TemplateRow, TemplateRow.identity_id == IdentityRow.id)
                .where(IdentityRow.name.in_(names)).group_by(IdentityRow.name)).all())
