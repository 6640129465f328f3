"""Guarded template adaptation and rollback, with real embeddings from real frames."""

from __future__ import annotations

import numpy as np
from access_support import make_policy

from facelens.access import check
from facelens.access.adaptation import Rules, guard, propose, rollback
from facelens.access.templates import identity_templates, is_adaptive
from facelens.pipeline import detect_rgb, embed_faces


def embedding(rgb: np.ndarray) -> np.ndarray:
    return embed_faces(rgb, detect_rgb(rgb, keep_crop=True)[:1])[0].embedding


def test_guard_rules():
    enrol = np.eye(4, dtype=np.float32)[:1]
    close = np.array([0.8, 0.6, 0, 0], np.float32)
    assert guard(close, enrol, np.empty((0, 4)), margin=0.5).accepted
    far = np.array([0.3, 0.95, 0, 0], np.float32) / np.linalg.norm([0.3, 0.95])
    assert any(r.startswith("drift") for r in guard(far, enrol, np.empty((0, 4)), margin=0.5).reasons)
    assert any(r.startswith("margin") for r in guard(close, enrol, np.empty((0, 4)), margin=0.05).reasons)
    assert any(r.startswith("quality") for r in guard(close, enrol, np.empty((0, 4)), 0.5, ["blurred"]).reasons)
    assert any("duplicate" in r for r in guard(enrol[0], enrol, np.empty((0, 4)), margin=0.5).reasons)


def test_adaptive_templates_are_capped_audited_and_rolled_back(gallery, hamilton):
    enrolment = identity_templates(gallery, "lin")
    rules = Rules(max_adaptive=2)
    added = 0
    for frame in hamilton[::8]:  # fixed rule: every 8th real frame, offered in time order
        probe = embedding(frame)
        similarity = float(np.max(np.stack([t.vector for t in identity_templates(gallery, "lin")]) @ probe))
        added += propose(gallery, "lin", probe, similarity, rules=rules).accepted
    now = identity_templates(gallery, "lin")
    assert added >= 3  # enough real updates to exercise the cap
    assert sum(is_adaptive(t) for t in now) == 2  # oldest out
    assert [t.id for t in now if not is_adaptive(t)] == [t.id for t in enrolment]  # enrolment untouched
    assert len(gallery.audit.entries(event="access.adapt.added", subject="lin")) == added
    assert len(gallery.audit.entries(event="access.adapt.evicted", subject="lin")) == added - 2
    # an impostor's face is refused by the drift guard even when offered as "granted"
    alex = identity_templates(gallery, "alex")[0].vector
    assert not propose(gallery, "lin", alex, 0.99).accepted
    result = rollback(gallery, "lin")
    assert result["removed"]["mobilefacenet"] == 2
    restored = identity_templates(gallery, "lin")
    assert [t.id for t in restored] == [t.id for t in enrolment]
    assert np.allclose(restored[0].vector, enrolment[0].vector)
    assert gallery.audit.entries(event="access.rollback", subject="lin")
    assert gallery.audit.verify().ok


def test_a_granted_check_feeds_adaptation(gallery, hamilton):
    decision = check(hamilton[40:], "lin", make_policy(adaptation=True), gallery=gallery, challenge="turn_right")
    assert decision.granted, decision.reasons
    assert decision.adaptation is not None
    events = {e.event for e in gallery.audit.entries(subject="lin")}
    assert events & {"access.adapt.added", "access.adapt.rejected"}
