"""One identity's templates for access control, and telling enrolment from adaptive ones.

Adaptive templates are ordinary gallery templates whose ``source`` starts with ``ADAPTIVE``
(and whose ``quality_detail`` carries the guard values that admitted them). Reading goes through
``Gallery.templates_of`` (decrypted, not audited: the comparison stays in this process).
"""

from __future__ import annotations

import numpy as np

from ..errors import NotFoundError
from ..constants import DEFAULT_MODEL
from ..gallery import StoredTemplate
from ..match import rank_identities

ADAPTIVE = "access:adaptive"


def is_adaptive(template: StoredTemplate) -> bool:
    return bool(template.source and template.source.startswith(ADAPTIVE))


def identity_templates(gallery, name: str, model: str = DEFAULT_MODEL) -> list[StoredTemplate]:
    """Templates of ``name`` for ``model``, oldest first; NotFoundError if the name is not enrolled."""
    try:
        return gallery.templates_of(name, model)
    except NotFoundError:
        raise NotFoundError(f"no identity named {name!r} in the gallery (unknown or erased)") from None


def best_similarity(templates: list[StoredTemplate], probe: np.ndarray) -> float:
    """The claimed identity's score: its best template (the gallery's ``max`` scoring)."""
    if not templates:
        return float("-inf")
    sims = np.stack([t.vector for t in templates]) @ np.asarray(probe, np.float32)
    ranked = rank_identities(["claim"] * len(templates), sims)
    return ranked[0].similarity if ranked else float("-inf")
