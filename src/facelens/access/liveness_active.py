"""Active liveness: a random challenge (blink, turn left, turn right, smile, or a short sequence)
checked on the frames that follow, from face-mesh landmarks.

Everything here works on plain numbers per frame (``Observation``), so it is testable without a
model: ``observe(points, t, happy, eyes)`` turns a 468×3 mesh (``attributes.mesh``) and, for a
blink, the iris model's eye opening (``attributes.mesh.eye_opening``) into one.

Every cue is measured *relative to the subject's own baseline* (the first ``BASELINE_FRAMES``
frames after the challenge is shown), because absolute values vary between people and cameras
(open-eye opening 0.25–0.40 between ORL subjects). A still photo, however it is
chosen, shows no change from its own baseline and times out. Thresholds (measured on real frames,
see docs/access.md): a turn is a yaw change of ≥ ``TURN_DEGREES`` in the asked direction (the
Hamilton clip's real turns reach 25–40°); a smile is the emotion model's happy probability
rising from < 0.5 to ≥ ``SMILE_HAPPY`` together with the mouth widening by ≥ ``SMILE_WIDEN``
(ORL neutral → smiling images of one person: width ratio +20–28 %); a blink is the eye opening
(lid gap / eye width, from the iris model's lid contour) dropping ≥ ``BLINK_DROP`` below baseline
and reopening (ORL: the 13 eyes-closed images fall to 0.21–0.72 of the person's open-eye median,
6 of 382 open ones below 0.75 — `facelens eval blink`, docs/access.md "Blink").

Limits: the blink cue comes from single eye crops, so a squint or a glance down can count as a
closing; a photo bent or rotated in front of the camera can fake a turn (the passive score and a
sequence of challenges are the defence).
"""

from __future__ import annotations

import math
import random
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..errors import BadInputError

CHALLENGES = ("blink", "turn_left", "turn_right", "smile")
BASELINE_FRAMES = 3
TURN_DEGREES = 15.0
SMILE_HAPPY = 0.6
SMILE_WIDEN = 1.08
BLINK_DROP = 0.25  # eye opening below (1 − drop) × baseline counts as closed
BLINK_REOPEN = 0.9  # then back above 0.9 × baseline


@dataclass(frozen=True)
class Observation:
    """Liveness cues of one frame. ``happy`` is None when the emotion model was not run."""

    t: float
    eye_opening: float  # lid gap / eye width, both eyes' mean
    yaw: float
    mouth_width: float
    happy: float | None = None


def observe(points: np.ndarray, t: float, happy: float | None = None,
            eyes: dict[str, float] | None = None) -> Observation:
    """``eyes``: ``attributes.mesh.eye_opening`` of this frame; without it the mesh's own eye
    aspect ratio stands in (fine for turn and smile, too weak for blink — see the module doc).
    Use one source for all frames of a challenge: the cues are compared with their baseline."""
    from ..attributes.mesh import eye_aspect_ratio, mouth_width_ratio, yaw_degrees

    points = np.asarray(points, dtype=np.float32)
    if points.shape[0] < 468 or points.shape[1] < 3:
        raise BadInputError(f"face mesh must be 468×3 points, got {points.shape}")
    opening = float(np.mean(list(eyes.values()))) if eyes else eye_aspect_ratio(points)
    return Observation(float(t), opening, yaw_degrees(points), mouth_width_ratio(points),
                       None if happy is None else float(happy))


def parse_challenge(text: str) -> tuple[str, ...]:
    """'smile' or a sequence 'turn_left+blink' (also accepts '-' for '_')."""
    steps = tuple(s.strip().lower().replace("-", "_") for s in str(text).split("+") if s.strip())
    bad = [s for s in steps if s not in CHALLENGES]
    if not steps or bad:
        raise BadInputError(f"unknown challenge {text!r}: use one of {', '.join(CHALLENGES)} or a sequence like turn_left+smile")
    return steps


def draw_challenge(choices: Sequence[str] = CHALLENGES, length: int = 1,
                   rng: random.Random | None = None) -> tuple[str, ...]:
    """A random challenge (distinct steps); unpredictable by default (``secrets``)."""
    rng = rng or secrets.SystemRandom()
    pool = list(dict.fromkeys(choices))
    return tuple(rng.sample(pool, min(length, len(pool))))


@dataclass
class ChallengeTracker:
    """Feed observations in time order; ``state`` becomes 'passed' or 'failed' (time-out)."""

    steps: tuple[str, ...]
    timeout_s: float = 6.0
    state: str = "pending"
    done: list[str] = field(default_factory=list)
    reason: str = ""
    _history: list[Observation] = field(default_factory=list)
    _step_start: int = 0
    _closed_at: int | None = None

    def __post_init__(self) -> None:
        self.steps = parse_challenge("+".join(self.steps))

    @property
    def name(self) -> str:
        return "+".join(self.steps)

    @property
    def score(self) -> float:
        """Fraction of the challenge's steps completed (1.0 = passed)."""
        return len(self.done) / len(self.steps)

    def _baseline(self) -> dict[str, float]:
        first = self._history[:BASELINE_FRAMES]
        happy = [o.happy for o in first if o.happy is not None]
        return {
            "eye_opening": float(np.median([o.eye_opening for o in first])),
            "yaw": float(np.median([o.yaw for o in first])),
            "mouth_width": float(np.median([o.mouth_width for o in first])),
            "happy": float(np.median(happy)) if happy else math.nan,
        }

    def update(self, obs: Observation) -> str:
        if self.state != "pending":
            return self.state
        self._history.append(obs)
        if obs.t - self._history[0].t > self.timeout_s:
            self.state, self.reason = "failed", f"challenge {self.name} not completed within {self.timeout_s:g} s"
            return self.state
        if len(self._history) <= BASELINE_FRAMES:
            self._step_start = len(self._history)
            return self.state
        base = self._baseline()
        step = self.steps[len(self.done)]
        if self._step_done(step, obs, base):
            self.done.append(step)
            self._step_start, self._closed_at = len(self._history), None
            if len(self.done) == len(self.steps):
                self.state = "passed"
        return self.state

    def _step_done(self, step: str, obs: Observation, base: dict[str, float]) -> bool:
        if step == "turn_left":  # yaw > 0 when the subject turns to their left
            return obs.yaw - base["yaw"] >= TURN_DEGREES
        if step == "turn_right":
            return base["yaw"] - obs.yaw >= TURN_DEGREES
        if step == "smile":
            if obs.happy is None or math.isnan(base["happy"]):
                return False
            return (base["happy"] < 0.5 and obs.happy >= SMILE_HAPPY
                    and obs.mouth_width >= base["mouth_width"] * SMILE_WIDEN)
        if step == "blink":
            if self._closed_at is None:
                if obs.eye_opening <= base["eye_opening"] * (1.0 - BLINK_DROP):
                    self._closed_at = len(self._history)
                return False
            return obs.eye_opening >= base["eye_opening"] * BLINK_REOPEN
        raise BadInputError(f"unknown challenge step {step!r}")

    def finish(self) -> str:
        """No more frames: a pending challenge fails."""
        if self.state == "pending":
            self.state = "failed"
            self.reason = (f"challenge {self.name} not completed ({len(self.done)}/{len(self.steps)} steps) "
                           f"in {len(self._history)} frames")
        return self.state

    @property
    def needs_emotion(self) -> bool:
        return "smile" in self.steps

    @property
    def needs_eyes(self) -> bool:
        return "blink" in self.steps
