"""Enrolment integrity: do the photos of one enrolment show one person, and is that person
already enrolled under another name?

Pure decisions over unit vectors and search results; ``facelens.usecases.enrolment`` embeds the
photos, asks the gallery, and refuses (or, forced, audits the override).

Agreement: each new photo's score is the MEDIAN of its cosine similarities to the other photos
of the call (and, separately, to the identity's stored templates when adding); a photo scoring
below the verification threshold at ``AGREEMENT_POINT`` disagrees. With two photos that is the
pair's similarity. The median, not the similarity to the photos' mean, because two people's
photos 2 + 2 must still be refused (each photo has as many strangers as look-alikes among the
others). Why FAR 1e-2 and not the 1e-3 default of verification: measured on LFW in
docs/gallery.md ("Enrolment integrity") — an operator holding real photos of one person should
be refused rarely (1e-3 refused 1.7 % of genuine pairs and 6.5 % of genuine 5-photo sets, 1e-2
0.7 % and 3.7 %), while a stranger's photo among them was still caught 99.1–99.3 % of the time
(bench/bench_enrolment_integrity.py).

Duplicates: the unit mean of the new photos is searched in the gallery; another identity at or
above the open-set identification threshold (the calibrated FPIR 1 % point) is a likely
duplicate.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from ..errors import BadInputError, ConflictError
from .candidates import Identification
from .thresholds import Scoring, identification_threshold, verification_threshold

log = logging.getLogger(__name__)

AGREEMENT_POINT = "far_1e-2"


@dataclass(frozen=True)
class Finding:
    """One reason to refuse an enrolment. ``check``: ``agreement`` (``photo`` does not match
    ``reference``: the other photos, or the stored templates) or ``duplicate`` (``photo`` looks
    like the enrolled identity ``duplicate_of``)."""

    check: Literal["agreement", "duplicate"]
    photo: str
    similarity: float
    threshold: float
    threshold_source: str
    reference: str | None = None
    duplicate_of: str | None = None

    def message(self) -> str:
        measured = f"similarity {self.similarity:.3f}"
        if self.check == "duplicate":
            return (f"{self.photo} matches the enrolled identity {self.duplicate_of!r} ({measured} ≥ "
                    f"{self.threshold:.3f}, {self.threshold_source}): likely the same person enrolled twice")
        return (f"{self.photo} does not match {self.reference} "
                f"({measured} < {self.threshold:.3f}, {self.threshold_source})")

    def to_dict(self) -> dict[str, Any]:
        """The finding for JSON output and the audit log (``source`` names the photo: erasure
        pseudonymises it with the subject; ``duplicate_of`` is pseudonymised when that identity
        is erased)."""
        out: dict[str, Any] = {"check": self.check, "source": self.photo, "similarity": round(self.similarity, 4),
                               "threshold": round(self.threshold, 4), "threshold_source": self.threshold_source}
        if self.duplicate_of is not None:
            out["duplicate_of"] = self.duplicate_of
        return out


class EnrolmentRefused(ConflictError):
    """The photos of an enrolment disagree or duplicate an enrolled identity (exit code 9,
    HTTP 409); ``findings`` says which photo and why. Passing ``force`` enrols anyway, audited."""

    def __init__(self, name: str, findings: Sequence[Finding]):
        self.name, self.findings = name, list(findings)
        first = self.findings[0]
        more = f" (and {len(self.findings) - 1} more)" if len(self.findings) > 1 else ""
        super().__init__(f"refusing to enrol {name!r}: {first.message()}{more}; "
                         "check the photos, or force the enrolment (--force; the override is audited)")


def agreement_threshold(model: str) -> tuple[float, str] | None:
    """(threshold, where from) for photo-vs-photo agreement, or None when ``model`` has no
    calibration (the check is then skipped, logged: a plugged-in model has no threshold yet)."""
    for point in (AGREEMENT_POINT, None):  # None: the model's default point, when it lacks 1e-2
        try:
            value, used = verification_threshold(model, point)
            return value, f"verification threshold {used} of {model}"
        except BadInputError:
            continue
    log.warning("no calibrated verification threshold for %s: photo agreement not checked", model)
    return None


def duplicate_threshold(model: str, scoring: Scoring) -> tuple[float, str] | None:
    """(open-set identification threshold, where from), or None when ``model`` has none."""
    try:
        value, source = identification_threshold(model, scoring)
    except BadInputError:
        log.warning("no calibrated identification threshold for %s: duplicates not checked", model)
        return None
    return value, source


def disagreeing_photos(new: np.ndarray, labels: Sequence[str], threshold: tuple[float, str],
                       stored: np.ndarray | None = None, identity: str | None = None) -> list[Finding]:
    """Findings for the new photos (rows of ``new``, unit vectors) that do not match the other
    new photos, or — when ``stored`` holds ``identity``'s templates — its stored templates.
    Worst first (of two photos, the later one is named)."""
    value, source = threshold
    new = np.atleast_2d(np.asarray(new, dtype=np.float64))
    references: list[tuple[str, np.ndarray]] = []
    if len(new) > 1:
        sims = new @ new.T
        others = ~np.eye(len(new), dtype=bool)
        scores = np.array([np.median(row[mask]) for row, mask in zip(sims, others)])
        if len(new) == 2:  # one pair, one score: name only the later photo
            scores[0] = np.inf
        references.append(("the other photos of this enrolment" if len(new) > 2 else labels[0], scores))
    if stored is not None and len(stored):
        references.append((f"the enrolled templates of {identity!r}",
                           np.median(new @ np.atleast_2d(np.asarray(stored, np.float64)).T, axis=1)))
    findings = []
    for reference, scores in references:
        for i in np.flatnonzero(scores < value):
            findings.append(Finding("agreement", labels[i], float(scores[i]), value, source, reference=reference))
    position = {label: i for i, label in enumerate(labels)}
    return sorted(findings, key=lambda f: (f.similarity, -position[f.photo]))


def unit_mean(vectors: np.ndarray) -> np.ndarray:
    mean = np.asarray(vectors, dtype=np.float64).sum(axis=0)
    return (mean / max(float(np.linalg.norm(mean)), 1e-12)).astype(np.float32)


def duplicate_of(name: str, mean_result: Identification, photo_results: Sequence[Identification],
                 labels: Sequence[str], threshold: tuple[float, str]) -> list[Finding]:
    """A finding when the new photos' mean (``mean_result``, searched in the gallery) matches an
    identity other than ``name`` at or above the threshold; the photo named is the one most like
    that identity (``photo_results``: each photo searched, in ``labels`` order)."""
    value, source = threshold
    others = [c for c in mean_result.candidates if c.identity != name and c.similarity >= value]
    if not others:
        return []
    match = others[0]
    per_photo = [max((c.similarity for c in r.candidates if c.identity == match.identity), default=-np.inf)
                 for r in photo_results]
    photo = labels[int(np.argmax(per_photo))] if per_photo else labels[0]
    return [Finding("duplicate", photo, float(match.similarity), value, source, duplicate_of=match.identity)]
