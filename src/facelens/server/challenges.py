"""Liveness challenges handed to door devices: the server draws them, the device shows one,
films the person doing it, and sends the frames with the challenge's id. A device never picks
its own challenge (a replayed video of a blink would then always pass); an id is good for one
check within ``ttl`` seconds."""

from __future__ import annotations

import secrets
import threading
import time
from typing import Any

from ..errors import BadInputError

TTL_S = 60.0


class ChallengeBook:
    def __init__(self, ttl: float = TTL_S) -> None:
        self.ttl = ttl
        self._issued: dict[str, tuple[str, str, float]] = {}  # id → (door, challenge, expires)
        self._lock = threading.Lock()

    def issue(self, gallery: Any, door: str) -> dict[str, Any]:
        from ..access import get_policy
        from ..access.liveness_active import draw_challenge

        policy = get_policy(gallery, door)
        steps = draw_challenge(policy.challenges, policy.sequence_length) if policy.requires_active else ()
        challenge_id, text = secrets.token_urlsafe(16), "+".join(steps) or "none"
        now = time.monotonic()
        with self._lock:
            self._issued = {k: v for k, v in self._issued.items() if v[2] > now}
            self._issued[challenge_id] = (door, text, now + self.ttl)
        return {"id": challenge_id, "door": door, "challenge": text, "expires_in_s": self.ttl,
                "active_liveness": policy.requires_active}

    def redeem(self, challenge_id: str, door: str) -> str:
        """The challenge drawn for this id (used once); BadInputError when unknown or expired."""
        with self._lock:
            issued = self._issued.pop(challenge_id, None)
        if issued is None or issued[2] <= time.monotonic():
            raise BadInputError("unknown or expired challenge id: ask POST /api/v1/access/challenge again")
        if issued[0] != door:
            raise BadInputError(f"this challenge was issued for door {issued[0]!r}, not {door!r}")
        return issued[1]
