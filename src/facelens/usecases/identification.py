"""Identification: who is in this image (or who is this face / embedding)? 1:N, open-set.

The image is turned into faces here (every face, ``face="all"``; an image without a face gives
no result rather than an error); the gallery ranks identities for each face and decides known
or unknown at the calibrated threshold (``facelens.match.thresholds``), which is reported with
its origin so every interface prints the same number.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..constants import DEFAULT_MODEL
from ..errors import BadInputError, NoFaceError
from ..gallery import Gallery
from ..match import SCORINGS, Identification, identification_threshold
from ..pipeline import embed as embed_image
from ..types import Face


@dataclass(frozen=True)
class IdentifyResult:
    faces: list[Identification]
    threshold: float
    threshold_source: str
    scoring: str
    model: str

    def to_dict(self) -> dict[str, Any]:
        """The CLI's ``--json`` shape (the CLI adds "image")."""
        return {"model": self.model, "scoring": self.scoring, "threshold": round(self.threshold, 6),
                "faces": [face.to_dict() for face in self.faces]}


def identify(gallery: Gallery, probe: Any, *, top_k: int = 5, model: str = DEFAULT_MODEL,
             scoring: str | None = None, threshold: float | None = None,
             record_unknown: bool = False) -> IdentifyResult:
    """``probe``: an image (path, bytes, PIL, BGR array), a Face with an embedding, a list of
    such Faces, or one/several embeddings of ``model``. One Identification per face."""
    if isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or top_k < 1:
        raise BadInputError(f"top_k must be a whole number of at least 1, not {top_k!r}")
    scoring = scoring or gallery.scoring
    if scoring not in SCORINGS:
        raise BadInputError(f"scoring must be one of {SCORINGS}")
    if threshold is None:
        limit, source = identification_threshold(model, scoring)
    else:
        limit, source = float(threshold), "given"
    faces = gallery.identify(_faces_or_vectors(probe, model), top_k=top_k, model=model, scoring=scoring,
                             threshold=limit, record_unknown=record_unknown)
    return IdentifyResult(faces, limit, source, scoring, model)


def _faces_or_vectors(probe: Any, model: str) -> Face | Sequence[Face] | np.ndarray:
    """What the gallery searches with: the probe itself when it is already faces or embeddings,
    else every face of the image (none: an empty list, the gallery answers no face)."""
    if isinstance(probe, Face) or (isinstance(probe, (list, tuple)) and probe and all(isinstance(f, Face) for f in probe)):
        return probe
    if isinstance(probe, np.ndarray) and probe.dtype != np.uint8 and probe.ndim in (1, 2):
        return probe
    try:
        return embed_image(probe, model=model, face="all")
    except NoFaceError:
        return []
