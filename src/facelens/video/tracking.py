"""Multi-face tracking: detections in, the same faces out with ``attributes["track_id"]``.

A small ByteTrack-like tracker (Zhang et al., 2022) with appearance:

1. Every live track predicts its box with a constant-velocity model.
2. Detections split by score: *high* (≥ ``high_score``) and *low* (``low_score`` … ``high_score``).
3. Stage 1 — high detections ↔ all tracks (confirmed, tentative and recently lost) by Hungarian
   assignment (``scipy.optimize.linear_sum_assignment``) on a cost mixing IoU and embedding cosine
   similarity: ``1 − (w·IoU + (1 − w)·max(sim, 0))`` when both sides have embeddings, else
   ``1 − IoU``. A pair is allowed when IoU ≥ ``iou_threshold`` or when the embeddings agree
   (sim ≥ ``reid_similarity``) and the boxes are near (centre distance < ``reid_distance`` box
   widths) — the second rule re-finds a face after an occlusion or a fast move.
   **Appearance gate**: when both sides have a trustworthy embedding (eye distance ≥
   ``gate_min_eye_distance``), the pair is allowed only if their cosine similarity is at least
   ``appearance_gate`` — a box in the right place with the wrong face starts a new track.
4. Stage 2 — low detections ↔ the still-unmatched tracks, IoU (and the gate when embedded): a
   blurred or turned face keeps its track; low detections never start tracks, as in ByteTrack.
5. Optionally (``embed=``), stage 3 — the high detections still unmatched are embedded and
   matched to the unmatched tracks by appearance (re-finding a face after an occlusion or a
   jump without embedding every detection).
6. Unmatched high detections start tracks; a track not matched for more than ``max_age`` frames
   is finished and handed out by ``finished()``.

Why not a library: the maintained ByteTrack ports (e.g. supervision's) track boxes only, and we
need the embeddings in the cost and per-track storage of the best captures for identity voting.

Between detections the caller may move tracks itself (``move``: optical flow in watch.py); that
updates the box and ``last_seen`` but not ``hits``.

``embed_all=True`` (what watch.py uses with a watchlist) embeds every detection before
association, so the gate applies everywhere; those embeddings are the tracks' captures too, so
nothing is embedded twice, and frames between detections reuse them (no embedding at all).

**Shot cuts** (``cut()``, called by the watcher when shotcut.py flags a new shot): a box's
position means nothing across a cut. Tracks without an embedding end at once; the others stay
re-findable for ``max_age`` frames but only by appearance (similarity ≥ ``reid_similarity``,
anywhere in the frame), never by IoU.

**Splitting** (``split()``): when a track's captures vote for two different people
(identity.vote_split), the older part ends as its own track and the newer part continues under a
new id — the track is split, not averaged.

The gates (``python bench/bench_video.py --gates --data DATA``; table in docs/video.md): every
labelled face of the three benchmark videos (bench/labels) that BlazeFace finds, embedded with
MobileFaceNet, compared with the running template of its own person in the same shot (1,362
same-person comparisons) and with the running templates of every other labelled person of the
video (4,358 different-person comparisons), plus 600 LFW View 2 impostor pairs. Different people
on the Hamilton clip score at most 0.428 and LFW impostors at most 0.436; the crowd clip's small,
blurred faces overlap (different people: 99th percentile 0.506, max 0.758; same person: 1st
percentile 0.386). APPEARANCE_GATE = 0.45, just above both maxima, rejects 0.59 % of the
same-person comparisons (crowd 1.6 %) and lets 1.35 % of the different-person ones through (crowd
1.9 %) — which must then also sit where the track is predicted to join it. REID_GATE = 0.60 (no
position evidence) lets 0.34 % of different-person comparisons through (crowd 0.49 %) and rejects
2.6 % of same-person ones; it is also close to the calibrated identification threshold (0.611).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from ..detection.base import iou_matrix
from ..types import Face

Box = tuple[float, float, float, float]

APPEARANCE_GATE = 0.45
"""Cosine to the track's running template below which a detection may not join it (calibrated:
module docstring)."""
REID_GATE = 0.60
"""Cosine needed to re-find a track without position evidence (after a cut or a long jump)."""
GATE_MIN_EYE_DISTANCE = 8.0
"""Below this eye distance (px) an embedding is too noisy to veto an association."""


def capture_score(face: Face) -> float:
    """How good a capture is for recognition (higher is better): eye distance (saturating at
    60 px), frontalness and sharpness. Used to keep each track's best frames."""
    q = face.quality
    if q is None:
        return float(face.score)
    size = min(q.face_size, 60.0) / 60.0
    frontal = max(0.0, 1.0 - abs(q.yaw) / 60.0) * max(0.0, 1.0 - abs(q.pitch) / 50.0)
    sharp = min(q.sharpness, 150.0) / 150.0
    return float(face.score * (0.2 + size) * (0.2 + frontal) * (0.3 + sharp))


