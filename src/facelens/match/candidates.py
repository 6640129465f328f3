"""Candidates and identifications: what 1:N matching answers, and how identities are ranked.

An index (or a watchlist) scores *templates*; an identity scores its best template (``max``
scoring). ``mean`` scoring replaces that by the mean over all the identity's templates, which the
caller computes (it needs every template, not just the shortlist) and passes as ``member_sims``.
docs/gallery.md has both measured on LFW.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import BadInputError

if TYPE_CHECKING:
    from ..types import Face


@dataclass(frozen=True)
class Candidate:
    identity: str
    similarity: float

    def to_dict(self) -> dict[str, Any]:
        return {"identity": self.identity, "similarity": round(float(self.similarity), 6)}


@dataclass(frozen=True)
class Identification:
    """The answer for one probe face: ``identity`` None means unknown (below ``threshold``)."""

    identity: str | None
    similarity: float
    threshold: float
    candidates: list[Candidate] = field(default_factory=list)
    box: tuple[float, float, float, float] | None = None
    face: "Face | None" = None

    @property
    def unknown(self) -> bool:
        return self.identity is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "box": [round(v, 1) for v in self.box] if self.box else None,
            "identity": self.identity,
            "similarity": round(float(self.similarity), 6),
            "candidates": [c.to_dict() for c in self.candidates],
        }


def rank_identities(owners: Iterable[str | None], sims: Sequence[float] | np.ndarray, *, top_k: int | None = None,
                    member_sims: Mapping[str, float] | None = None) -> list[Candidate]:
    """Identities ranked by their best template, best first (ties by name).

    ``owners[i]`` owns the template scored ``sims[i]``; a None owner (a template erased since the
    index was built) and a non-finite score are skipped. ``member_sims`` (mean scoring): identity →
    score over all its templates, replacing the best-template score of the identities found."""
    best: dict[str, float] = {}
    for name, sim in zip(owners, np.asarray(sims).tolist()):
        if name is None or not np.isfinite(sim):
            continue
        if sim > best.get(name, -np.inf):
            best[name] = float(sim)
    if member_sims is not None:
        best = {name: float(member_sims.get(name, score)) for name, score in best.items()}
    ranked = sorted(best.items(), key=lambda item: (-item[1], item[0]))
    return [Candidate(name, score) for name, score in ranked[:top_k]]


def open_set_decision(candidates: list[Candidate], threshold: float) -> Identification:
    """The open-set decision: the best candidate if it reaches ``threshold``, else unknown."""
    if not candidates:
        return Identification(None, float("-inf"), threshold, [])
    best = candidates[0]
    identity = best.identity if best.similarity >= threshold else None
    return Identification(identity, best.similarity, threshold, candidates)


def cosine_similarity(a: np.ndarray, b: np.ndarray) -> float:
    a = np.asarray(a, dtype=np.float32).ravel()
    b = np.asarray(b, dtype=np.float32).ravel()
    if a.shape != b.shape:
        raise BadInputError(f"embeddings of different sizes ({a.size} vs {b.size}): different models?")
    return float(np.dot(a, b) / max(float(np.linalg.norm(a) * np.linalg.norm(b)), 1e-12))
