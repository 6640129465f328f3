"""Happiness index over stored observations: counts per bucket, index values, intervals, chart,
and the refusals (unknown location, empty range, bad observation) that must store nothing."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from PIL import Image

from facelens.analytics import Observation, ObservationStore, happiness_index, wilson_interval
from facelens.analytics.happiness import bucket_start
from facelens.analytics.report import build_report
from facelens.errors import BadInputError, NotFoundError, StorageError

HAPPY = {"angry": 0.02, "disgust": 0.0, "fear": 0.03, "happy": 0.8, "sad": 0.05, "surprise": 0.05, "neutral": 0.05}
NEUTRAL = {"angry": 0.05, "disgust": 0.0, "fear": 0.05, "happy": 0.1, "sad": 0.1, "surprise": 0.05, "neutral": 0.65}
T0 = datetime(2026, 3, 2, 9, 0)  # a Monday


def obs(minutes, location, track, probs, camera="cam1"):
    return Observation(at=T0 + timedelta(minutes=minutes), location=location, track=track,
                       emotion=probs, camera=camera)


@pytest.fixture
def store(tmp_path):
    with ObservationStore(tmp_path / "site.db") as s:
        s.add([
            # 09:00–10:00 at the shop: 3 people; p1 happy (3 frames), p2 neutral, p3 happy
            obs(1, "shop", "p1", HAPPY), obs(2, "shop", "p1", HAPPY), obs(3, "shop", "p1", NEUTRAL),
            obs(5, "shop", "p2", NEUTRAL), obs(6, "shop", "p2", NEUTRAL),
            obs(30, "shop", "p3", HAPPY),
            # 10:00–11:00 at the shop: p1 again (neutral now) and p4 neutral
            obs(65, "shop", "p1", NEUTRAL), obs(70, "shop", "p4", NEUTRAL),
            # same track id on another camera is another person
            obs(75, "shop", "p4", HAPPY, camera="cam2"),
            # another location, next day
            obs(24 * 60 + 10, "cafe", "q1", HAPPY),
        ])
        yield s


def test_counts_and_index_per_hour(store):
    stats = {(s.location, s.start): s for s in happiness_index(store.fetch(), "hour")}
    first = stats[("shop", T0)]
    assert (first.people, first.happy, first.observations) == (3, 2, 6)
    assert first.index == pytest.approx(2 / 3)
    second = stats[("shop", T0 + timedelta(hours=1))]
    assert (second.people, second.happy, second.observations) == (3, 1, 3)
    assert second.index == pytest.approx(1 / 3)
    cafe = stats[("cafe", T0 + timedelta(days=1, minutes=0))]
    assert (cafe.people, cafe.happy) == (1, 1)


def test_each_person_counts_once_per_day(store):
    day = [s for s in happiness_index(store.fetch(["shop"]), "day")]
    assert len(day) == 1
    # p1 (2 happy + 2 neutral frames: mean is happy 0.45 vs neutral 0.35 → happy), p2 neutral,
    # p3 happy, p4@cam1 neutral, p4@cam2 happy → 5 people, 3 happy
    assert (day[0].people, day[0].happy, day[0].observations) == (5, 3, 9)
    assert day[0].index == pytest.approx(0.6)


def test_week_bucket_starts_on_monday():
    assert bucket_start(datetime(2026, 3, 5, 17, 30), "week") == datetime(2026, 3, 2)
    with pytest.raises(BadInputError):
        bucket_start(T0, "month")


def test_wilson_interval_known_values():
    low, high = wilson_interval(1, 2)
    assert (round(low, 4), round(high, 4)) == (0.0945, 0.9055)
    low, high = wilson_interval(0, 10)
    assert low == 0.0 and high == pytest.approx(0.2775, abs=1e-4)
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_report_writes_csv_and_chart(store, tmp_path):
    report = build_report(store, ["shop"], "hour", out_dir=tmp_path / "out")
    lines = report.csv_path.read_text().strip().splitlines()
    assert lines[0].startswith("location,bucket_start,people,happy,index")
    assert lines[1].startswith("shop,2026-03-02T09:00:00Z,3,2,0.6667")
    assert lines[2].startswith("shop,2026-03-02T10:00:00Z,3,1,0.3333")
    chart = report.charts["shop"]
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert Image.open(chart).size[0] > 300


def test_time_range_filters(store):
    report = build_report(store, ["shop"], "hour", start=T0 + timedelta(hours=1), end=T0 + timedelta(hours=2))
    assert [(s.people, s.happy) for s in report.stats] == [(3, 1)]


def test_refusals(store, tmp_path):
    with pytest.raises(NotFoundError, match="unknown location 'moon'"):
        build_report(store, ["moon"], "day")
    with pytest.raises(BadInputError, match="empty time range"):
        build_report(store, ["shop"], "day", start=T0, end=T0)
    with pytest.raises(NotFoundError, match="no observations"):
        build_report(store, ["shop"], "day", start=T0 + timedelta(days=30))
    with ObservationStore(tmp_path / "empty.db") as empty, pytest.raises(NotFoundError, match="no happiness"):
        build_report(empty, None, "day")


def test_bad_observations_store_nothing(store):
    before = store.count()
    with pytest.raises(BadInputError):
        store.add([obs(1, "shop", "p9", HAPPY), obs(2, "shop", "p9", {"happy": float("nan")})])
    with pytest.raises(BadInputError):
        Observation(at=T0, location=" ", track="x", emotion=HAPPY)
    assert store.count() == before


def test_a_file_that_is_not_a_database_is_refused(tmp_path):
    bogus = tmp_path / "notes.db"
    bogus.write_text("shopping list")
    with pytest.raises(StorageError):
        ObservationStore(bogus)
    assert bogus.read_text() == "shopping list"


def test_shares_the_gallery_database(tmp_path):
    from facelens.gallery.store import Store

    with ObservationStore(tmp_path / "site.db"):
        pass
    gallery = Store(tmp_path / "site.db")  # the gallery still opens the same file
    assert {"analytics_observations", "gallery_identities"} <= set(gallery.table_names())
    gallery.dispose()
