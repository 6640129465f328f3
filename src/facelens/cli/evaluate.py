"""`facelens eval ...`: evaluation commands on labelled data (paths are always arguments)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer

from ..constants import DEFAULT_DETECTOR, DEFAULT_MODEL
from ..models.registry import names
from .common import command_line

eval_app = typer.Typer(help="Evaluate models on labelled data.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    eval_app.command("identification")(identification_command)
    from .eval_video import video  # facelens eval video (issue 17)

    eval_app.command("video")(video)
    app.add_typer(eval_app, name="eval")


def identification_command(
    lfw: Path = typer.Option(..., "--lfw", help="Folder of NAME/NAME_0001.jpg images (LFW layout)."),
    model: str = typer.Option(DEFAULT_MODEL, help="Embedding model."),
    enrol: int = typer.Option(1, help="Images enrolled per person (the rest are probes)."),
    scoring: str = typer.Option("max", help="Identity score over templates: max or mean."),
    fpir: float = typer.Option(0.01, help="Target false-positive identification rate."),
    cache: Optional[Path] = typer.Option(None, help="Embedding cache .npz (same format as `facelens eval verification`)."),
    calibrate: bool = typer.Option(False, help="Write the threshold into calibration/identification.json."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Open-set identification on LFW: FNIR at FPIR = 1 % (fixed enrol/probe rule, held-out threshold)."""
    from ..usecases.evaluation import evaluate_identification

    def progress(done: int, total: int) -> None:
        if done % 500 == 0 or done == total:
            print(f"embedded {done}/{total}", file=sys.stderr)

    report = evaluate_identification(lfw, model=model, enrol=enrol, scoring=scoring, fpir=fpir, cache=cache,
                                     calibrate=calibrate, command=_calibration_command(), progress=progress)
    if as_json:
        print(json.dumps(report))
        return
    held = report["held_out"]
    print(f"{model} ({scoring}, {enrol} enrolled/person): {report['gallery_identities']} identities, "
          f"{report['mated_probes']} mated + {report['nonmated_probes']} unknown probes")
    print(f"  rank-1 {report['rank1_accuracy']:.4f}; FNIR {held['fnir']:.4f} at FPIR {held['fpir']:.4f} "
          f"(target {fpir}, threshold chosen on the other half of the unknowns)")
    print(f"  all unknowns: threshold {report['all_unknowns']['threshold']:.4f} → FNIR {report['all_unknowns']['fnir']:.4f}")


def _calibration_command() -> str:
    """The identification calibration's recorded command, in its historic spelling `facelens
    gallery evaluate …` under either command name, without --cache (a local cache path says
    nothing about how the number was made)."""
    args = sys.argv[3:]
    while "--cache" in args:
        at = args.index("--cache")
        del args[at:at + 2]
    return " ".join(["facelens gallery evaluate", *args])


@eval_app.command("verification")
def verification(
    pairs: Path = typer.Option(..., help="LFW-style pairs file (View 2: 10 folds)."),
    images: Path = typer.Option(..., help="Folder holding NAME/NAME_0001.jpg images."),
    model: str = typer.Option("all", help=f"{', '.join(names('embedder'))} or all."),
    detector: str = typer.Option(DEFAULT_DETECTOR, help="Detector used to find each face."),
    out: Path = typer.Option(Path("runs/eval-verification"), help="Folder for report, ROC PNG, cache."),
    calibrate: bool = typer.Option(False, help="Write the thresholds into the package calibration."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as one JSON object."),
) -> None:
    """10-fold accuracy, ROC AUC, TAR at FAR 1e-2/1e-3, thresholds and a ROC plot."""
    from rich.console import Console
    from rich.progress import Progress

    from ..evaluation.verification import evaluate_verification

    console = Console(stderr=True)
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("embedding images", total=None)
        run = evaluate_verification(pairs, images, model, detector, out, calibrate, command_line(),
                                    progress=lambda done, total: bar.update(task, completed=done, total=total))
    if run.calibration_file is not None:
        console.print(f"calibration written to {run.calibration_file}")
    if as_json:
        print(json.dumps(run.summary))
        return
    _print_table(console, run.reports, run.summary)


def _print_table(console, reports, summary) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"verification: {summary['pairs']} pairs, {summary['images']} images "
                        f"({summary['no_face_fallbacks']} without detection)")
    for column in ("model", "accuracy (10-fold)", "ROC AUC", "TAR@FAR1e-2", "TAR@FAR1e-3",
                   "thr@1e-3", "best thr"):
        table.add_column(column)
    for name, r in reports.items():
        table.add_row(name, f"{100 * r.accuracy_mean:.2f} ± {100 * r.accuracy_std:.2f} %",
                      f"{r.roc_auc:.4f}", f"{100 * r.tar_at_far['far_1e-2']:.2f} %",
                      f"{100 * r.tar_at_far['far_1e-3']:.2f} %", f"{r.thresholds['far_1e-3']:.3f}",
                      f"{r.thresholds['best_accuracy']:.3f}")
    Console().print(table)
    console.print(f"ROC plot: {summary['roc_png']}")
