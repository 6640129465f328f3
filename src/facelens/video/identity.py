"""Who is a track? Identity is decided over the track's best captures, not one frame.

The rule (``decide``), measured against single-frame decisions in docs/video.md:

1. Only captures with an embedding and usable quality count (``Quality.problems`` with a
   relaxed size floor: video faces are small). The tracker keeps the ``keep_best`` best of them
   by ``tracking.capture_score`` (size × frontalness × sharpness × detector score).
2. Fewer than ``min_captures`` usable captures → **pending** (no decision yet; at the end of a
   track a pending track becomes unknown).
3. The captures' embeddings are averaged (then L2-normalised) into one track template and
   searched in the watchlist: best identity ``A`` with similarity ``s``.
4. Every capture also votes on its own: for its top-1 identity, when that similarity is at least
   ``threshold − vote_margin`` (default margin 0.1), else for "unknown".
   **identity = A** when ``s ≥ threshold`` *and* at least ``min_agreement`` (default half) of
   the captures voted for ``A``; otherwise **unknown**.
5. Hysteresis (``sticky``): once a track is known it stays that identity until the rule names
   *another* identity — a run of poor frames does not flip it back to unknown.
6. **Vote split** (``vote_split``): when at least ``min_votes`` captures vote for one identity and
   at least ``min_votes`` for another, the track holds two people (the tracker's appearance gate
   let a drift through). It is split in time — the older voters end as one track, the newer
   continue as another — and each side is decided on its own faces, never on the average of both.

Every decision carries ``votes`` (captures that voted for the answer), ``captures`` (usable
captures considered) and ``agreement`` = votes / captures; alerts carry all three.

Averaging cancels the per-frame noise of pose, blur and compression; the vote stops one very
similar frame (or a template close to two people) from deciding alone.

Watchlists: anything with ``match(vectors) -> list[list[Candidate]]`` (ranked, best first).
``MemoryWatchlist`` holds templates in memory (tests, Ray workers); ``GalleryWatchlist`` searches
a ``facelens.gallery.Gallery``, optionally restricted to identities whose metadata ``watchlist``
names the list.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from ..constants import DEFAULT_MODEL
from ..match import FALLBACK_THRESHOLD, Candidate, identification_threshold, rank_identities
from ..types import Face
from .tracking import Track

log = logging.getLogger(__name__)

PENDING = "pending"
UNKNOWN = "unknown"


class Watchlist(Protocol):
    model: str
    threshold: float

    def match(self, vectors: np.ndarray) -> list[list[Candidate]]: ...


def default_threshold(model: str = DEFAULT_MODEL) -> tuple[float, str]:
    """(threshold, where it came from): gallery identification calibration, else verification
    calibration, else FALLBACK_THRESHOLD (logged)."""
    return identification_threshold(model, uncalibrated=FALLBACK_THRESHOLD)


class MemoryWatchlist:
    """Templates held in memory: ``{name: K×D array}``; an identity scores its best template."""

    def __init__(self, templates: Mapping[str, Any], model: str = DEFAULT_MODEL,
                 threshold: float | None = None) -> None:
        names, rows = [], []
        for name, vectors in templates.items():
            for row in np.atleast_2d(np.asarray(vectors, dtype=np.float32)):
                names.append(name)
                rows.append(row / max(float(np.linalg.norm(row)), 1e-12))
        self.names = np.array(names, dtype=object)
        self.matrix = np.stack(rows) if rows else np.zeros((0, 1), np.float32)
        self.identities = sorted(set(names))
        self.model = model
        self.threshold, self.threshold_source = (
            (float(threshold), "given") if threshold is not None else default_threshold(model))

    @classmethod
    def from_images(cls, people: Mapping[str, Iterable[Any]], model: str = DEFAULT_MODEL,
                    threshold: float | None = None) -> "MemoryWatchlist":
        """Enrol from image files/arrays (the largest face of each)."""
        from ..pipeline import embed

        templates = {name: np.stack([embed(image, model=model, face="largest")[0].embedding
                                     for image in images]) for name, images in people.items()}
        return cls(templates, model, threshold)

    def __len__(self) -> int:
        return len(self.identities)

    def match(self, vectors: np.ndarray, top_k: int = 3) -> list[list[Candidate]]:
        vectors = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
        if not len(self.matrix) or not len(vectors):
            return [[] for _ in vectors]
        return [rank_identities(self.names, row, top_k=top_k) for row in vectors @ self.matrix.T]


class GalleryWatchlist:
    """A gallery (facelens.gallery.Gallery) as a watchlist. ``watchlist``: keep only identities
    whose metadata ``watchlist`` names it (a name, comma-separated names or a list; None = everyone).
    Enrol with ``facelens gallery enrol NAME IMAGES --meta watchlist=vip``."""

    def __init__(self, gallery: Any, watchlist: str | None = None, model: str = DEFAULT_MODEL,
                 threshold: float | None = None, scoring: str = "max") -> None:
        self.gallery = gallery
        self.model = model
        self.scoring = scoring
        self.watchlist = watchlist
        self.threshold, self.threshold_source = (
            (float(threshold), "given") if threshold is not None else default_threshold(model))
        self.members: set[str] | None = None
        self._lock = threading.Lock()  # one gallery shared by every camera thread
        if watchlist is not None:
            self.members = set()
            for entry in gallery.list():
                tag = (gallery.show(entry["name"]).get("metadata") or {}).get("watchlist")
                tags = tag.split(",") if isinstance(tag, str) else (tag or [])
                if watchlist in [str(t).strip() for t in tags]:
                    self.members.add(entry["name"])
            if not self.members:
                from ..errors import NotFoundError

                raise NotFoundError(f"no identity in the gallery is on watchlist {watchlist!r} "
                                    "(metadata key 'watchlist')")

    def __len__(self) -> int:
        return len(self.members) if self.members is not None else len(self.gallery)

    def match(self, vectors: np.ndarray, top_k: int = 3) -> list[list[Candidate]]:
        vectors = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
        depth = top_k if self.members is None else top_k + 20
        with self._lock:
            results = self.gallery.search(list(vectors), self.model, depth, self.scoring, 0.0)
        return [[c for c in result.candidates if self.members is None or c.identity in self.members][:top_k]
                for result in results]


@dataclass(frozen=True)
class TrackIdentity:
    """The decision for one track at one moment."""

    state: str  # an identity name, "unknown" or "pending"
    similarity: float  # of the averaged template to the best identity (nan when pending)
    votes: int  # captures that voted for ``best``
    captures: int  # usable captures considered
    best: str | None = None  # best candidate even when the decision is unknown
    candidates: list[Candidate] = field(default_factory=list)

    @property
    def identity(self) -> str | None:
        return None if self.state in (PENDING, UNKNOWN) else self.state

    @property
    def known(self) -> bool:
        return self.identity is not None

    @property
    def agreement(self) -> float:
        """Share of the usable captures that voted for the best candidate (0 when none)."""
        return self.votes / self.captures if self.captures else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"identity": self.identity, "state": self.state,
                "similarity": None if np.isnan(self.similarity) else round(self.similarity, 4),
                "votes": self.votes, "captures": self.captures, "agreement": round(self.agreement, 3),
                "best_candidate": self.best}


def usable(face: Face, min_face_size: float = 12.0) -> bool:
    if face.embedding is None:
        return False
    if face.quality is None:
        return True
    return not face.quality.problems(min_face_size=min_face_size, min_sharpness=10.0,
                                     brightness_range=(25.0, 235.0), max_yaw=50.0, max_pitch=40.0)


def decide(faces: list[Face], watchlist: Watchlist, min_captures: int = 2,
           min_agreement: float = 0.5, threshold: float | None = None,
           vote_margin: float = 0.1) -> TrackIdentity:
    """Apply the track identity rule (module docstring) to a track's best captures."""
    limit = watchlist.threshold if threshold is None else threshold
    vectors = [f.embedding for f in faces if usable(f)]
    if len(vectors) < min_captures:
        return TrackIdentity(PENDING, float("nan"), 0, len(vectors))
    matrix = np.stack(vectors).astype(np.float32)
    mean = matrix.mean(0)
    mean /= max(float(np.linalg.norm(mean)), 1e-12)
    ranked = watchlist.match(np.vstack([mean[None, :], matrix]))
    template, singles = ranked[0], ranked[1:]
    if not template:
        return TrackIdentity(UNKNOWN, float("-inf"), 0, len(vectors))
    best = template[0]
    votes = sum(1 for r in singles
                if r and r[0].identity == best.identity and r[0].similarity >= limit - vote_margin)
    known = best.similarity >= limit and votes >= max(1, int(np.ceil(min_agreement * len(vectors))))
    return TrackIdentity(best.identity if known else UNKNOWN, best.similarity, votes, len(vectors),
                         best.identity, template)


