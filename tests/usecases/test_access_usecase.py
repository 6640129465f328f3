"""Access use cases on real frames (tests/data/access): a door's policy, then attempts at it."""

from __future__ import annotations

import pytest

from facelens.errors import BadInputError
from facelens.usecases.access import POLICY_SET_BY_HAND, check_access, show_policies, update_policy
from facelens.usecases.enrolment import enrol


@pytest.fixture
def gallery(data_dir, tmp_path, isolated_env):
    from facelens.gallery import Gallery

    with Gallery(tmp_path / "access.db") as g:
        enrol(g, "lin", [data_dir / "access" / "enrol" / "lin-manuel-miranda.jpg"])
        yield g


def test_policy_changes_keep_unnamed_settings(gallery):
    first = update_policy(gallery, "lab", max_failures=3, allowed_hours=["08:00-18:00"])
    assert first.max_failures == 3 and first.allowed_hours == ("08:00-18:00",)
    assert first.threshold_source.startswith("calibration/verification.json")  # resolved at FAR 1e-3
    second = update_policy(gallery, "lab", threshold=0.5, allowed_hours=[], liveness=None)
    assert second.max_failures == 3 and second.allowed_hours == () and second.liveness == first.liveness
    assert (second.threshold, second.threshold_source) == (0.5, POLICY_SET_BY_HAND)
    assert update_policy(gallery, "lab", far=1e-2).threshold < 0.5  # a new FAR re-resolves the threshold
    assert [p.door for p in show_policies(gallery)] == ["lab"]
    assert show_policies(gallery, "front")[0].max_failures == 5  # the default for a door without one
    with pytest.raises(BadInputError, match="unknown policy setting"):
        update_policy(gallery, "lab", colour="red")


def test_check_grants_the_claimed_person_and_refuses_a_dead_camera(data_dir, gallery, tmp_path):
    update_policy(gallery, "lab", liveness="active")
    shown = []
    decision = check_access(gallery, data_dir / "access" / "hamilton", claim="lin", door="lab",
                            challenge="turn_right", fps=15, announce=shown.append)
    assert decision.granted and decision.identity == "lin" and shown == ["turn_right"]
    refused = check_access(gallery, tmp_path / "missing.mp4", claim="lin", door="lab")
    assert not refused.granted and refused.reasons[0].startswith("camera failure")
