"""The access decision: claim → frames → (liveness, verification) → one frozen ``Decision``.

``check(frames, claim=None, policy=..., gallery=...)``:
1. refusals that need no frame: door closed at this hour, unknown/erased claim, locked out;
2. a challenge is drawn at random (or fixed by ``challenge=``) and shown at the first frame;
3. per frame: detect (exactly one face, else tailgating), mesh → challenge cues; every 2nd frame
   (and whenever the face box jumps) embedding → the same face throughout (cosine to an earlier
   frame ≥ ``SAME_FACE``) and the passive score;
   the face may drop out for at most ``MAX_MISSING`` frames; a time-out fails the challenge;
4. the mean of the frame embeddings is matched: 1:1 against the claimed identity's templates,
   1:N against the whole gallery (open-set, same threshold);
5. granted only if nothing refused, liveness passed (as the policy requires) and similarity ≥
   threshold. The decision, reasons and latencies go to the hash-chained audit log; failures
   count towards the lockout; a grant may feed guarded template adaptation.
A camera that fails is a refusal, never an exception.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

import numpy as np

from ..constants import DEFAULT_DETECTOR
from ..detection.base import iou_matrix
from ..errors import BadInputError, NotFoundError, SourceError
from ..gallery.store import utcnow
from . import policy as policy_mod
from .continuity import TrackContinuity
from .liveness_active import CameraTooSlowError, ChallengeTracker, draw_challenge, observe, parse_challenge
from .policy import Policy

SAME_FACE = 0.34  # ≈ LFW FAR 1e-2 point; frames of one live session score ≥ 0.74 to an earlier frame
MAX_MISSING = 3  # consecutive frames without a face before "the face left the view"
MIN_FRAMES = 3  # frames embedded before a decision without an active challenge
SECOND_FACE_RATIO = 0.35  # a second face at least this wide (vs the main one) = tailgating
STAGES = ("detect", "mesh", "embed", "passive", "match")
EMBED_EVERY = 2  # embed (and score passively) every 2nd frame ...
MIN_IOU = 0.3  # ... and on any frame whose face box jumped since the previous frame


@dataclass(frozen=True)
class Liveness:
    passed: bool
    challenge: str
    score: float
    active: float | None = None  # fraction of challenge steps done (None = not required)
    passive: float | None = None  # mean P(bona fide) over frames (None = not required)

    def to_dict(self) -> dict[str, Any]:
        out = {"passed": self.passed, "challenge": self.challenge, "score": round(float(self.score), 4)}
        if self.active is not None:
            out["active"] = round(self.active, 4)
        if self.passive is not None:
            out["passive"] = round(self.passive, 4)
        return out


@dataclass(frozen=True)
class Decision:
    granted: bool
    identity: str | None
    similarity: float
    threshold: float
    liveness: Liveness
    reasons: tuple[str, ...] = ()
    door: str = policy_mod.DEFAULT_DOOR
    claim: str | None = None
    frames: int = 0
    latency_ms: Mapping[str, float] = field(default_factory=dict)
    audit_seq: int | None = None
    adaptation: str | None = None

    def __post_init__(self) -> None:
        if self.granted and self.reasons:
            raise ValueError("a granted decision cannot carry refusal reasons")
        object.__setattr__(self, "reasons", tuple(self.reasons))
        object.__setattr__(self, "latency_ms", MappingProxyType(dict(self.latency_ms)))

    def to_dict(self) -> dict[str, Any]:
        sim = self.similarity if np.isfinite(self.similarity) else -1.0
        return {
            "granted": self.granted, "identity": self.identity, "similarity": round(float(sim), 4),
            "threshold": round(float(self.threshold), 4), "liveness": self.liveness.to_dict(),
            "reasons": list(self.reasons), "door": self.door, "claim": self.claim, "frames": self.frames,
            "latency_ms": {k: round(v, 2) for k, v in self.latency_ms.items()}, "audit_seq": self.audit_seq,
            "adaptation": self.adaptation,
        }


@dataclass
class _Session:
    """What the frames taught us so far."""

    embeddings: list[np.ndarray] = field(default_factory=list)
    passive: list[float] = field(default_factory=list)
    problems: list[list[str]] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=lambda: {s: 0.0 for s in STAGES})
    frames: int = 0
    seen_face: bool = False
    missing: int = 0
    face_crop: np.ndarray | None = None
    last_box: tuple | None = None
    continuity: TrackContinuity = field(default_factory=TrackContinuity)  # swaps, cuts, spliced streams


def _frames(source: Any, fps: float) -> Iterable[tuple[float, np.ndarray]]:
    for index, item in enumerate(source):
        t, rgb = (float(item.timestamp), item.image) if hasattr(item, "image") else (index / fps, np.asarray(item))
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8 or min(rgb.shape[:2]) < 16:
            raise BadInputError(f"frame {index} is not an H×W×3 uint8 RGB image (shape {rgb.shape}, {rgb.dtype})")
        yield t, rgb


def check(
    frames: Iterable[Any],
    claim: str | None = None,
    policy: Policy | str | None = None,
    *,
    gallery,
    challenge: str | None = None,
    now: datetime | None = None,
    fps: float = 15.0,
    detector: str = DEFAULT_DETECTOR,
    rng=None,
    announce=None,
) -> Decision:
    """Decide one access attempt. ``frames``: RGB arrays, ``video.sources.Frame`` records or a
    ``VideoSource``; ``policy``: a Policy, a door name (stored policy) or None (door 'default');
    ``announce(challenge)`` is called before the first frame is read (show it to the person)."""
    started = time.perf_counter()
    if not isinstance(policy, Policy):
        door = policy or policy_mod.DEFAULT_DOOR  # a named door without a policy is an error, not the default
        policy = policy_mod.get_policy(gallery, door, missing_ok=door == policy_mod.DEFAULT_DOOR)
    policy = policy.resolved()
    now = now or utcnow()
    steps, too_slow = parse_challenge(challenge) if challenge else (), None
    if policy.requires_active and not steps:
        try:
            steps = draw_challenge(policy.challenges, policy.sequence_length, rng, fps=_known_fps(frames, fps))
        except CameraTooSlowError as exc:  # the camera, not the person: refused, not counted as a failure
            too_slow = str(exc)
    tracker = ChallengeTracker(steps, policy.challenge_timeout_s) if policy.requires_active and steps else None
    shown = tracker.name if tracker else "none"
    reasons: list[str] = []
    templates = None

    def refuse(why: str, identity: str | None = None, session: _Session | None = None,
               count_failure: bool = False) -> Decision:
        return _finish(gallery, policy, claim, identity, float("-inf"), Liveness(False, shown, 0.0), [why],
                       session or _Session(), started, now, count_failure)

    if not policy.open_at(now):
        return refuse(f"door {policy.door!r} is closed at {now:%H:%M} UTC (allowed {', '.join(policy.allowed_hours)})")
    if too_slow:
        return refuse(too_slow)
    if claim is not None:
        from .templates import identity_templates

        try:
            templates = identity_templates(gallery, claim, policy.model)
        except NotFoundError:
            return refuse(f"unknown or erased identity {claim!r}")
        if not templates:
            return refuse(f"identity {claim!r} has no {policy.model} templates")
        state = policy_mod.lock_state(gallery, claim, policy.door)
        if state.locked(now):
            return refuse(f"{claim!r} is locked out of door {policy.door!r} until {state.locked_until:%Y-%m-%d %H:%M:%S} UTC "
                          f"after {policy.max_failures} failed attempts", identity=None)

    if announce is not None and tracker is not None:
        announce(tracker.name)  # show the challenge before the frames it is judged on
    session = _Session()
    try:
        first_t = None
        for t, rgb in _frames(frames, fps):
            first_t = t if first_t is None else first_t
            if t - first_t > policy.challenge_timeout_s and (tracker is None or not session.seen_face):
                break  # a camera that keeps delivering frames without a face
            why = _frame(rgb, t, session, tracker, policy, detector)
            if why:
                return refuse(why, session=session)
            if tracker is not None and tracker.state != "pending":
                break
            if tracker is None and len(session.embeddings) >= MIN_FRAMES:
                break
            if tracker is None and t > policy.challenge_timeout_s:
                break
    except SourceError as exc:
        return refuse(f"camera failure: {exc}", session=session)
    except BadInputError as exc:  # a frame that is not an image: the camera is broken, not the person
        return refuse(f"camera failure: unusable frame ({exc})", session=session)
    if not session.seen_face:
        return refuse("no face in view" if session.frames else "camera failure: no frames", session=session)
    if len(session.problems) < MIN_FRAMES:  # one frame (or two) proves nothing about a live face
        return refuse(f"too few frames with a face ({len(session.problems)} < {MIN_FRAMES})", session=session)
    if tracker is not None:
        tracker.finish()

    # liveness
    active = tracker.score if tracker is not None else None
    passive = float(np.mean(session.passive)) if session.passive else None
    live = True
    if tracker is not None and tracker.state != "passed":
        live = False
        reasons.append(f"liveness: {tracker.reason}")
    if policy.requires_passive:
        if passive is None or passive < policy.passive_threshold:
            live = False
            reasons.append(f"liveness: passive score {passive if passive is not None else float('nan'):.2f} "
                           f"< {policy.passive_threshold} (looks like a print or screen)")
    parts = [v for v in (active, passive) if v is not None]
    liveness = Liveness(live, shown, min(parts) if parts else 1.0, active, passive)

    # verification / identification
    begin = time.perf_counter()
    probe = np.mean(np.stack(session.embeddings), axis=0)
    probe = probe / max(float(np.linalg.norm(probe)), 1e-12)
    identity, similarity = None, float("-inf")
    if claim is not None:
        from .templates import best_similarity

        similarity = best_similarity(templates, probe)
        identity = claim if similarity >= policy.threshold else None
        if identity is None:
            reasons.append(f"face does not match {claim!r} (similarity {similarity:.3f} < {policy.threshold:.3f})")
    else:
        found = gallery.search([probe], policy.model, top_k=2, threshold=policy.threshold)[0]
        similarity = found.similarity
        identity = found.identity
        if identity is None:
            reasons.append(f"unknown person (best similarity {similarity:.3f} < {policy.threshold:.3f})")
        else:
            state = policy_mod.lock_state(gallery, identity, policy.door)
            if state.locked(now):
                reasons.append(f"{identity!r} is locked out of door {policy.door!r} until {state.locked_until:%H:%M:%S} UTC")
    session.timings["match"] += (time.perf_counter() - begin) * 1000
    subject = identity or claim
    decision = _finish(gallery, policy, claim, identity, similarity, liveness, reasons, session, started, now,
                       count_failure=subject is not None, subject=subject, probe=probe)
    if decision.granted and policy.adaptation:
        from . import adaptation

        verdict = adaptation.propose(gallery, identity, probe, similarity, model=policy.model,
                                     quality_problems=session.problems[-1] if session.problems else (),
                                     context={"door": policy.door, "decision_seq": decision.audit_seq})
        decision = _replace(decision, adaptation="added" if verdict.accepted else "; ".join(verdict.reasons))
    return decision


def _known_fps(frames: Any, fps: float) -> float | None:
    """The capture rate before the first frame is read, decided by what the items are: a
    source's own rate; for a list of ``Frame`` records (they carry their timestamps), the median
    gap between those; for a list of arrays ``fps`` (their timestamps are index / ``fps``). None
    when that cannot be told without reading a frame (an iterator: the challenge must be shown
    first; the tracker then measures the rate from the frames' timestamps)."""
    if hasattr(frames, "fps"):
        return float(frames.fps) if frames.fps else None
    if not isinstance(frames, (list, tuple)):
        return None
    stamped = [hasattr(item, "image") for item in frames]  # as _frames tells them apart
    if not any(stamped):
        return float(fps)
    if not all(stamped):
        return None  # a mixed list: leave it to the tracker
    times = [float(item.timestamp) for item in frames]
    gaps = [b - a for a, b in zip(times, times[1:]) if b > a]
    return 1.0 / float(np.median(gaps)) if gaps else None


def _replace(decision: Decision, **changes) -> Decision:
    import dataclasses

    return dataclasses.replace(decision, **changes)


def _frame(rgb: np.ndarray, t: float, s: _Session, tracker: ChallengeTracker | None, policy: Policy,
           detector: str) -> str | None:
    """Process one frame; a refusal reason, or None to go on."""
    from ..attributes.mesh import face_mesh
    from ..pipeline import detect_rgb, embed_faces

    s.frames += 1
    begin = time.perf_counter()
    faces = detect_rgb(rgb, detector, keep_crop=True)
    s.timings["detect"] += (time.perf_counter() - begin) * 1000
    if not faces:
        why = s.continuity.step(rgb.shape, None)  # a frame of another size: a spliced stream
        if why:
            return why
        if s.seen_face:
            s.missing += 1
            if s.missing > MAX_MISSING:
                return "the face left the view during the challenge"
        return None
    s.missing = 0
    main = max(faces, key=lambda f: f.area)
    others = [f for f in faces if f is not main and f.width >= SECOND_FACE_RATIO * main.width]
    if others:
        return f"{len(others) + 1} faces in view: one person at a time (tailgating)"
    s.seen_face = True
    # Embedding is the dearest stage: every EMBED_EVERY-th frame, and on any frame whose face box
    # does not overlap the previous one (a swap between two embedded frames would have to keep
    # the box in place within 1/15 s).
    moved = s.last_box is None or iou_matrix(np.array([s.last_box]), np.array([main.box]))[0, 0] < MIN_IOU
    s.last_box = main.box
    embed_now = moved or not s.embeddings or s.frames % EMBED_EVERY == 0
    if embed_now:
        begin = time.perf_counter()
        embedded = embed_faces(rgb, [main], policy.model)[0]
        s.timings["embed"] += (time.perf_counter() - begin) * 1000
        vector = embedded.embedding
        # a swap is abrupt: the new face resembles none of the frames before it (a head turn is
        # gradual, so a live face resembles its earlier frames: ≥ 0.74 on the Hamilton clip's turns)
        if s.embeddings and float(np.max(np.stack(s.embeddings) @ vector)) < SAME_FACE:
            return "a different face appeared during the challenge"
        s.embeddings.append(vector)
    why = s.continuity.step(rgb.shape, main.box, vector if embed_now else None)  # continuity.py
    if why:
        return why
    s.problems.append(main.quality.problems() if main.quality else [])
    if policy.keep_images and s.face_crop is None and main.crop is not None:
        s.face_crop = np.array(main.crop)
    if policy.requires_passive and embed_now:
        from .liveness_passive import passive_score

        begin = time.perf_counter()
        s.passive.append(passive_score(rgb, main))
        s.timings["passive"] += (time.perf_counter() - begin) * 1000
    if tracker is not None and tracker.state == "pending":
        begin = time.perf_counter()
        points = face_mesh(rgb, main)
        happy = None
        if tracker.needs_emotion:
            from ..attributes.emotion import predict_emotions

            happy = predict_emotions(rgb, [main])[0]["probs"].get("happy")
        eyes = None
        if tracker.needs_eyes:
            from ..attributes.mesh import eye_opening

            eyes = eye_opening(rgb, points)
        tracker.update(observe(points, t, happy, eyes))
        s.timings["mesh"] += (time.perf_counter() - begin) * 1000
    return None


def _finish(gallery, policy: Policy, claim: str | None, identity: str | None, similarity: float,
            liveness: Liveness, reasons: list[str], session: _Session, started: float, now: datetime,
            count_failure: bool = False, subject: str | None = None, probe: np.ndarray | None = None) -> Decision:
    granted = not reasons and liveness.passed and identity is not None and similarity >= policy.threshold
    if not granted and not reasons:
        reasons = ["not granted"]
    if granted:
        reasons = []
    latency = dict(session.timings)
    latency["total"] = (time.perf_counter() - started) * 1000
    if session.frames:
        latency["per_frame"] = sum(session.timings[s] for s in STAGES) / session.frames
    subject = subject if subject is not None else claim
    details = {
        "door": policy.door, "claim": claim, "granted": granted, "identity": identity if granted else None,
        "similarity": round(float(similarity), 4) if np.isfinite(similarity) else None,
        "threshold": round(float(policy.threshold), 4), "threshold_source": policy.threshold_source,
        "liveness": liveness.to_dict(), "reasons": list(reasons), "frames": session.frames,
        "latency_ms": {k: round(v, 1) for k, v in latency.items()},
    }
    if policy.keep_images and session.face_crop is not None:
        details["face_image"] = _sealed_png(gallery, session.face_crop, subject)
    with gallery.change() as change:  # the decision, its lockout count and audit entries: one transaction
        entry = change.audit("access.decision", subject, details)
        if count_failure and subject is not None:
            state = policy_mod.record_outcome(change.session, subject, policy, granted, now)
            if state.locked_until is not None and not granted and state.failures == policy.max_failures:
                change.audit("access.lockout", subject, {
                    "door": policy.door, "failures": state.failures,
                    "locked_until": state.locked_until.isoformat() + "Z"})
    return Decision(granted, identity if granted else None, similarity, float(policy.threshold), liveness,
                    tuple(reasons), policy.door, claim, session.frames, latency, entry.seq)


def _sealed_png(gallery, crop: np.ndarray, subject: str | None) -> str:
    """Face crop as PNG, encrypted with the gallery key (only when the policy asks for images)."""
    import cv2

    ok, buf = cv2.imencode(".png", cv2.cvtColor(crop, cv2.COLOR_RGB2BGR))
    return base64.b64encode(gallery.seal(buf.tobytes() if ok else b"", f"access-image|{subject}")).decode()
