"""`facelens access …` end to end on real frames."""

from __future__ import annotations

import json

from access_support import ACCESS_DATA, LFW_FAR_1E3

from facelens.cli.app import run_cli


def cli(capsys, *args) -> tuple[int, str]:
    code = run_cli(list(args))
    return code, capsys.readouterr().out


def test_access_cli(tmp_path, capsys):
    db = str(tmp_path / "cli.db")
    assert run_cli(["gallery", "enrol", "lin", str(ACCESS_DATA / "enrol" / "lin-manuel-miranda.jpg"), "--db", db]) == 0
    capsys.readouterr()
    code, out = cli(capsys, "access", "policy", "set", "--door", "lab", "--threshold", str(LFW_FAR_1E3),
                    "--max-failures", "3", "--hours", "always", "--db", db, "--json")
    assert code == 0 and json.loads(out)["max_failures"] == 3
    code, out = cli(capsys, "access", "policy", "show", "--door", "lab", "--db", db, "--json")
    assert json.loads(out)["policies"][0]["threshold"] == LFW_FAR_1E3
    frames = str(ACCESS_DATA / "hamilton")
    code, out = cli(capsys, "access", "check", "--frames", frames, "--claim", "lin", "--door", "lab",
                    "--challenge", "turn_right", "--db", db, "--json")
    decision = json.loads(out)
    assert code == 0 and decision["granted"] and decision["identity"] == "lin"
    assert {"granted", "identity", "similarity", "threshold", "liveness", "reasons"} <= set(decision)
    # refusals still exit 0; a camera that cannot be opened is a refusal, audited
    code, out = cli(capsys, "access", "check", "--video", str(tmp_path / "missing.mp4"), "--claim", "lin",
                    "--door", "lab", "--db", db, "--json")
    refused = json.loads(out)
    assert code == 0 and not refused["granted"] and refused["reasons"][0].startswith("camera failure")
    assert run_cli(["access", "check", "--frames", frames, "--video", frames, "--db", db]) == 2  # one source only
    code, out = cli(capsys, "access", "rollback", "lin", "--db", db, "--json")
    assert code == 0 and json.loads(out)["enrolment_templates"] == {"mobilefacenet": 1}
    assert run_cli(["access", "rollback", "nobody", "--db", db]) == 8
    assert run_cli(["audit", "verify", "--db", db]) == 0


def test_eval_blink_on_the_bundled_orl_subjects(tmp_path, capsys):
    """s11 (two closed-eye images), s36 (one) and three all-open subjects: the iris cue finds all
    three closings, the mesh's EAR none; a folder that is not ORL is a clear error."""
    code, out = cli(capsys, "eval", "blink", "--orl", str(ACCESS_DATA / "orl"), "--out", str(tmp_path))
    assert code == 0, out
    summary = json.loads((tmp_path / "report.json").read_text())["summary"]
    assert summary["iris"]["closed_detected"] == "3/3"
    assert summary["iris"]["open_called_closed"] == "1/47"  # s33/4, at 0.73 of its open baseline
    assert summary["mesh"]["closed_detected"] == "0/3"
    assert run_cli(["eval", "blink", "--orl", str(ACCESS_DATA / "hamilton")]) == 2
    assert run_cli(["eval", "blink", "--orl", str(tmp_path / "missing")]) == 2


def test_eval_swap_on_the_bundled_orl_subjects(tmp_path, capsys):
    """`facelens eval swap` end to end on tests/data: the three eyes-closed ORL photos (s11/4,
    s11/9, s36/5) swapped in for an open-eyes photo and cross-faded on a screen, at 320 px with
    the trained simulator, at a liveness-both door: none granted; report written; typed errors."""
    out = tmp_path / "swap"
    code, text = cli(capsys, "eval", "swap", "--orl", str(ACCESS_DATA / "orl"), "--widths", "320",
                     "--simulators", "attacks", "--no-extras", "--no-replay", "--no-live", "--out", str(out), "--json")
    assert code == 0, text
    summary = json.loads(text)
    for style in ("aligned cut", "crossfade"):
        cell = summary["apcer_by_band"][f"{style}/attacks/320"]["granted"]
        assert cell["n"] == 3 and cell["accepted"] == 0, (style, cell)
    report = json.loads((out / "swap-report.json").read_text())
    assert {r["person"] for r in report["attacks"]} == {"orl-s11", "orl-s36"}
    assert all(r["fps"] == 30 for r in report["attacks"])  # blink attacks run where a blink may be asked
    assert "SIMULATED" in report["simulated"]
    assert run_cli(["eval", "swap", "--orl", str(ACCESS_DATA / "orl"), "--widths", "300"]) == 2
    assert run_cli(["eval", "swap", "--orl", str(ACCESS_DATA / "orl"), "--simulators", "real"]) == 2
    assert run_cli(["eval", "swap", "--orl", str(tmp_path / "missing")]) == 2
    assert run_cli(["eval", "swap", "--orl", str(ACCESS_DATA / "hamilton")]) == 2  # no ORL subject: no pairs
    capsys.readouterr()


def test_a_door_with_blink_or_smile_is_warned_about_and_moved_to_turns(tmp_path, capsys):
    """Doors stored before head turns became the default keep blink/smile: shown with a warning
    naming the command that moves them to turns; after it, no warning."""
    db = str(tmp_path / "doors.db")
    assert run_cli(["gallery", "enrol", "lin", str(ACCESS_DATA / "enrol" / "lin-manuel-miranda.jpg"), "--db", db]) == 0
    capsys.readouterr()
    assert run_cli(["access", "policy", "set", "--door", "old", "--challenges", "blink,smile,turn_left",
                    "--db", db, "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["challenges"] == ["blink", "smile", "turn_left"]  # stdout stays JSON
    assert "door 'old' accepts blink and smile" in captured.err and "--challenges turn_left,turn_right" in captured.err
    assert run_cli(["access", "policy", "set", "--door", "old", "--challenges", "turn_left,turn_right",
                    "--sequence", "1", "--db", db]) == 0
    assert run_cli(["access", "policy", "show", "--door", "old", "--db", db]) == 0
    captured = capsys.readouterr()
    assert '"turn_right"' in captured.out and "warning" not in captured.err
