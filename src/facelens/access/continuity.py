"""Cues a photo cannot fake during an access attempt: one continuous face track, challenge cues
that pass through intermediate values, and a head turn that moves like a 3-D face.

A photo-swap attack shows a still photo for the baseline (eyes open, neutral, frontal) and then a
second photo of the same person (eyes closed, smiling, turned). Each photo is a still, so the
challenge cue *jumps* between two frames; a live face gets there through intermediate frames
(a blink's lids close and reopen over 100–300 ms, 2–5 frames at 15 fps; a smile or a head turn
takes longer). Three checks, all measured on real frames (docs/access.md "Photo swaps"):

- **track continuity** (``TrackContinuity``, every frame): the frame size never changes (a
  camera does not change resolution mid-attempt; a spliced stream does), the face box moves at
  most ``MAX_SHIFT`` face widths and changes its width at most ``MAX_SCALE_STEP``× per frame, and
  each embedded frame resembles the previous embedded one (cosine ≥ ``MIN_STEP_COSINE``).
  Measured on real video: the Hamilton clip's stage performer (the fastest mover in the test data)
  moves ≤ 0.24 widths and ≤ 1.11× per 15-fps frame, and consecutive embedded frames (2 frames
  apart) score ≥ 0.60; the presenter clip ≥ 0.88. These limits stop a careless swap (the face
  jumps across the frame, another person); two well-aligned photos of one person score 0.58–0.92
  (ORL), like live frames, so the next check is the one that stops an aligned swap.
- **gradual cues** (``gradual_step`` for a turn's yaw and a smile's mouth width,
  ``gradual_blink`` for the eye opening; used by ``ChallengeTracker``): a turn or smile may not
  get past halfway in one frame that covers ≥ ``JUMP_SHARE`` of the way at ≥ ``JUMP_RATIO`` ×
  the neighbouring frame-to-frame changes; a blink's closing episode must hold a frame between
  the closed minimum and the open level, ≥ ``NOISE_K`` × the open frames' spread from both.
  Tuned on cue traces of development attacks (``attacks.simulate``, seed 100, never the held-out
  simulator) and the real live clips; the trade-off is in docs/access.md ("Photo swaps").
- **3-D consistency of a head turn** (``planarity_residual``): map the baseline mesh onto the
  turned mesh with the best homography; a flat print (turned or tilted) moves by a homography,
  so what is left over is the mesh's noise. Live turns leave ≥ 0.047 eye distances on the first
  frame past 15° (Hamilton clip, every capture band) and more as they go on; flat prints turned
  by up to 40° leave ≤ 0.046, and their mesh yaw changes by ≤ 7°, so they do not reach the 15°
  turn in the first place.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

MAX_SHIFT = 0.5  # face widths per frame (Hamilton clip at 15 fps: ≤ 0.24)
MAX_SCALE_STEP = 1.35  # face width ratio per frame (Hamilton: ≤ 1.11)
MIN_STEP_COSINE = 0.45  # consecutive embedded frames (Hamilton, 2 frames apart: ≥ 0.60)
MIDDLE_SHARE = 0.2  # an intermediate eye opening lies at least this share of the depth from both ends ...
NOISE_K = 4.0  # ... and this many noise standard deviations (of the open-eye frames)
# Lids take ≥ 100 ms to close and reopen: at ≥ 25 fps (liveness_active.MIN_BLINK_FPS) a blink
# leaves at least two frames on the way (every 30-fps run of both presenter blinks, every band);
# one odd frame can be a closed photo's own jitter (ORL s27 at 640 px passed that way at 15 fps).
MIN_WAY_FRAMES = 2
JUMP_SHARE = 0.6  # a turn or smile "jumps" when one frame covers this share of the way ...
JUMP_RATIO = 2.0  # ... and this many times every neighbouring frame-to-frame change
MIN_TURN_RESIDUAL = 0.045  # eye distances; live turns ≥ 0.047 on the first frame past 15°, flat prints ≤ 0.046 (and no 15° yaw)
RIGHT_EYE_OUTER, LEFT_EYE_OUTER = 33, 263  # mesh indices, for the eye distance


@dataclass
class TrackContinuity:
    """Feed every frame's main face in order; ``step`` returns a refusal reason or None."""

    max_shift: float = MAX_SHIFT
    max_scale_step: float = MAX_SCALE_STEP
    min_step_cosine: float = MIN_STEP_COSINE
    frame_shape: tuple[int, ...] | None = None
    last_box: tuple[float, float, float, float] | None = None
    last_embedding: np.ndarray | None = None
    frames_since_face: int = 0
    worst_cosine: float = 1.0
    worst_shift: float = 0.0

    def step(self, frame_shape: Sequence[int], box: Sequence[float] | None,
             embedding: np.ndarray | None = None) -> str | None:
        """One frame: its shape, the main face's box (None: no face) and, when the frame was
        embedded, the face's L2-normalised embedding."""
        shape = tuple(int(v) for v in frame_shape)
        if self.frame_shape is None:
            self.frame_shape = shape
        elif shape != self.frame_shape:
            return (f"the frame size changed during the attempt ({self.frame_shape[1]}×{self.frame_shape[0]} → "
                    f"{shape[1]}×{shape[0]}): one camera, one stream")
        self.frames_since_face += 1
        if box is None:
            return None
        why = self._box_step(tuple(float(v) for v in box), self.frames_since_face)
        self.frames_since_face = 0
        if why:
            return why
        if embedding is not None:
            vector = np.asarray(embedding, np.float32)
            if self.last_embedding is not None:
                cosine = float(self.last_embedding @ vector)
                self.worst_cosine = min(self.worst_cosine, cosine)
                if cosine < self.min_step_cosine:
                    return (f"the face changed abruptly between frames (cosine {cosine:.2f} < {self.min_step_cosine}): "
                            "a different face appeared during the challenge")
            self.last_embedding = vector
        return None

    def _box_step(self, box: tuple[float, float, float, float], frames: int) -> str | None:
        previous, self.last_box = self.last_box, box
        if previous is None:
            return None
        width_before, width_now = previous[2] - previous[0], box[2] - box[0]
        shift = float(np.hypot((box[0] + box[2] - previous[0] - previous[2]) / 2,
                               (box[1] + box[3] - previous[1] - previous[3]) / 2)) / max(width_before, width_now)
        scale = max(width_before, width_now) / max(min(width_before, width_now), 1e-6)
        self.worst_shift = max(self.worst_shift, shift / frames)
        if shift > self.max_shift * frames:
            return (f"the face jumped {shift:.2f} face widths in {frames} frame(s) (a cut or a swapped photo?): "
                    "a different face appeared during the challenge")
        if scale > self.max_scale_step ** frames:
            return (f"the face changed size {scale:.2f}× in {frames} frame(s) (a cut or a swapped photo?): "
                    "a different face appeared during the challenge")
        return None


