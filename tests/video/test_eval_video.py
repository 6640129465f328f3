"""`facelens eval video` on a labelled real clip: both systems run, py-motmetrics scores them."""

from __future__ import annotations

import json

import cv2
import pytest

pytest.importorskip("motmetrics", reason='py-motmetrics not installed (pip install "facelens[video]")')

from facelens.cli.app import run_cli  # noqa: E402
from facelens.evaluation.video import evaluate, load_labels, score  # noqa: E402


@pytest.fixture(scope="module")
def stage(clips, tmp_path_factory):
    """hamilton_cut.mp4 and its labels as a labels file; and its first 12 frames as a short clip."""
    folder = tmp_path_factory.mktemp("eval")
    info = json.loads((clips / "real_clips.json").read_text())["hamilton_cut"]
    labels = folder / "hamilton_cut.json"
    labels.write_text(json.dumps({**info, "video": info["file"]}))
    capture = cv2.VideoCapture(str(clips / "hamilton_cut.mp4"))
    short = folder / "short.mp4"
    writer = cv2.VideoWriter(str(short), cv2.VideoWriter_fourcc(*"mp4v"), 29.97, (640, 360))
    for _ in range(12):
        writer.write(capture.read()[1])
    writer.release()
    short_labels = folder / "short.json"
    short_labels.write_text(json.dumps({**info, "video": "short.mp4", "frames": 12, "cuts": [],
                                        "faces": [r for r in info["faces"] if r[0] < 12],
                                        "ignore": [r for r in info["ignore"] if r[0] < 12]}))
    people = {"lin_manuel_miranda": [clips / "enrol" / "lin-manuel-miranda.jpg"],
              "barack_obama": [clips / "enrol" / "obama_obama.jpg"]}
    return {"labels": labels, "short": short, "short_labels": short_labels, "people": people}


def test_facelens_and_the_dlib_recipe_are_scored_in_one_run(stage):
    report = evaluate(stage["short"], stage["short_labels"], stage["people"], anchor=True)
    ours, theirs = report["facelens"], report["dlib_recipe"]
    assert report["frames"] == 12 and report["enrolled_not_in_labels"] == []
    for system in (ours, theirs):
        assert system["labelled_faces"] == 12 and system["false_identity_frames"] == 0
        assert 0.0 <= system["idf1"] <= 1.0 and system["fps"] > 0
    assert theirs["timeline"]["lin_manuel_miranda"]["recall"] > 0.5  # dlib names him on his close-up
    assert report["idf1_gain_points"] == pytest.approx(100 * (ours["idf1"] - theirs["idf1"]), abs=0.11)


def test_scoring_counts_a_wrong_name_and_ignores_what_labels_ignore(stage):
    labels = load_labels(stage["labels"])
    frame, name, *box = next(r for r in json.loads(stage["labels"].read_text())["faces"] if r[1] == "barack_obama")
    right = {frame: [("barack_obama", "barack_obama", tuple(box))]}
    wrong = {frame: [("lin_manuel_miranda", "lin_manuel_miranda", tuple(box))]}
    enrolled = ["lin_manuel_miranda", "barack_obama"]
    assert score(labels, right, enrolled)["false_identity_frames"] == 0
    assert score(labels, wrong, enrolled)["false_identity_frames"] == 1
    assert score(labels, {}, enrolled)["misses"] == sum(len(v) for v in labels.faces.values())


def test_eval_video_command(stage, capsys):
    code = run_cli(["eval", "video", str(stage["short"]),
                    "--labels", str(stage["short_labels"]), "--no-anchor", "--json",
                    *[f"--person={n}={p[0]}" for n, p in stage["people"].items()]])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert "dlib_recipe" not in report and report["facelens"]["false_identity_frames"] == 0
    assert run_cli(["eval", "video", str(stage["short"]), "--labels", str(stage["labels"]),
                    f"--person=x={stage['people']['barack_obama'][0]}"]) == 2  # 71 labelled frames, 12 in the video
    assert "wrong video" in capsys.readouterr().err
    assert run_cli(["eval", "video", str(stage["short"]), "--labels", str(stage["short"])]) == 2  # not JSON, no --person
