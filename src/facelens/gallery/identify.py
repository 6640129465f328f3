"""1:N open-set identification: probe → ranked identities + a known/unknown decision.

The index ranks *templates*; an identity's score is the max (default) or the mean of its
templates' similarities to the probe. Max lets one good enrolment photo carry a person; mean
damps one unlucky template. docs/gallery.md has both measured on LFW (multi-template people).

The open-set threshold comes from ``calibration/identification.json``: the similarity at which
the false-positive identification rate (unknown probes wrongly matched to someone) was 1 % on
LFW, made by ``facelens gallery evaluate --lfw DIR --calibrate`` (see that file's notes).
Below it the answer is ``identity=None`` ("unknown") whatever the best candidate was.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ..errors import BadInputError

if TYPE_CHECKING:
    from ..types import Face
    from .core import Gallery

Scoring = Literal["max", "mean"]
SCORINGS = ("max", "mean")
CALIBRATION_FILE = "identification.json"


@dataclass(frozen=True)
class Candidate:
    identity: str
    similarity: float

    def to_dict(self) -> dict[str, Any]:
        return {"identity": self.identity, "similarity": round(float(self.similarity), 6)}


@dataclass(frozen=True)
class Identification:
    """The answer for one probe face."""

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


def calibration_path() -> Path:
    return Path(__file__).resolve().parent.parent / "calibration" / CALIBRATION_FILE


@functools.lru_cache(maxsize=1)
def calibration() -> dict[str, Any]:
    try:
        return json.loads(calibration_path().read_text())
    except FileNotFoundError:
        return {}


def threshold_for(model: str, scoring: Scoring = "max") -> tuple[float, str]:
    """(threshold, where it came from). Falls back to the verification threshold, saying so."""
    entry = calibration().get("models", {}).get(model, {}).get(scoring)
    if entry:
        return float(entry["threshold"]), f"identification FPIR={entry['fpir']} ({entry['source']})"
    try:
        from ..verification import threshold

        value, point = threshold(model)
    except Exception as exc:  # noqa: BLE001 - any failure means "not calibrated"
        raise BadInputError(
            f"no identification threshold for {model!r}/{scoring}: run `facelens gallery evaluate --calibrate` ({exc})"
        ) from None
    return value, f"verification threshold {point} (identification not calibrated for {model})"


def score_identities(
    template_ids: np.ndarray,
    sims: np.ndarray,
    owners: dict[int, str],
    scoring: Scoring,
    members: dict[str, np.ndarray] | None = None,
    member_sims: dict[str, float] | None = None,
) -> list[Candidate]:
    """Group a probe's template hits by identity and rank the identities.

    owners: template id → identity name (templates missing there were erased: ignored).
    member_sims (mean scoring): identity → mean similarity over *all* its templates.
    """
    best: dict[str, float] = {}
    for tid, sim in zip(template_ids.tolist(), sims.tolist()):
        name = owners.get(int(tid))
        if name is None or not np.isfinite(sim):
            continue
        if sim > best.get(name, -np.inf):
            best[name] = float(sim)
    if scoring == "mean" and member_sims is not None:
        best = {name: member_sims.get(name, score) for name, score in best.items()}
    ranked = sorted(best.items(), key=lambda item: (-item[1], item[0]))
    return [Candidate(name, score) for name, score in ranked]


def identify(
    probe: Any,
    top_k: int = 5,
    *,
    gallery: "Gallery | None" = None,
    db: str | None = None,
    model: str | None = None,
    scoring: Scoring | None = None,
    threshold: float | None = None,
) -> list[Identification]:
    """Who is in this image (or who is this embedding)? One Identification per face.

    ``probe``: an image (path, bytes, PIL, numpy BGR), a 1-D embedding, or a Face with an
    embedding. Without ``gallery`` the default gallery (``--db``/FACELENS_DB/data dir) is opened
    for the call and closed after.
    """
    if gallery is not None:
        return gallery.identify(probe, top_k=top_k, model=model, scoring=scoring, threshold=threshold)
    from .core import Gallery

    with Gallery(db) as opened:
        return opened.identify(probe, top_k=top_k, model=model, scoring=scoring, threshold=threshold)