def robust_spread(values: Sequence[float]) -> float:
    """Standard deviation estimated from the median absolute deviation (a few frames that
    already moved do not inflate it); 0 for fewer than 3 values."""
    v = np.asarray(values, np.float64)
    return float(1.4826 * np.median(np.abs(v - np.median(v)))) if len(v) >= 3 else 0.0


def gradual_step(values: Sequence[float], start: float, floor: float = 0.0) -> bool:
    """Did a cue reach its challenge level *through* intermediate frames? ``values``: the cue on
    the frames of this step (for the first step from the baseline on), up to the current frame,
    which meets the challenge; ``start``: where the step started (the baseline).

    Let j be the frame on which the cue last went beyond halfway to the furthest value reached.
    The step into j is a *jump* when it covers at least ``JUMP_SHARE`` of the whole way and is at
    least ``JUMP_RATIO`` times every neighbouring frame-to-frame change (two before j, up to two
    after; at least ``floor``, the cue's noise). A swap of two still photos is one such jump
    between two noisy plateaus; a live turn or smile moves at similar speed over several frames.
    Re-judged on every frame that meets the challenge: the frames after j show a live ramp
    going on, or a photo's noise."""
    v = np.asarray(values, np.float64)
    if len(v) < 2:
        return False
    direction = 1.0 if v[-1] >= start else -1.0
    far = direction * (v - start)  # distance from the start, towards the challenge
    reached = float(far.max())
    if reached <= 0:
        return False
    beyond = far >= reached / 2
    # the last time the cue went from below halfway to beyond it (a mouth moving while talking
    # may have crossed earlier and come back)
    ups = [i for i in range(1, len(v)) if beyond[i] and not beyond[i - 1]]
    if not ups:
        return False  # beyond halfway from the first frame on: nothing shows how it got there
    j = ups[-1]
    jump = far[j] - far[j - 1]
    neighbours = [abs(far[i] - far[i - 1]) for i in range(max(1, j - 2), j)]
    neighbours += [abs(far[i] - far[i - 1]) for i in range(j + 1, min(len(v), j + 3))]
    scale = max(max(neighbours, default=0.0), floor)
    return not (jump >= JUMP_SHARE * reached and jump >= JUMP_RATIO * scale)


