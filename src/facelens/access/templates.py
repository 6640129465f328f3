"""Read one identity's templates (decrypted) from the gallery, and tell enrolment from adaptive.

Reads the gallery's template table and decrypts with ``Gallery.open_template`` (``export``
would write an audit entry for what is only an in-process comparison).
Adaptive templates are ordinary gallery templates whose ``source`` starts with ``ADAPTIVE``
(and whose ``quality_detail`` carries the guard values that admitted them).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
from sqlalchemy import select

from ..errors import NotFoundError
from ..gallery.store import IdentityRow, TemplateRow

ADAPTIVE = "access:adaptive"


@dataclass(frozen=True)
class StoredTemplate:
    id: int
    vector: np.ndarray
    source: str | None
    created_at: datetime
    detail: dict | None

    @property
    def adaptive(self) -> bool:
        return bool(self.source and self.source.startswith(ADAPTIVE))


def identity_templates(gallery, name: str, model: str = "mobilefacenet") -> list[StoredTemplate]:
    """Templates of ``name`` for ``model``, oldest first; NotFoundError if the name is not enrolled."""
    with gallery.store.read() as session:
        identity = session.scalars(select(IdentityRow).where(IdentityRow.name == name)).first()
        if identity is None:
            raise NotFoundError(f"no identity named {name!r} in the gallery (unknown or erased)")
        rows = session.scalars(
            select(TemplateRow).where(TemplateRow.identity_id == identity.id, TemplateRow.model == model)
            .order_by(TemplateRow.id)
        ).all()
        uid = identity.uid
    return [StoredTemplate(r.id, gallery.open_template(r.vector, uid, model), r.source, r.created_at, r.quality_detail)
            for r in rows]


def best_similarity(templates: list[StoredTemplate], probe: np.ndarray) -> float:
    if not templates:
        return float("-inf")
    matrix = np.stack([t.vector for t in templates])
    return float(np.max(matrix @ np.asarray(probe, np.float32)))
