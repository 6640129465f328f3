"""End to end: a real clip analysed with a location, then `facelens happiness report`."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

import pytest


def run(*args: str, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "facelens", *args], capture_output=True, text=True,
                          timeout=180, env=env)


def test_video_to_report(data_dir, tmp_path):
    clip = data_dir / "video" / "corridor.mp4"
    if not clip.is_file():
        pytest.skip("tests/data/video/corridor.mp4 (video fixtures) not present")
    env = {**os.environ, "FACELENS_DB": str(tmp_path / "site.db")}
    result = run("analyze", str(clip), "--location", "corridor", "--start", "2026-03-02T09:00:00",
                 "--actions", "emotion", "--every", "3", "--out", str(tmp_path / "tl"),
                 "--draw", str(tmp_path / "annotated.mp4"), "--json", env=env)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["observations_stored"] > 0 and len(summary["tracks"]) >= 2
    assert (tmp_path / "tl" / "timeline.csv").is_file() and (tmp_path / "annotated.mp4").is_file()

    result = run("happiness", "report", "--location", "corridor", "--bucket", "hour",
                 "--out", str(tmp_path / "rep"), "--json", env=env)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    (row,) = report["rows"]
    assert row["bucket_start"] == "2026-03-02T09:00:00Z"
    assert row["people"] == len(summary["tracks"])  # each track counted once in the hour
    assert 0 <= row["happy"] <= row["people"]
    assert 0 <= row["ci_low"] <= row["index"] <= row["ci_high"] <= 1
    rows = list(csv.DictReader(open(tmp_path / "rep" / "happiness.csv")))
    assert rows[0]["people"] == str(row["people"])
    assert (tmp_path / "rep" / "happiness_corridor.png").read_bytes()[:4] == b"\x89PNG"

    unknown = run("happiness", "report", "--location", "moon", env=env)
    assert unknown.returncode == 8 and "unknown location 'moon'" in unknown.stderr
