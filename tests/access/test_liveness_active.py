"""Challenge logic on plain per-frame numbers, and the mesh cues on real frames."""

from __future__ import annotations

import random

import pytest

from facelens.access.liveness_active import (
    CHALLENGES,
    ChallengeTracker,
    Observation,
    draw_challenge,
    observe,
    parse_challenge,
)
from facelens.errors import BadInputError


def feed(tracker: ChallengeTracker, rows) -> str:
    for t, ear, yaw, width, happy in rows:
        tracker.update(Observation(t, ear, yaw, width, happy))
    return tracker.finish()


def test_parse_and_draw():
    assert parse_challenge("turn-left+smile") == ("turn_left", "smile")
    with pytest.raises(BadInputError):
        parse_challenge("wave")
    drawn = draw_challenge(CHALLENGES, 2, random.Random(1))
    assert len(drawn) == 2 and len(set(drawn)) == 2 and set(drawn) <= set(CHALLENGES)
    assert len({draw_challenge() for _ in range(40)}) > 1  # not always the same challenge


def test_blink_needs_closing_and_reopening():
    open_eyes = [(i / 15, 0.30, 0.0, 0.6, None) for i in range(4)]
    closed = [(0.3, 0.20, 0.0, 0.6, None)]
    assert feed(ChallengeTracker(("blink",)), open_eyes + closed + [(0.4, 0.29, 0, 0.6, None)]) == "passed"
    assert feed(ChallengeTracker(("blink",)), open_eyes + closed) == "failed"  # never reopened
    assert feed(ChallengeTracker(("blink",)), open_eyes + [(0.4, 0.27, 0, 0.6, None)]) == "failed"  # too small


def test_sequence_in_order_and_timeout():
    base = [(i / 15, 0.3, 0.0, 0.6, 0.1) for i in range(4)]
    left, right = (0.5, 0.3, 20.0, 0.6, 0.1), (0.7, 0.3, -20.0, 0.6, 0.1)
    tracker = ChallengeTracker(("turn_left", "turn_right"))
    assert feed(tracker, base + [left, right]) == "passed" and tracker.score == 1.0
    wrong_order = ChallengeTracker(("turn_left", "turn_right"))
    assert feed(wrong_order, base + [right]) == "failed" and wrong_order.score == 0.0
    slow = ChallengeTracker(("turn_left",), timeout_s=1.0)
    assert feed(slow, base + [(2.0, 0.3, 25.0, 0.6, 0.1)]) == "failed" and "within" in slow.reason


def test_smile_needs_a_change_from_neutral():
    neutral = [(i / 15, 0.3, 0.0, 0.55, 0.05) for i in range(4)]
    assert feed(ChallengeTracker(("smile",)), neutral + [(0.5, 0.3, 0, 0.66, 0.99)]) == "passed"
    smiling_all_along = [(i / 15, 0.3, 0.0, 0.66, 0.99) for i in range(8)]
    assert feed(ChallengeTracker(("smile",)), smiling_all_along) == "failed"


def test_mesh_cues_follow_a_real_head_turn(hamilton):
    from facelens.attributes.mesh import face_mesh
    from facelens.pipeline import detect_rgb

    yaws = []
    for index in (0, 14, 40):  # frames 84 (turned left), 112 (turned right), 164 (left again)
        face = detect_rgb(hamilton[index])[0]
        yaws.append(observe(face_mesh(hamilton[index], face), 0.0).yaw)
    assert yaws[0] - yaws[1] >= 25 and yaws[2] - yaws[1] >= 25
