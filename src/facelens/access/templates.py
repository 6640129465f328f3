"""One identity's templates for access control, and telling enrolment from adaptive ones.

Adaptive templates are ordinary gallery templates whose ``source`` starts with ``ADAPTIVE``
(and whose ``quality_detail`` carries the guard values that admitted them). Reading goes through
``Gallery.templates_of`` (decrypted, not audited: the comparison stays in this process).
"""

from __future__ import annotations

import numpy as np

from ..errors import NotFoundError
from ..gallery import StoredTemplate

ADAPTIVE = "access:adaptive"


def is_adaptive(template: StoredTemplate) -> bool:
    return bool(template.source and template.source.startswith(ADAPTIVE))


def identity_templates(gallery, name: str, model: str = "mobilefacenet") -> list[StoredTemplate]:
    """Templates of ``name`` for ``model``, oldest first; NotFoundError if the name is not enrolled."""
    try:
        return gallery.templates_of(name, model)
    except NotFoundError:
        raise NotFoundError(f"no identity named {name!r} in the gallery (unknown or erased)") from None


def best_similarity(templates: list[StoredTemplate], probe: np.ndarray) -> float:
    if not templates:
        return float("-inf")
    matrix = np.stack([t.vector for t in templates])
    return float(np.max(matrix @ np.asarray(probe, np.float32)))
