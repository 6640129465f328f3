"""The happiness index as the server computes it: counted from plain rows, kept between requests,
and kept right when observations are added or removed — always the same rows as the straight
computation (a person's mean expression, its top class; each person once per bucket)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

import numpy as np
import pytest
from sqlalchemy import delete

from facelens.analytics import Observation, ObservationStore
from facelens.analytics.happiness import bucket_start
from facelens.analytics.report import build_report
from facelens.analytics.store import ObservationRow

LABELS = ("angry", "happy", "neutral", "sad", "surprise")
START = datetime(2026, 10, 1, 8)


def observations(n: int, seed: int, tracks: int = 300) -> list[Observation]:
    """Tracks seen several times each, across two places and three weeks, mixed expressions."""
    rng = np.random.default_rng(seed)
    made = []
    for _ in range(n):
        track = int(rng.integers(tracks))
        at = START + timedelta(minutes=int(rng.integers(60 * 24 * 21)))
        made.append(Observation(at, ("hall", "shop")[track % 2], f"t{track}",
                                dict(zip(LABELS, rng.dirichlet(np.ones(len(LABELS))).tolist())),
                                camera=None if track % 5 == 0 else f"cam{track % 3}"))
    return made


def straight_index(store: ObservationStore, bucket: str) -> list[tuple]:
    """The definition, written out: mean probabilities per person and bucket, argmax, count."""
    people: dict = defaultdict(lambda: defaultdict(list))
    for o in store.fetch():
        people[(o.location, bucket_start(o.at, bucket))][(o.camera or "", o.track)].append(o.emotion)
    rows = []
    for (location, start), persons in sorted(people.items()):
        happy = 0
        for series in persons.values():
            labels = sorted({k for probs in series for k in probs})
            mean = np.mean([[probs.get(k, 0.0) for k in labels] for probs in series], axis=0)
            happy += labels[int(np.argmax(mean))] == "happy"
        rows.append((location, start, len(persons), happy, sum(len(s) for s in persons.values())))
    return rows


def served(store: ObservationStore, bucket: str) -> list[tuple]:
    return [(s.location, s.start, s.people, s.happy, s.observations) for s in build_report(store, None, bucket).stats]


@pytest.fixture
def store(tmp_path):
    with ObservationStore(tmp_path / "obs.db") as opened:
        opened.add(observations(1500, seed=1))
        yield opened


@pytest.mark.parametrize("bucket", ["hour", "day", "week"])
def test_the_index_is_the_definition(store, bucket):
    assert served(store, bucket) == straight_index(store, bucket)


def test_a_kept_index_follows_new_and_removed_observations(store, monkeypatch):
    assert served(store, "day") == straight_index(store, "day")
    read = []
    original = ObservationStore.rows
    monkeypatch.setattr(ObservationStore, "rows", lambda self, *a, **k: read.append(k.get("ids")) or original(self, *a, **k))

    assert served(store, "day") == straight_index(store, "day")
    assert read == []  # nothing changed: nothing read again

    before = store.version()
    store.add(observations(200, seed=2))  # the same tracks seen again, and new buckets
    assert served(store, "day") == straight_index(store, "day")
    assert read == [(before[1], before[1] + 200)]  # only the added rows were read

    with store.store.write() as session:  # an erasure: rows disappear below the kept highest id
        session.execute(delete(ObservationRow).where(ObservationRow.id % 7 == 0))
    assert served(store, "day") == straight_index(store, "day")
    assert read[-1] == (0, store.version()[1])  # counted afresh
