"""Multi-camera global ids, the time line store, and the `watch` / `timeline` commands."""

from __future__ import annotations

import base64
import json
import os

import pytest

from facelens.cli.app import run_cli
from facelens.video.linking import TimelineStore


def test_one_global_id_per_person_across_cameras(two_cameras):
    linker = two_cameras["linker"]
    sheldon = linker.timeline("sheldon")
    assert [s.camera_id for s in sheldon] == ["cam-b", "cam-a"]  # lobby first, then corridor
    assert {s.global_id for s in sheldon} == {"person:sheldon"}
    assert [s.location for s in sheldon] == ["lobby", "corridor"]
    assert all(s.entered <= s.left for s in sheldon)
    store = TimelineStore(two_cameras["timeline"])
    try:
        stored = store.timeline("person:sheldon")
    finally:
        store.close()
    assert [(s.camera_id, s.entered, s.left) for s in stored] == [(s.camera_id, s.entered, s.left) for s in sheldon]
    unknown = {s.camera_id: s for s in linker.sightings if s.identity is None}
    # raj in the lobby; penny (not enrolled) in the corridor, seen by the tiled pass as she enters
    # from the bottom edge at the end of the clip: two different people, two global ids
    assert set(unknown) <= {"cam-a", "cam-b"} and "cam-b" in unknown
    assert all(s.global_id.startswith("unknown:") for s in unknown.values())
    assert len({s.global_id for s in unknown.values()}) == len(unknown)
    if "cam-a" in unknown:
        assert unknown["cam-a"].entered_s >= 4.6  # penny enters at 4.6 s (clips.json)


def test_watch_and_timeline_commands(tmp_path, clips, manifest, capsys):
    enrol = [f"--person={name}={clips / p}" for name, paths in manifest["enrol"].items() for p in paths]
    timeline = tmp_path / "timeline.db"
    alerts = tmp_path / "alerts.jsonl"
    # The same lobby clip seen by two cameras: the unknown person (raj) must get ONE global id.
    code = run_cli(["watch", str(clips / "lobby.mp4"), str(clips / "lobby.mp4"), "--camera-id", "b1",
                    "--camera-id", "b2", "--location", "lobby", "--alerts", str(alerts), *enrol,
                    "--timeline", str(timeline), "--report-unknown", "--detect-every", "3",
                    "--start-time", "2026-01-31T09:00:00Z", "--json", "--no-progress"])
    out = capsys.readouterr().out
    assert code == 0
    summary = json.loads(out)
    assert summary["frames"] == 180 and summary["alerts"] == 4 and summary["unknown_alerts"] == 2
    lines = [json.loads(line) for line in alerts.read_text().splitlines()]
    assert {(l["camera_id"], l["identity"]) for l in lines} == {
        ("b1", "sheldon"), ("b1", "leonard"), ("b2", "sheldon"), ("b2", "leonard"), ("b1", None), ("b2", None)}
    assert all(l["first_seen_utc"].startswith("2026-01-31T09:00:0") for l in lines)

    assert run_cli(["timeline", "leonard", "--timeline", str(timeline), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["sightings"]
    assert sorted(r["camera_id"] for r in rows) == ["b1", "b2"]
    assert all(r["location"] == "lobby" and r["entered"].startswith("2026-01-31T09:00:0") for r in rows)

    store = TimelineStore(timeline)
    try:
        unknown = {s.global_id for s in store.sightings() if s.identity is None}
    finally:
        store.close()
    assert len(unknown) == 1  # raj on both cameras: one person
    (gid,) = unknown
    assert run_cli(["timeline", gid, "--timeline", str(timeline)]) == 0
    text = capsys.readouterr().out
    assert "b1" in text and "b2" in text and "entered" in text

    assert run_cli(["timeline", "--timeline", str(timeline), "--json"]) == 0  # no PERSON: everyone
    everyone = {r["global_id"]: r for r in json.loads(capsys.readouterr().out)["people"]}
    assert set(everyone) == {"person:sheldon", "person:leonard", gid}
    assert everyone[gid]["identity"] is None and everyone[gid]["cameras"] == ["b1", "b2"]
    assert everyone["person:sheldon"]["sightings"] == 2


def test_cli_errors(tmp_path, clips, capsys):
    person = f"--person=x={clips / 'enrol' / 'obama_obama.jpg'}"
    assert run_cli(["watch", str(tmp_path / "missing.mp4"), person, "--no-timeline"]) == 10
    assert "no such file" in capsys.readouterr().err
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    assert run_cli(["watch", str(empty), person, "--no-timeline"]) == 10
    assert run_cli(["watch", str(clips / "lobby.mp4"), "--camera-id", "a", "--camera-id", "b", person]) == 2
    assert run_cli(["timeline", "nobody", "--timeline", str(tmp_path / "none.db")]) == 8


def test_watch_with_a_gallery_watchlist(tmp_path, clips, manifest, monkeypatch, capsys):
    """`--db` + `--watchlist`: only people whose gallery metadata names the list alert."""
    gallery_module = pytest.importorskip("facelens.gallery")
    monkeypatch.setenv("FACELENS_KEY", base64.b64encode(os.urandom(32)).decode())
    db = tmp_path / "people.db"
    with gallery_module.Gallery(db) as gallery:
        from facelens.usecases.enrolment import enrol

        enrol(gallery, "sheldon", [clips / p for p in manifest["enrol"]["sheldon"]], face="largest",
              metadata={"watchlist": "vip"})
        enrol(gallery, "leonard", [clips / p for p in manifest["enrol"]["leonard"]], face="largest",
              metadata={"watchlist": "staff"})
    alerts = tmp_path / "alerts.jsonl"
    code = run_cli(["watch", str(clips / "lobby.mp4"), "--db", str(db), "--watchlist", "vip",
                    "--alerts", str(alerts), "--no-timeline", "--detect-every", "3", "--no-progress"])
    assert code == 0, capsys.readouterr().err
    assert [json.loads(line)["identity"] for line in alerts.read_text().splitlines()] == ["sheldon"]
    assert run_cli(["watch", str(clips / "lobby.mp4"), "--db", str(db), "--watchlist", "nobody",
                    "--no-timeline"]) == 8