@dataclass
class Track:
    """One face followed over time. ``captures`` keeps the best ``keep_best`` faces (by
    ``capture_score``), each with its embedding when one was computed — the input of identity
    voting (identity.py)."""

    track_id: int
    first_frame: int
    last_frame: int
    first_seen: float
    last_seen: float
    hits: int
    box: Box
    score: float
    embedding: np.ndarray | None = None  # running mean of seen embeddings (L2-normalised)
    captures: list[tuple[float, Face]] = field(default_factory=list)
    velocity: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    last_detected_frame: int = 0
    camera_id: str | None = None
    attributes: dict = field(default_factory=dict)  # free slot for later stages (identity…)
    after_cut: bool = False  # a shot cut happened since the last match: appearance must re-confirm
    captures_changed: bool = False  # set when a capture was kept; cleared by whoever re-decides

    @property
    def age(self) -> int:
        return self.last_frame - self.first_frame + 1

    @property
    def duration(self) -> float:
        return self.last_seen - self.first_seen

    @property
    def best_faces(self) -> list[Face]:
        return [face for _, face in self.captures]

    @property
    def embeddings(self) -> np.ndarray:
        """Embeddings of the kept captures (K×D, best first); empty when none were embedded."""
        vectors = [f.embedding for _, f in self.captures if f.embedding is not None]
        return np.stack(vectors) if vectors else np.zeros((0, 0), dtype=np.float32)

    def predicted_box(self, frame_index: int) -> Box:
        steps = max(0, frame_index - self.last_frame)
        return tuple(v + d * steps for v, d in zip(self.box, self.velocity))  # type: ignore[return-value]

    def keep(self, face: Face, keep_best: int) -> bool:
        """Add a capture if it is among the ``keep_best`` best; True when it was kept."""
        self.captures.append((capture_score(face), face))
        self.captures.sort(key=lambda item: -item[0])
        kept = any(f is face for _, f in self.captures[:keep_best])
        del self.captures[keep_best:]
        self.captures_changed |= kept
        return kept


