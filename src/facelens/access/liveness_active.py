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

Photo swaps (``continuity.py``): every step must be reached *gradually*. A turn or smile may not
get there by one frame that covers most of the way while the frames around it barely move
(``continuity.gradual_step``: a swap of two still photos); a blink's closing episode must hold
a frame between closed and open (``continuity.gradual_blink``). A jump is not counted and the
refusal says so. A turn must also move the mesh as a 3-D face, not as a plane under a
homography (``continuity.planarity_residual`` ≥ ``MIN_TURN_RESIDUAL``). A blink needs ≥
``MIN_BLINK_FPS`` (25) frames per second to be seen reliably: at 15 fps one real blink in three
falls between frames and looks like a jump, so below that rate blink is not drawn, and refused
with the reason when it is asked for, or when without it the door has too few challenges left
for its sequence length (docs/access.md).

Limits: the blink cue comes from single eye crops, so a squint or a glance down can count as a
closing; a replayed *video* of the person doing the asked action has real intermediate frames and
is left to the passive score; a slideshow that cross-fades two photos makes intermediate frames
too (measured in docs/access.md).
"""

from __future__ import annotations

import math
import random
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..errors import BadInputError
from . import continuity

CHALLENGES = ("blink", "turn_left", "turn_right", "smile")
BASELINE_FRAMES = 3
TURN_DEGREES = 15.0
SMILE_HAPPY = 0.6
SMILE_WIDEN = 1.08
BLINK_DROP = 0.25  # eye opening below (1 − drop) × baseline counts as closed
BLINK_REOPEN = 0.9  # then back above 0.9 × baseline
# A blink's lids close and reopen in 100–300 ms. At 15 fps a real blink often shows no frame
# between open and closed (presenter clip: 5 of 16 15-fps blink runs, 0 of 8 at 30 fps), which is
# exactly what a swap of an open- and a closed-eyes photo shows, so below this capture rate the
# blink challenge is not offered, and refused with this reason when it is asked for.
MIN_BLINK_FPS = 25.0
# The capture rate is judged on this many frames: the median of their 4 gaps is moved neither by
# one jittered timestamp nor by one frame without a face (a double gap); no blink can be counted
# before it (3 baseline frames, then ≥ 2 lids on the way, the closed minimum and a reopening).
RATE_FRAMES = 5
# least measurement noise assumed per cue (absolute: yaw in degrees, mouth width / eye distance;
# eye opening: a share of the open level) — the spread of the rest frames counts when larger
NOISE_FLOOR = {"eye_opening": 0.02, "mouth_width": 0.005, "yaw": 1.0}


@dataclass(frozen=True)
class Observation:
    """Liveness cues of one frame. ``happy`` is None when the emotion model was not run."""

    t: float
    eye_opening: float  # lid gap / eye width, both eyes' mean
    yaw: float
    mouth_width: float
    happy: float | None = None
    points: np.ndarray | None = None  # the 468×3 mesh (for the head turn's 3-D check)


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
                       None if happy is None else float(happy), points)


def parse_challenge(text: str) -> tuple[str, ...]:
    """'smile' or a sequence 'turn_left+blink' (also accepts '-' for '_')."""
    steps = tuple(s.strip().lower().replace("-", "_") for s in str(text).split("+") if s.strip())
    bad = [s for s in steps if s not in CHALLENGES]
    if not steps or bad:
        raise BadInputError(f"unknown challenge {text!r}: use one of {', '.join(CHALLENGES)} or a sequence like turn_left+smile")
    return steps


class CameraTooSlowError(BadInputError):
    """The capture rate rules out blink and the door's other challenges are too few for its
    sequence length: the attempt is refused (never a shorter challenge than the door asks for)."""


def draw_challenge(choices: Sequence[str] = CHALLENGES, length: int = 1,
                   rng: random.Random | None = None, fps: float | None = None) -> tuple[str, ...]:
    """``length`` distinct random steps from ``choices``; unpredictable by default (``secrets``).
    ``fps``: the capture rate when known; below ``MIN_BLINK_FPS`` blink is left out, and when
    the other choices are fewer than ``length`` this raises ``CameraTooSlowError``."""
    rng = rng or secrets.SystemRandom()
    pool = list(dict.fromkeys(choices))
    if fps is not None and fps < MIN_BLINK_FPS and "blink" in pool:
        pool = [c for c in pool if c != "blink"]
        if len(pool) < length:
            raise CameraTooSlowError(
                f"camera too slow for this door's challenges: {fps:.0f} frames/s, and a blink needs ≥ "
                f"{MIN_BLINK_FPS:g}; without blink the door's challenges ({', '.join(choices)}) leave "
                f"{len(pool)} of the {length} steps it asks for: use turn challenges or a ≥ {MIN_BLINK_FPS:g} fps camera")
    if len(pool) < length:
        raise BadInputError(f"a {length}-step challenge needs {length} distinct challenges, got {len(pool)}")
    return tuple(rng.sample(pool, length))


@dataclass
class ChallengeTracker:
    """Feed observations in time order; ``state`` becomes 'passed' or 'failed' (time-out).
    ``notes`` collects why a step that looked done was not counted (a jump, a flat turn)."""

    steps: tuple[str, ...]
    timeout_s: float = 6.0
    state: str = "pending"
    done: list[str] = field(default_factory=list)
    reason: str = ""
    notes: list[str] = field(default_factory=list)
    _history: list[Observation] = field(default_factory=list)
    _step_start: int = 0
    _closed_at: int | None = None
    _episode: list[float] = field(default_factory=list)  # eye openings since the eyes left "open"
    _open: list[float] = field(default_factory=list)  # eye openings of this step's frames at the open level

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
        if self._blink_too_slow():
            return self.state
        if obs.t - self._history[0].t > self.timeout_s:
            self.state, self.reason = "failed", f"challenge {self.name} not completed within {self.timeout_s:g} s"
            if self.notes:
                self.reason += "; " + "; ".join(self.notes)
            return self.state
        if len(self._history) <= BASELINE_FRAMES:
            self._step_start = len(self._history)
            return self.state
        base = self._baseline()
        step = self.steps[len(self.done)]
        if self._step_done(step, obs, base):
            self.done.append(step)
            self._step_start, self._closed_at, self._episode, self._open = len(self._history), None, [], []
            if len(self.done) == len(self.steps):
                self.state = "passed"
        return self.state

    def capture_fps(self) -> float | None:
        """Frames per second from the median interval between the observations so far (one
        jittered timestamp cannot make a slow camera look fast; a frame without a face, a
        longer gap, cannot make it look slow); None before two of them."""
        gaps = [b.t - a.t for a, b in zip(self._history, self._history[1:]) if b.t > a.t]
        return 1.0 / float(np.median(gaps)) if gaps else None

    def _blink_too_slow(self) -> bool:
        """A pending blink step at a capture rate below ``MIN_BLINK_FPS`` fails at once, with a
        reason the person and the operator can act on (measured over the first ``RATE_FRAMES``)."""
        if len(self._history) != RATE_FRAMES or "blink" not in self.steps[len(self.done):]:
            return False
        rate = self.capture_fps()
        if rate is None or rate >= MIN_BLINK_FPS:
            return False
        self.state = "failed"
        self.reason = (f"the camera delivers {rate:.0f} frames/s; a blink challenge needs ≥ {MIN_BLINK_FPS:g} to see "
                       "the eyelids move (slower, a blink cannot be told from a photo swap): use a turn challenge "
                       "or a faster camera")
        return True

    def _note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def _window(self) -> list[Observation]:
        """This step's frames: from the start (baseline included) for the first step, from the
        frame that completed the previous step otherwise."""
        return self._history[self._step_start - 1:] if self.done else self._history

    def _crossing(self, met: bool, cue: str, base: float, step: str) -> bool:
        """True on a frame meeting the step's condition if the cue got there gradually
        (``continuity.gradual_step`` over this step's frames so far; judged again on each such
        frame, as a slow action shows its ramp more clearly later); a jump is noted."""
        if not met:
            return False
        window = self._window()
        start = getattr(window[0], cue) if self.done else base  # a sequence's step starts where the last ended
        if continuity.gradual_step([getattr(o, cue) for o in window], start, floor=NOISE_FLOOR[cue]):
            return True
        self._note(f"{step}: the face jumped to it between two frames with no frame in between (a photo swap?)")
        return False

    def _step_done(self, step: str, obs: Observation, base: dict[str, float]) -> bool:
        if step in ("turn_left", "turn_right"):  # yaw > 0 when the subject turns to their left
            change = obs.yaw - base["yaw"] if step == "turn_left" else base["yaw"] - obs.yaw
            if self._crossing(change >= TURN_DEGREES, "yaw", base["yaw"], step):
                return self._turn_is_3d(obs, base, step)
            return False
        if step == "smile":
            if obs.happy is None or math.isnan(base["happy"]):
                return False
            met = (base["happy"] < 0.5 and obs.happy >= SMILE_HAPPY
                   and obs.mouth_width >= base["mouth_width"] * SMILE_WIDEN)
            return self._crossing(met, "mouth_width", base["mouth_width"], step)
        if step == "blink":
            return self._blink(obs, base["eye_opening"])
        raise BadInputError(f"unknown challenge step {step!r}")

    def _blink(self, obs: Observation, base: float) -> bool:
        if obs.eye_opening < base * BLINK_REOPEN:
            self._episode.append(obs.eye_opening)
            if self._closed_at is None and obs.eye_opening <= base * (1.0 - BLINK_DROP):
                self._closed_at = len(self._history)
            return False
        episode, closed, self._episode, self._closed_at = self._episode, self._closed_at, [], None
        open_values = self._open + [o.eye_opening for o in self._history[:BASELINE_FRAMES] if not self.done]
        self._open.append(obs.eye_opening)
        if closed is None:
            return False  # the eyes never closed far enough: not a blink
        if continuity.gradual_blink(open_values, episode, floor=NOISE_FLOOR["eye_opening"]):
            return True
        self._note(f"blink: fewer than {continuity.MIN_WAY_FRAMES} frames showed the lids on their way between open "
                   "and closed in one dip (a photo swap?)")
        return False

    def _turn_is_3d(self, obs: Observation, base: dict[str, float], step: str) -> bool:
        """The turned mesh against the baseline frame nearest the baseline yaw: a flat print
        moves by a homography and leaves (almost) nothing over."""
        reference = min(self._history[:BASELINE_FRAMES], key=lambda o: abs(o.yaw - base["yaw"]))
        if obs.points is None or reference.points is None:
            return True  # numbers only (tests of the state machine): no mesh to check
        residual = continuity.planarity_residual(reference.points, obs.points)
        if residual >= continuity.MIN_TURN_RESIDUAL:
            return True
        self._note(f"{step}: the face moved as a flat picture (homography residual {residual:.3f} < "
                   f"{continuity.MIN_TURN_RESIDUAL}: a photo turned in front of the camera?)")
        return False

    def finish(self) -> str:
        """No more frames: a pending challenge fails."""
        if self.state == "pending":
            self.state = "failed"
            self.reason = (f"challenge {self.name} not completed ({len(self.done)}/{len(self.steps)} steps) "
                           f"in {len(self._history)} frames")
            if self.notes:
                self.reason += "; " + "; ".join(self.notes)
        return self.state

    @property
    def needs_emotion(self) -> bool:
        return "smile" in self.steps

    @property
    def needs_eyes(self) -> bool:
        return "blink" in self.steps
