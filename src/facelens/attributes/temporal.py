"""Per-track smoothing of class probabilities, so video labels do not flicker frame to frame.

``TrackSmoother(method=...)`` keeps one state per track id:
- ``"ema"``: exponential moving average, p ← α·new + (1 − α)·p (α = 0.3 by default: a new
  expression takes over in ~3–5 frames, a one-frame misread does not flip the label);
- ``"window"``: plain mean of the last ``window`` frames;
- ``"none"``: frame-by-frame (for comparison);
- a *sequence model*: any callable taking the track's T×C probability history (oldest first)
  and returning C probabilities (e.g. a CNN-BiLSTM exported by the training toolkit).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable

import numpy as np

SequenceModel = Callable[[np.ndarray], np.ndarray]
METHODS = ("ema", "window", "none")


class TrackSmoother:
    def __init__(self, method: str | SequenceModel = "ema", alpha: float = 0.3, window: int = 8,
                 max_idle_frames: int = 150) -> None:
        if isinstance(method, str) and method not in METHODS:
            raise ValueError(f"smoothing method must be one of {METHODS} or a callable, not {method!r}")
        if not 0.0 < alpha <= 1.0:
            raise ValueError(f"alpha must be in (0, 1], got {alpha}")
        if window < 1:
            raise ValueError(f"window must be ≥ 1, got {window}")
        self.method = method
        self.alpha = alpha
        self.window = window
        self.max_idle_frames = max_idle_frames
        self._state: dict[Hashable, np.ndarray] = {}
        self._history: dict[Hashable, deque] = {}
        self._last_seen: dict[Hashable, int] = {}

    def update(self, track_id: Hashable, probs, frame_index: int = 0) -> np.ndarray:
        """The smoothed probabilities of ``track_id`` after this frame's ``probs``."""
        probs = np.asarray(probs, dtype=np.float64)
        history = self._history.setdefault(track_id, deque(maxlen=max(self.window, 64)))
        history.append(probs)
        self._last_seen[track_id] = frame_index
        if callable(self.method):
            smoothed = np.asarray(self.method(np.stack(history)), dtype=np.float64)
        elif self.method == "ema":
            previous = self._state.get(track_id)
            smoothed = probs if previous is None else self.alpha * probs + (1 - self.alpha) * previous
        elif self.method == "window":
            smoothed = np.mean(list(history)[-self.window:], axis=0)
        else:
            smoothed = probs
        smoothed = smoothed / max(float(smoothed.sum()), 1e-12)
        self._state[track_id] = smoothed
        self._forget_idle(frame_index)
        return smoothed

    def get(self, track_id: Hashable) -> np.ndarray | None:
        return self._state.get(track_id)

    def _forget_idle(self, frame_index: int) -> None:
        stale = [t for t, seen in self._last_seen.items() if frame_index - seen > self.max_idle_frames]
        for track_id in stale:
            self._state.pop(track_id, None)
            self._history.pop(track_id, None)
            self._last_seen.pop(track_id, None)


def label_changes(labels: list[str]) -> int:
    """How many times a sequence of labels switches (the flicker a smoother should reduce)."""
    return sum(1 for a, b in zip(labels, labels[1:]) if a != b)
