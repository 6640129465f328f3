"""Per-track smoothing: fewer label switches, separate state per track."""

from __future__ import annotations

import numpy as np
import pytest

from facelens.attributes.temporal import TrackSmoother, label_changes

HAPPY, NEUTRAL = np.array([0.1, 0.8, 0.1]), np.array([0.1, 0.35, 0.55])
LABELS = ("sad", "happy", "neutral")


def _labels(smoother, sequence, track=1):
    return [LABELS[int(np.argmax(smoother.update(track, p, i)))] for i, p in enumerate(sequence)]


def test_ema_and_window_remove_single_frame_flicker():
    sequence = [HAPPY] * 4 + [NEUTRAL] + [HAPPY] * 4 + [NEUTRAL] + [HAPPY] * 3
    raw = _labels(TrackSmoother("none"), sequence)
    assert label_changes(raw) == 4
    assert label_changes(_labels(TrackSmoother("ema"), sequence)) == 0
    assert label_changes(_labels(TrackSmoother("window", window=5), sequence)) == 0


def test_a_lasting_change_is_followed():
    sequence = [HAPPY] * 5 + [NEUTRAL] * 8
    labels = _labels(TrackSmoother("ema"), sequence)
    assert labels[-1] == "neutral" and label_changes(labels) == 1


def test_tracks_are_independent_and_sequence_model_slot():
    smoother = TrackSmoother("ema")
    smoother.update(1, HAPPY)
    assert np.allclose(smoother.update(2, NEUTRAL), NEUTRAL)
    last = TrackSmoother(lambda history: history[-1])
    assert np.allclose(last.update(7, HAPPY), HAPPY / HAPPY.sum())
    with pytest.raises(ValueError):
        TrackSmoother("median")