def gradual_blink(open_values: Sequence[float], episode: Sequence[float], k: float | None = None,
                  floor: float = 0.0, needed: int = MIN_WAY_FRAMES) -> bool:
    """``episode``: eye openings from the first frame below the open level through the last frame
    before the eyes reopened; ``open_values``: the frames at the open level before it. True when
    ``needed`` frames of the episode are lids *on their way*: between the closed minimum and the
    open level, more than ``k`` × the open frames' spread (at least ``floor`` × the open level)
    and a fifth of the depth from both, and on one side of a single dip — a closing frame has
    only frames at least as open before it and at least as closed after it up to the minimum, a
    reopening frame the mirror image (within twice the spread). A swap from an open-eyes to a
    closed-eyes photo has only frames at the two photos' levels; a reading of the closed photo
    that jitters up between two closed readings is not a lid on its way."""
    if not episode or not open_values:
        return False
    values = [float(v) for v in episode]
    level = float(np.median(open_values))
    noise = max(robust_spread(open_values), floor * level)
    low = int(np.argmin(values))
    lowest = values[low]
    margin = max((NOISE_K if k is None else k) * noise, MIDDLE_SHARE * (level - lowest))
    slack = 2 * noise

    def on_the_way(j: int) -> bool:
        v = values[j]
        if v - lowest < margin or level - v < margin:
            return False
        if j < low:  # closing: more open before, more closed after (up to the minimum)
            return min(values[:j], default=v) >= v - slack and max(values[j + 1:low + 1]) <= v + slack
        return max(values[low:j]) <= v + slack and min(values[j + 1:], default=v) >= v - slack

    return sum(on_the_way(j) for j in range(len(values)) if j != low) >= needed


def eye_distance(points: np.ndarray) -> float:
    return float(np.linalg.norm(points[RIGHT_EYE_OUTER, :2] - points[LEFT_EYE_OUTER, :2])) or 1e-6


def planarity_residual(before: np.ndarray, after: np.ndarray) -> float:
    """RMS distance (in eye distances of ``after``) between ``after``'s mesh points and
    ``before``'s mapped by the least-squares homography between them. ≈ 0 when the points moved
    as a plane (a print turned or tilted in front of the camera); a turning head's nose, cheeks
    and ears move with parallax no homography reproduces."""
    import cv2

    src = np.asarray(before, np.float64)[:, :2]
    dst = np.asarray(after, np.float64)[:, :2]
    matrix, _ = cv2.findHomography(src, dst, 0)
    if matrix is None:  # degenerate (collinear) points: nothing planar to speak of
        return float("inf")
    mapped = cv2.perspectiveTransform(src[None], matrix)[0]
    return float(np.sqrt(np.mean(np.sum((mapped - dst) ** 2, axis=1)))) / eye_distance(np.asarray(after))
