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
- **gradual cues** (``gradual_crossing``, ``gradual_blink``; used by ``ChallengeTracker``): the
  frame on which a challenge is first met must be preceded by a frame whose cue lies in the middle
  of the transition; a blink's closing episode must contain a frame between closed and open.
  Real blinks in the presenter clip at 15 fps (both frame phases) have one; a swap has none.
- **3-D consistency of a head turn** (``planarity_residual``): map the baseline mesh onto the
  turned mesh with the best homography; a flat print (turned, tilted, bent little) is moved by
  a homography, so what is left over is only the mesh's noise. Live turns of ≥ 15° leave
  ≥ 0.058 eye distances (Hamilton clip); flat prints turned by up to 40° leave ≤ 0.046, and their
  mesh yaw changes by ≤ 7°, so they do not reach the 15° turn in the first place.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

MAX_SHIFT = 0.5  # face widths per frame (Hamilton clip at 15 fps: ≤ 0.24)
MAX_SCALE_STEP = 1.35  # face width ratio per frame (Hamilton: ≤ 1.11)
MIN_STEP_COSINE = 0.45  # consecutive embedded frames (Hamilton, 2 frames apart: ≥ 0.60)
MIDDLE_BAND = (0.2, 0.8)  # "intermediate" = this share of the way from baseline to the extreme ...
NOISE_K = 3.0  # ... and this many noise standard deviations away from both ends
MIN_TURN_RESIDUAL = 0.03  # eye distances; live turns ≥ 0.058, flat prints ≤ 0.046 (and no 15° yaw)
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


def in_middle(value: float, start: float, end: float, noise: float = 0.0,
              band: tuple[float, float] = MIDDLE_BAND) -> bool:
    """Whether ``value`` lies in the middle band of the way from ``start`` to ``end`` and at least
    ``NOISE_K`` × ``noise`` away from both ends (so that measurement noise on two still photos
    does not look like an intermediate frame)."""
    span = end - start
    if span == 0:
        return False
    share = (value - start) / span
    margin = NOISE_K * noise
    return band[0] <= share <= band[1] and abs(value - start) >= margin and abs(end - value) >= margin


def gradual_crossing(before: Sequence[float], start: float, reached: float, noise: float = 0.0) -> bool:
    """A cue reached ``reached`` (the first frame past the challenge threshold) from ``start``;
    ``before`` are its values on the frames just before. True when one of them lies in the middle
    of the way: the face got there through an intermediate frame, not by a cut."""
    return any(in_middle(v, start, reached, noise) for v in before)


def gradual_blink(episode: Sequence[float], baseline: float, noise: float = 0.0) -> bool:
    """``episode``: eye openings from the first frame below the open level through the last frame
    before the eyes reopened. True when a frame lies between the closed minimum and the baseline
    (closing or reopening); a swap from an open-eyes to a closed-eyes photo has none."""
    if not episode:
        return False
    lowest = float(min(episode))
    return any(in_middle(v, lowest, baseline, noise) for v in episode)


def cue_noise(values: Sequence[float], floor: float) -> float:
    """Frame-to-frame measurement noise of a cue at rest (standard deviation of the baseline
    frames), at least ``floor``."""
    return max(float(np.std(values)) if len(values) > 1 else 0.0, floor)


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
