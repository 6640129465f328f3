"""Text a user types (a command-line option, a form field) turned into typed values.

Shared by the CLI and the REST services so both accept the same spellings and refuse the same
mistakes with the same BadInputError message. ``what`` names the option in messages
(``--consent-at``, ``--start-time``, a form field …).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Optional, Sequence

from ..errors import BadInputError

if TYPE_CHECKING:  # the pipeline (and its image libraries) is not needed to parse text
    from ..pipeline import FaceChoice


def parse_face_choice(value: str) -> "FaceChoice":
    """'all', 'largest', 'only' or a face index 'N' (counted left to right)."""
    return int(value) if value.lstrip("-").isdigit() else value  # type: ignore[return-value]


def parse_utc(value: Optional[str], what: str) -> Optional[datetime]:
    """An ISO date or date-time as an aware UTC datetime; a value without a zone is taken as UTC.

    'Z' is accepted for UTC (Python 3.10 fromisoformat does not); None or '' give None."""
    if value is None or not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise BadInputError(f"{what} {value!r}: not an ISO date or date-time "
                            "(e.g. 2026-11-25 or 2026-11-25T14:00:00Z)") from None
    return moment.astimezone(timezone.utc) if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def parse_naive_utc(value: Optional[str], what: str) -> Optional[datetime]:
    """parse_utc without the zone: the naive-UTC datetimes the databases store."""
    moment = parse_utc(value, what)
    return moment.replace(tzinfo=None) if moment else None


def parse_pairs(items: Sequence[str], what: str, shape: str = "KEY=VALUE") -> list[tuple[str, str]]:
    """'KEY=VALUE' items (repeatable options) as (key, value) pairs, keys stripped, in order."""
    pairs = []
    for item in items:
        if "=" not in item:
            raise BadInputError(f"{what} takes {shape}, not {item!r}")
        key, value = item.split("=", 1)
        pairs.append((key.strip(), value))
    return pairs


def parse_metadata(items: Sequence[str], what: str = "--meta") -> dict[str, str]:
    """Free metadata 'KEY=VALUE' items as a dict (a repeated key keeps its last value)."""
    return dict(parse_pairs(items, what))


def parse_people(items: Sequence[str], what: str = "--person") -> dict[str, list[str]]:
    """'NAME=IMAGE' items as name → images (a name may be given several times)."""
    people: dict[str, list[str]] = {}
    for name, image in parse_pairs(items, what, "NAME=IMAGE"):
        people.setdefault(name, []).append(image)
    return people


def build_consent(by: Optional[str] = None, at: Optional[str] = None, purpose: Optional[str] = None,
                  expires: Optional[str] = None, *, at_name: str = "--consent-at",
                  expires_name: str = "--consent-expires"):
    """A gallery Consent from its four fields as typed, or None when none is given.

    ``at`` defaults to now; ``at`` and ``expires`` are ISO dates (naive UTC once stored)."""
    if not (by or at or purpose or expires):
        return None
    from ..gallery import Consent
    from ..gallery.store import utcnow

    return Consent(by=by, at=parse_naive_utc(at, at_name) or utcnow(), purpose=purpose,
                   expires=parse_naive_utc(expires, expires_name))


def per_source(values: Sequence[str], count: int, what: str, *, broadcast: bool = False) -> list[Optional[str]]:
    """One value per source: none given → None each; one given and ``broadcast`` → the same for
    all; otherwise exactly ``count`` values."""
    if not values:
        return [None] * count
    if broadcast and len(values) == 1:
        return list(values) * count
    if len(values) != count:
        raise BadInputError(f"give {what} once per SOURCE ({count}), not {len(values)} times")
    return list(values)
