"""`facelens eval video`: identity over time on a labelled video, against dlib's per-frame recipe."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer

from ..usecases.inputs import parse_people


def video(
    video_path: Path = typer.Argument(..., metavar="VIDEO", help="The labelled video file."),
    labels: Path = typer.Option(..., "--labels", help="Labels JSON (bench/labels/README.md)."),
    person: list[str] = typer.Option([], "--person", help="Enrol NAME=IMAGE (repeatable); NAME as in the labels."),
    anchor: bool = typer.Option(True, help="Also run face_recognition's per-frame recipe (dlib HOG + ResNet)."),
    tolerance: float = typer.Option(0.6, help="The dlib recipe's L2 distance tolerance."),
    detect_every: Optional[int] = typer.Option(None, min=1, help="facelens: detect every N frames (default adaptive)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Also write the report (JSON) here."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as one JSON object."),
) -> None:
    """IDF1, ID switches, MOTA (py-motmetrics), false-identity frames and time-line precision/recall
    per enrolled person, for facelens's watch pipeline and, in the same run, the dlib recipe."""
    from ..errors import BadInputError
    from ..evaluation.video import evaluate
    from ..video.watch import WatchConfig

    people = parse_people(person)
    if not people:
        raise BadInputError("give at least one --person NAME=IMAGE to enrol")
    if anchor:
        print("running the dlib recipe too (about 0.1–1 s per frame)…", file=sys.stderr)
    report = evaluate(video_path, labels, people, anchor=anchor, tolerance=tolerance,
                      config=WatchConfig(detect_every=detect_every))
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=1), encoding="utf-8")
    if as_json:
        print(json.dumps(report))
        return
    _print(report)


def _print(report: dict) -> None:
    print(f"{report['video']}: {report['frames']} frames, enrolled {', '.join(report['enrolled'])}")
    print(f"{'system':<12} {'IDF1':>6} {'IDsw':>5} {'MOTA':>7} {'prec':>6} {'recall':>6} {'false-id frames':>15} {'fps':>7}")
    for system in ("facelens", "dlib_recipe"):
        r = report.get(system)
        if r is None:
            continue
        print(f"{system:<12} {_num(r['idf1']):>6} {r['id_switches']:>5} {_num(r['mota']):>7} {_num(r['precision']):>6} "
              f"{_num(r['recall']):>6} {r['false_identity_frames']:>15} {r['fps']:>7.1f}")
        for name, line in r["timeline"].items():
            print(f"  time line {name}: precision {_num(line['precision'])} recall {_num(line['recall'])} "
                  f"({line['timeline_frames']} frames said, {line['labelled_frames']} labelled)")
    if "idf1_gain_points" in report:
        print(f"IDF1 gain over the dlib recipe: {report['idf1_gain_points']:+.1f} points")


def _num(value) -> str:
    return "-" if value is None else f"{value:.3f}"
