"""Video time lines on a real clip (the video fixtures' corridor.mp4: real portraits walking
through a corridor; see tests/data/PROVENANCE.md)."""

from __future__ import annotations

import csv
import json
from datetime import datetime

import pytest

from facelens.attributes.temporal import label_changes
from facelens.attributes.timeline import analyze_video
from facelens.errors import SourceError


@pytest.fixture(scope="module")
def timeline(data_dir, tmp_path_factory):
    clip = data_dir / "video" / "corridor.mp4"
    if not clip.is_file():
        pytest.skip("tests/data/video/corridor.mp4 (video fixtures) not present")
    out = tmp_path_factory.mktemp("timeline")
    result = analyze_video(clip, ("emotion", "gender"), location="corridor", camera="cam1",
                           start=datetime(2026, 3, 2, 9, 0), annotated=out / "annotated.mp4", every=2)
    return result, out


def test_tracks_and_rows(timeline):
    result, out = timeline
    assert result.frames == 120 and result.fps == pytest.approx(15.0)
    tracks = result.tracks()
    assert len(tracks) >= 2
    for t in tracks:
        assert t["first_time"] <= t["last_time"]
        assert t["emotion"] in result.labels and t["gender"]["label"] in ("female", "male")
    times = [r["time"] for r in result.rows]
    assert times == sorted(times)
    assert (out / "annotated.mp4").stat().st_size > 10_000


def test_smoothing_reduces_flicker(timeline):
    result, _ = timeline
    for track in {r["track"] for r in result.rows}:
        rows = [r for r in result.rows if r["track"] == track]
        assert label_changes([r["emotion"] for r in rows]) <= label_changes([r["emotion_raw"] for r in rows])


def test_observations_once_per_track_per_second(timeline):
    result, _ = timeline
    assert result.observations
    for o in result.observations:
        assert o.location == "corridor" and o.camera == "cam1"
        assert datetime(2026, 3, 2, 9, 0) <= o.at < datetime(2026, 3, 2, 9, 0, 9)
    per_track = {}
    for o in result.observations:
        per_track.setdefault(o.track, []).append(o.at)
    for stamps in per_track.values():
        gaps = [(b - a).total_seconds() for a, b in zip(stamps, stamps[1:])]
        assert all(g >= 1.0 - 1e-6 for g in gaps)


def test_csv_and_json(timeline, tmp_path):
    result, _ = timeline
    rows = list(csv.DictReader(result.write_csv(tmp_path / "t.csv").open()))
    assert len(rows) == len(result.rows) and rows[0]["track"]
    payload = json.loads(result.write_json(tmp_path / "t.json").read_text())
    assert payload["tracks"] == result.tracks()


def test_missing_video_is_a_clear_error(tmp_path):
    with pytest.raises(SourceError):
        analyze_video(tmp_path / "nope.mp4")


def test_video_without_faces_gives_nothing(blank_video):
    result = analyze_video(blank_video, ("emotion",), location="hall")
    assert result.frames == 10 and result.rows == [] and result.observations == []
    assert result.tracks() == []
