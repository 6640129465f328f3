"""Access control: decide one attempt at a door, and read or change a door's policy.

    with Gallery(db) as gallery:
        decision = check_access(gallery, Path("frames/"), claim="alice", door="lab", fps=15)
        policy = update_policy(gallery, "lab", max_failures=3)
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Optional, Sequence

from ..access import Decision, Policy
from ..errors import BadInputError, NotFoundError

POLICY_SET_BY_HAND = "set explicitly by `facelens access policy set`"


def check_access(gallery, source: Any, *, claim: Optional[str] = None, door: str = "default",
                 challenge: Optional[str] = None, fps: Optional[float] = None,
                 announce: Optional[Callable[[str], None]] = None) -> Decision:
    """Decide one access attempt from a camera index, a video file or a folder of frames
    (``fps``: the folder's frame rate, for the challenge time-out) under the door's stored
    policy. A source that cannot be opened is a refusal ("camera failure"), audited like any
    other; ``announce(challenge)`` is called before the first frame is judged."""
    from ..access import check
    from ..errors import SourceError
    from ..video.sources import open_source

    try:
        frames = open_source(source) if fps is None else open_source(source, fps=fps)
    except SourceError as exc:
        frames = _failing(exc)  # check() reads it, fails and records the refusal
    try:
        return check(frames, claim, door, gallery=gallery, challenge=challenge, announce=announce)
    finally:
        close = getattr(frames, "close", None)
        if close:
            close()


def _failing(error: Exception):
    raise error
    yield  # pragma: no cover - makes this a generator: the failure happens while reading frames


def stored_policy(gallery, door: str) -> Policy:
    """The door's stored policy, or the (unresolved) default one for a door without."""
    from ..access import get_policy

    try:
        return get_policy(gallery, door, missing_ok=False)
    except NotFoundError:
        return Policy(door=door)


def update_policy(gallery, door: str = "default", *, far: Optional[float] = None,
                  threshold: Optional[float] = None, threshold_source: str = POLICY_SET_BY_HAND,
                  challenges: Optional[Sequence[str]] = None, allowed_hours: Optional[Sequence[str]] = None,
                  **settings: Any) -> Policy:
    """Create or change a door's policy; settings given as None keep their current values.

    ``far`` re-resolves the threshold from the calibration; an explicit ``threshold`` wins over
    it. ``allowed_hours`` empty = always open. Other ``settings``: Policy fields (liveness,
    sequence_length, challenge_timeout_s, max_failures, lockout_s, adaptation, keep_images,
    passive_threshold). Stored resolved and audited; returns the stored policy."""
    from ..access import set_policy

    unknown = sorted(set(settings) - {f.name for f in dataclasses.fields(Policy)})
    if unknown:
        raise BadInputError(f"unknown policy setting(s): {', '.join(unknown)}")
    changes = {k: v for k, v in settings.items() if v is not None}
    if challenges is not None:
        changes["challenges"] = tuple(challenges)
    if allowed_hours is not None:
        changes["allowed_hours"] = tuple(allowed_hours)
    if far is not None:
        changes.update(far=far, threshold=None, threshold_source="")
    if threshold is not None:
        changes.update(threshold=threshold, threshold_source=threshold_source)
    return set_policy(gallery, dataclasses.replace(stored_policy(gallery, door), **changes))


def show_policies(gallery, door: Optional[str] = None) -> list[Policy]:
    """One door's policy (the default a door without one gets), or every stored policy."""
    from ..access import get_policy, list_policies

    return [get_policy(gallery, door)] if door else list_policies(gallery)