class Tracker:
    def __init__(
        self,
        high_score: float = 0.6,
        low_score: float = 0.35,
        iou_threshold: float = 0.25,
        reid_similarity: float = REID_GATE,
        reid_distance: float = 2.0,
        appearance_weight: float = 0.5,
        max_age: int = 30,
        keep_best: int = 5,
        keep_crops: bool = True,
        camera_id: str | None = None,
        appearance_gate: float | None = APPEARANCE_GATE,
        gate_min_eye_distance: float = GATE_MIN_EYE_DISTANCE,
    ) -> None:
        if not 0 <= low_score <= high_score <= 1:
            raise ValueError("need 0 ≤ low_score ≤ high_score ≤ 1")
        self.high_score = high_score
        self.low_score = low_score
        self.iou_threshold = iou_threshold
        self.reid_similarity = reid_similarity
        self.reid_distance = reid_distance
        self.appearance_weight = appearance_weight
        self.max_age = max_age
        self.keep_best = keep_best
        self.keep_crops = keep_crops
        self.camera_id = camera_id
        self.appearance_gate = appearance_gate
        self.gate_min_eye_distance = gate_min_eye_distance
        self.tracks: dict[int, Track] = {}
        self._done: list[Track] = []
        self._ids = itertools.count(1)
        self.total_tracks = 0

    # -- public API -------------------------------------------------------------------------
    def update(self, faces: list[Face], frame_index: int, timestamp: float,
               embed: Callable[[list[Face]], list[Face]] | None = None,
               embed_all: bool = False) -> list[Face]:
        """Associate this frame's detections with the tracks. Returns the faces that belong to a
        track (input order), each with ``attributes["track_id"]``; low-score detections that
        continue no track are dropped.

        ``embed``: optional function adding embeddings to faces. When given, high-score
        detections that neither stage matched are embedded (they need it anyway: they are new
        or re-found faces) and matched by appearance to the unmatched tracks (stage 3) — the
        cheap way to re-find a face after an occlusion without embedding every detection.
        ``embed_all``: embed every detection first, so the appearance gate judges every pair."""
        faces = [f for f in faces if f.score >= self.low_score]
        if embed is not None and embed_all:
            missing = [i for i, f in enumerate(faces) if f.embedding is None]
            for i, face in zip(missing, embed([faces[i] for i in missing]) if missing else []):
                faces[i] = face
        tracks = list(self.tracks.values())
        assigned: dict[int, int] = {}  # face index → track id
        high = [i for i, f in enumerate(faces) if f.score >= self.high_score]
        low = [i for i, f in enumerate(faces) if self.low_score <= f.score < self.high_score]

        pairs = self._associate(faces, high, tracks, frame_index, use_appearance=True)
        assigned.update({fi: tracks[ti].track_id for fi, ti in pairs})
        matched_tracks = {ti for _, ti in pairs}
        rest = [t for i, t in enumerate(tracks) if i not in matched_tracks]
        pairs = self._associate(faces, low, rest, frame_index, use_appearance=True, refind=False)
        assigned.update({fi: rest[ti].track_id for fi, ti in pairs})

        unmatched = [fi for fi in high if fi not in assigned]
        taken = set(assigned.values())
        lost = [t for t in rest if t.track_id not in taken and t.embedding is not None]
        if embed is not None and unmatched and lost:
            missing = [fi for fi in unmatched if faces[fi].embedding is None]
            for fi, face in zip(missing, embed([faces[fi] for fi in missing]) if missing else []):
                faces[fi] = face
            pairs = self._associate(faces, unmatched, lost, frame_index, use_appearance=True)
            assigned.update({fi: lost[ti].track_id for fi, ti in pairs})

        for fi in high:
            if fi not in assigned:
                assigned[fi] = self._start(faces[fi], frame_index, timestamp)
        out = []
        for fi, face in enumerate(faces):
            if fi not in assigned:
                continue
            tagged = face.with_attributes(track_id=assigned[fi])
            self._absorb(self.tracks[assigned[fi]], tagged, frame_index, timestamp)
            out.append(tagged)
        self._expire(frame_index)
        return out

    def cut(self, frame_index: int) -> list[Track]:
        """A shot cut before ``frame_index``: tracks with no embedding end now (returned, and
        handed out by ``finished()``); the rest must be re-found by appearance."""
        ended = []
        for track_id, track in list(self.tracks.items()):
            if track.embedding is None:
                ended.append(self.tracks.pop(track_id))
            else:
                track.after_cut = True
                track.velocity = (0.0, 0.0, 0.0, 0.0)
        self._done.extend(ended)
        return ended

    def split(self, track_id: int, older: list[Face], newer: list[Face]) -> Track | None:
        """End the ``older`` captures of a track as a finished track of their own (keeping the
        id) and continue the track under a new id with the ``newer`` ones. Returns the
        continuing track (None when the id is unknown or a side is empty)."""
        track = self.tracks.get(track_id)
        if track is None or not older or not newer:
            return None
        new_id = next(self._ids)
        self.total_tracks += 1
        first = min(newer, key=_frame_of)
        continuing = Track(
            track_id=new_id, first_frame=_frame_of(first), last_frame=track.last_frame,
            first_seen=float(first.attributes.get("timestamp", track.last_seen)), last_seen=track.last_seen,
            hits=len(newer), box=track.box, score=track.score, velocity=track.velocity,
            last_detected_frame=track.last_detected_frame, camera_id=track.camera_id)
        for face in newer:
            continuing.keep(face.with_attributes(track_id=new_id), self.keep_best)
        continuing.embedding = _mean_direction([f.embedding for f in newer if f.embedding is not None])
        last = max(older, key=_frame_of)
        track.captures = [(capture_score(f), f) for f in older]
        track.captures.sort(key=lambda item: -item[0])
        track.embedding = _mean_direction([f.embedding for f in older if f.embedding is not None])
        track.last_frame = track.last_detected_frame = _frame_of(last)
        track.last_seen = float(last.attributes.get("timestamp", track.last_seen))
        track.box = last.box
        track.attributes.pop("identity", None)
        del self.tracks[track_id]
        self._done.append(track)
        self.tracks[new_id] = continuing
        return continuing

    def move(self, track_id: int, box: Box, frame_index: int, timestamp: float) -> None:
        """Move a track between detections (optical flow); not a detection hit."""
        track = self.tracks.get(track_id)
        if track is None:
            return
        track.box = tuple(float(v) for v in box)  # type: ignore[assignment]
        track.last_frame = frame_index
        track.last_seen = timestamp

    def active(self, max_lost: int = 0) -> list[Track]:
        """Tracks seen by a detection within the last ``max_lost`` detection-frame gap."""
        if max_lost <= 0:
            return list(self.tracks.values())
        newest = max((t.last_detected_frame for t in self.tracks.values()), default=0)
        return [t for t in self.tracks.values() if newest - t.last_detected_frame <= max_lost]

    def finished(self) -> list[Track]:
        """Tracks that ended since the last call (lost for more than ``max_age`` frames)."""
        done, self._done = self._done, []
        return done

    def flush(self) -> list[Track]:
        """End of stream: finish every live track and return all unreported finished tracks."""
        self._done.extend(self.tracks.values())
        self.tracks.clear()
        return self.finished()

    # -- internals --------------------------------------------------------------------------
    def _associate(self, faces, indices, tracks, frame_index, use_appearance, refind=True):
        if not indices or not tracks:
            return []
        det = np.array([faces[i].box for i in indices], dtype=np.float64)
        pred = np.array([t.predicted_box(frame_index) for t in tracks], dtype=np.float64)
        cut = np.array([t.after_cut for t in tracks])[None, :]
        iou = iou_matrix(det, pred)
        allowed = (iou >= self.iou_threshold) & ~cut  # across a cut, position proves nothing
        cost = 1.0 - iou
        if use_appearance:
            sims = self._similarities([faces[i] for i in indices], tracks)
            if sims is not None:
                has = ~np.isnan(sims)
                sim = np.where(has, np.maximum(np.nan_to_num(sims), 0.0), 0.0)
                w = self.appearance_weight
                cost = np.where(has, 1.0 - (w * iou + (1 - w) * sim), cost)
                cost = np.where(cut, 1.0 - sim, cost)
                width = np.maximum(pred[:, 2] - pred[:, 0], 1.0)
                dc = np.hypot(((det[:, None, 0] + det[:, None, 2]) - (pred[None, :, 0] + pred[None, :, 2])) / 2,
                              ((det[:, None, 1] + det[:, None, 3]) - (pred[None, :, 1] + pred[None, :, 3])) / 2)
                near = (dc < self.reid_distance * width[None, :]) | cut
                if refind:
                    allowed |= has & (sims >= self.reid_similarity) & near
                trusted = has & self._trusted([faces[i] for i in indices])[:, None]
                floor = 0.0 if self.appearance_gate is None else self.appearance_gate
                # The gate: a trustworthy face that does not look like the track never joins it
                # (two people crossing, or the next person at the same place).
                allowed &= ~(trusted & (np.nan_to_num(sims, nan=1.0) < floor))
        cost = np.where(allowed, cost, 1e6)
        rows, cols = linear_sum_assignment(cost)
        return [(indices[r], c) for r, c in zip(rows, cols) if allowed[r, c]]

    def _trusted(self, faces: list[Face]) -> np.ndarray:
        return np.array([f.quality is None or f.quality.face_size >= self.gate_min_eye_distance for f in faces])

    @staticmethod
    def _similarities(faces: list[Face], tracks: list[Track]) -> np.ndarray | None:
        if not any(f.embedding is not None for f in faces):
            return None
        sims = np.full((len(faces), len(tracks)), np.nan)
        for j, track in enumerate(tracks):
            if track.embedding is None:
                continue
            for i, face in enumerate(faces):
                if face.embedding is not None and face.embedding.shape == track.embedding.shape:
                    sims[i, j] = float(np.dot(face.embedding, track.embedding))
        return sims

    def _start(self, face: Face, frame_index: int, timestamp: float) -> int:
        track_id = next(self._ids)
        self.total_tracks += 1
        self.tracks[track_id] = Track(
            track_id=track_id, first_frame=frame_index, last_frame=frame_index, first_seen=timestamp,
            last_seen=timestamp, hits=0, box=face.box, score=face.score,
            last_detected_frame=frame_index, camera_id=self.camera_id)
        return track_id

    def _absorb(self, track: Track, face: Face, frame_index: int, timestamp: float) -> None:
        if track.hits:
            gap = max(1, frame_index - track.last_detected_frame)
            new_v = tuple((b - a) / gap for a, b in zip(track.box, face.box))
            track.velocity = tuple(0.5 * v + 0.5 * n for v, n in zip(track.velocity, new_v))  # type: ignore[assignment]
        if track.after_cut:
            track.velocity = (0.0, 0.0, 0.0, 0.0)
            track.after_cut = False
        track.box = face.box
        track.score = face.score
        track.hits += 1
        track.last_frame = frame_index
        track.last_detected_frame = frame_index
        track.last_seen = timestamp
        if face.embedding is not None:
            self._remember(track, face.with_attributes(frame=frame_index, timestamp=timestamp))

    def observe(self, track_id: int, face: Face) -> None:
        """Add an embedded capture to a track after association (embedding only the faces that
        need it is cheaper than embedding every detection before association)."""
        track = self.tracks.get(track_id)
        if track is not None and face.embedding is not None:
            self._remember(track, face.with_attributes(track_id=track_id, frame=track.last_detected_frame,
                                                       timestamp=track.last_seen))

    def wants(self, track_id: int, face: Face) -> bool:
        """Would this capture improve the track's kept set (for deciding what to embed)?"""
        track = self.tracks.get(track_id)
        if track is None:
            return False
        return len(track.captures) < self.keep_best or capture_score(face) > track.captures[-1][0]

    def _remember(self, track: Track, face: Face) -> None:
        if track.embedding is None or track.embedding.shape != face.embedding.shape:
            track.embedding = np.array(face.embedding, dtype=np.float32)
        else:
            mixed = 0.8 * track.embedding + 0.2 * face.embedding
            track.embedding = (mixed / max(float(np.linalg.norm(mixed)), 1e-12)).astype(np.float32)
        track.keep(face if self.keep_crops else face.replace(crop=None), self.keep_best)

    def _expire(self, frame_index: int) -> None:
        for track_id in [tid for tid, t in self.tracks.items()
                         if frame_index - t.last_detected_frame > self.max_age]:
            self._done.append(self.tracks.pop(track_id))


def _frame_of(face: Face) -> int:
    return int(face.attributes.get("frame", 0))


def _mean_direction(vectors: list[np.ndarray]) -> np.ndarray | None:
    if not vectors:
        return None
    mean = np.mean(np.stack(vectors), axis=0)
    return (mean / max(float(np.linalg.norm(mean)), 1e-12)).astype(np.float32)