def decide_track(track: Track, watchlist: Watchlist, **options: Any) -> TrackIdentity:
    return decide(track.best_faces, watchlist, **options)


def vote_split(faces: list[Face], watchlist: Watchlist, threshold: float | None = None,
               vote_margin: float = 0.1, min_votes: int = 2) -> tuple[list[Face], list[Face]] | None:
    """Rule 6: (older faces, newer faces) when the captures vote for two identities with at least
    ``min_votes`` each, else None. Faces are ordered by their ``frame`` attribute (set by the
    tracker); a capture that voted for nobody goes to the side whose voters are nearest in time."""
    limit = watchlist.threshold if threshold is None else threshold
    ordered = sorted(faces, key=lambda f: int(f.attributes.get("frame", 0)))
    judged = [i for i, f in enumerate(ordered) if usable(f)]
    if len(judged) < 2 * min_votes:
        return None
    ranked = watchlist.match(np.stack([ordered[i].embedding for i in judged]).astype(np.float32))
    voted: list[str | None] = [None] * len(ordered)
    for i, r in zip(judged, ranked):
        voted[i] = r[0].identity if r and r[0].similarity >= limit - vote_margin else None
    counts = sorted(((voted.count(name), name) for name in set(voted) if name), reverse=True)
    if len(counts) < 2 or counts[1][0] < min_votes:
        return None
    first, second = counts[0][1], counts[1][1]
    frames = [int(f.attributes.get("frame", 0)) for f in ordered]
    median = {name: float(np.median([fr for fr, v in zip(frames, voted) if v == name])) for name in (first, second)}
    older, newer = sorted((first, second), key=median.get)
    sides: tuple[list[Face], list[Face]] = ([], [])
    for face, frame, vote in zip(ordered, frames, voted):
        if vote not in (older, newer):
            near = {name: min(abs(frame - fr) for fr, v in zip(frames, voted) if v == name) for name in (older, newer)}
            vote = older if near[older] <= near[newer] else newer
        sides[vote == newer].append(face)
    return sides


def sticky(previous: TrackIdentity | None, new: TrackIdentity) -> TrackIdentity:
    """Rule 5: a known track keeps its identity unless the new decision names another one."""
    if previous is not None and previous.known and not new.known:
        return TrackIdentity(previous.state, new.similarity if new.best == previous.state else previous.similarity,
                             new.votes, new.captures, new.best, new.candidates)
    return new


def single_frame(face: Face, watchlist: Watchlist, threshold: float | None = None) -> TrackIdentity:
    """The baseline the track rule is measured against: one frame decides."""
    limit = watchlist.threshold if threshold is None else threshold
    if face.embedding is None:
        return TrackIdentity(PENDING, float("nan"), 0, 0)
    ranked = watchlist.match(face.embedding[None, :])[0]
    if not ranked:
        return TrackIdentity(UNKNOWN, float("-inf"), 0, 1)
    best = ranked[0]
    state = best.identity if best.similarity >= limit else UNKNOWN
    return TrackIdentity(state, best.similarity, int(state != UNKNOWN), 1, best.identity, ranked)
