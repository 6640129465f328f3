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
