"""The watch use case on the real clips of tests/data/video (see tests/video/make_clips.py):
people given as photos, alerts to a file and a callback, sightings into a time line."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from facelens.errors import BadInputError, NotFoundError, SourceError
from facelens.usecases.watch import WatchRequest, timeline, watch

VIDEO = "video"


@pytest.fixture(scope="module")
def people(data_dir) -> dict[str, list[str]]:
    manifest = json.loads((data_dir / VIDEO / "clips.json").read_text())
    return {name: [str(data_dir / VIDEO / p) for p in paths] for name, paths in manifest["enrol"].items()}


def test_watch_alerts_links_and_records(data_dir, people, tmp_path):
    alerts_file, store = tmp_path / "alerts.jsonl", tmp_path / "timeline.db"
    seen = []
    request = WatchRequest([str(data_dir / VIDEO / "lobby.mp4")], camera_ids=["lobby-cam"], locations=["lobby"],
                           people=people, alerts=[str(alerts_file)], timeline=store, detect_every=3,
                           start_time=datetime(2026, 1, 31, 9, tzinfo=timezone.utc))
    result = watch(request, on_alert=seen.append)
    summary = result.to_dict()
    assert summary["frames"] == 90 and summary["run_id"] == result.run_id and not result.nothing_ran
    assert {a.identity for a in seen} == {"sheldon", "leonard"}  # raj is in the clip but not on the list
    written = [json.loads(line) for line in alerts_file.read_text().splitlines()]
    assert [a["alert_id"] for a in written] == [a.alert_id for a in seen]
    assert all(a["first_seen_utc"].startswith("2026-01-31T09:00:0") and a["location"] == "lobby" for a in written)

    sightings = timeline("sheldon", store)
    assert [s.camera_id for s in sightings.sightings] == ["lobby-cam"]
    assert sightings.to_dict()["sightings"][0]["global_id"] == "person:sheldon"
    with pytest.raises(NotFoundError):
        timeline("raj", store)


def test_a_source_that_cannot_open_is_reported_not_raised(people, tmp_path):
    result = watch(WatchRequest([str(tmp_path / "missing.mp4")], people=people, record_timeline=False))
    assert result.nothing_ran and "no such file" in result.failed[0].error
    with pytest.raises(SourceError, match="no camera delivered frames"):
        result.raise_if_nothing_ran()


def test_request_checks(people, tmp_path):
    notes = []
    with pytest.raises(BadInputError, match="--camera-id once per SOURCE"):
        watch(WatchRequest(["a.mp4"], camera_ids=["a", "b"], people=people))
    watch(WatchRequest([str(tmp_path / "missing.mp4")], people=people, watchlist="vip", record_timeline=False),
          notify=notes.append)
    assert notes == ["--watchlist is ignored with --person"]
    with pytest.raises(NotFoundError, match="no time line database"):
        timeline("anyone", tmp_path / "none.db")
