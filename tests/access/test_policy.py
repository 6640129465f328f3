"""Per-door policies stored with the gallery."""

from __future__ import annotations

from datetime import datetime

import pytest
from access_support import make_policy

from facelens.access import Policy, get_policy, list_policies, set_policy
from facelens.errors import BadInputError, NotFoundError


def test_policy_round_trip_and_audit(gallery):
    stored = set_policy(gallery, make_policy(door="lab", liveness="active", max_failures=3,
                                             allowed_hours=("07:00-19:00",), challenges=("smile", "blink")))
    again = get_policy(gallery, "lab")
    assert again == stored and again.threshold is not None and again.threshold_source
    assert [p.door for p in list_policies(gallery)] == ["lab"]
    assert gallery.audit.entries(event="access.policy")[-1].details["door"] == "lab"
    with pytest.raises(NotFoundError):
        get_policy(gallery, "vault", missing_ok=False)
    assert gallery.meta("access_schema") == "1"  # the access tables carry their schema version


def test_policy_validation():
    with pytest.raises(BadInputError):
        Policy(liveness="sometimes")
    with pytest.raises(BadInputError):
        Policy(allowed_hours=("7 to 19",))
    with pytest.raises(BadInputError):
        Policy(challenges=("wave",))
    with pytest.raises(BadInputError):
        Policy(threshold=1.5)
    with pytest.raises(BadInputError):
        Policy.from_dict({"door": "x", "colour": "red"})


def test_hours_wrap_midnight():
    night = Policy(threshold=0.4, allowed_hours=("22:00-06:00",))
    assert night.open_at(datetime(2026, 1, 1, 23, 30)) and night.open_at(datetime(2026, 1, 1, 5, 0))
    assert not night.open_at(datetime(2026, 1, 1, 12, 0))
    assert Policy(threshold=0.4).open_at(datetime(2026, 1, 1, 3, 0))


def test_threshold_comes_from_the_calibration_at_the_stated_far():
    from facelens.verification import calibration

    if "mobilefacenet" not in calibration().get("models", {}):
        pytest.skip("no calibration/verification.json in this checkout (run facelens eval verification --calibrate)")
    strict, lenient = Policy(far=1e-3).resolved(), Policy(far=1e-2).resolved()
    assert strict.threshold > lenient.threshold and "far_1e-3" in strict.threshold_source
    with pytest.raises(BadInputError):
        Policy(far=0.2).resolved()


def test_default_challenges_are_head_turns():
    """Blink and smile are passed by a screen slideshow cross-fading two photos (swap_eval, docs/
    access.md): a door draws head turns unless its policy names other challenges."""
    from facelens.access import Policy
    from facelens.access.liveness_active import draw_challenge

    assert Policy().challenges == ("turn_left", "turn_right")
    assert {draw_challenge(Policy().challenges)[0] for _ in range(30)} == {"turn_left", "turn_right"}
    assert Policy(challenges=("blink", "smile")).challenges == ("blink", "smile")
