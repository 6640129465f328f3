"""The happiness index: the share of people seen at a location in a time bucket who were happy.

Counting rule (what a shop owner expects): **each person counts once per bucket**. A person is a
track (camera + track id; each face of a still image is its own person). Their observations in
the bucket — already smoothed along the track — are averaged, and the person is *happy* when
"happy" is the top class of that average. Index = happy people / people, with a 95 % Wilson score
interval (good for small counts and for 0 % / 100 %, unlike the normal approximation).

Buckets are in UTC: ``hour``, ``day``, ``week`` (ISO weeks, starting Monday 00:00).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..errors import BadInputError
from ..stats import wilson_interval
from .store import Observation

BUCKETS = ("hour", "day", "week")
HAPPY = "happy"


def bucket_start(at: datetime, bucket: str) -> datetime:
    if bucket == "hour":
        return at.replace(minute=0, second=0, microsecond=0)
    if bucket == "day":
        return at.replace(hour=0, minute=0, second=0, microsecond=0)
    if bucket == "week":
        day = at.replace(hour=0, minute=0, second=0, microsecond=0)
        return day - timedelta(days=day.weekday())
    raise BadInputError(f"unknown bucket {bucket!r}; choose hour, day or week")


@dataclass(frozen=True)
class BucketStat:
    location: str
    start: datetime
    people: int
    happy: int
    observations: int

    @property
    def index(self) -> float:
        return self.happy / self.people if self.people else 0.0

    @property
    def interval(self) -> tuple[float, float]:
        return wilson_interval(self.happy, self.people)

    def to_dict(self) -> dict:
        low, high = self.interval
        return {"location": self.location, "bucket_start": self.start.isoformat() + "Z",
                "people": self.people, "happy": self.happy, "index": round(self.index, 4),
                "ci_low": round(low, 4), "ci_high": round(high, 4), "observations": self.observations}


def person_key(observation: Observation) -> tuple[str, str]:
    return (observation.camera or "", observation.track)


def happiness_index(observations: Iterable[Observation], bucket: str) -> list[BucketStat]:
    """One BucketStat per (location, bucket) that holds observations, sorted by location, time."""
    return index_rows(((o.location, o.at, o.camera, o.track, o.emotion) for o in observations), bucket)


def index_rows(rows: Iterable[tuple[str, datetime, str | None, str, dict[str, float]]], bucket: str) -> list[BucketStat]:
    """``happiness_index`` over plain ``(location, at, camera, track, emotion)`` rows, as the store
    reads them (no Observation objects: 10k of them cost more than the index itself)."""
    tally = Tally(bucket)
    tally.add(rows)
    return tally.stats()


class Tally:
    """The index being counted: per (location, bucket start), each person's summed expression
    probabilities and observation count. Rows can be added later (new observations), and only
    the buckets they touch are counted again.

    A person's mean expression is kept as per-label sums: the top class of the sum is the top
    class of the mean (same count), ties going to the first label in sorted order, as argmax did."""

    def __init__(self, bucket: str) -> None:
        if bucket not in BUCKETS:
            raise BadInputError(f"unknown bucket {bucket!r}; choose hour, day or week")
        self.bucket = bucket
        self._people: dict[tuple[str, datetime], dict[tuple[str, str], list]] = defaultdict(dict)
        self._stats: dict[tuple[str, datetime], BucketStat] = {}
        self._changed: set[tuple[str, datetime]] = set()

    def add(self, rows: Iterable[tuple[str, datetime, str | None, str, dict[str, float]]]) -> None:
        for location, at, camera, track, emotion in rows:
            key = (location, bucket_start(at, self.bucket))
            persons = self._people[key]
            self._changed.add(key)
            person = persons.get((camera or "", track))
            if person is None:
                persons[(camera or "", track)] = [dict(emotion), 1]
                continue
            sums = person[0]
            for label, p in emotion.items():
                sums[label] = sums.get(label, 0.0) + p
            person[1] += 1

    def stats(self) -> list[BucketStat]:
        """One BucketStat per (location, bucket) that holds observations, sorted by location, time."""
        for key in self._changed:
            persons = self._people[key]
            happy = sum(_top_label(sums) == HAPPY for sums, _ in persons.values())
            self._stats[key] = BucketStat(key[0], key[1], len(persons), happy, sum(n for _, n in persons.values()))
        self._changed.clear()
        return [self._stats[key] for key in sorted(self._stats)]


def _top_label(sums: dict[str, float]) -> str:
    return max(sorted(sums), key=sums.__getitem__)  # max keeps the first of equals, like argmax
