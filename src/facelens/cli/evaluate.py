"""`facelens eval ...`: evaluation commands on labelled data (paths are always arguments)."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import numpy as np
import typer

from ..embedding import EMBEDDERS
from ..errors import BadInputError

eval_app = typer.Typer(help="Evaluate models on labelled data.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    from ..evaluation import identification

    eval_app.command("identification")(identification.evaluate_command)
    app.add_typer(eval_app, name="eval")


@eval_app.command("verification")
def verification(
    pairs: Path = typer.Option(..., help="LFW-style pairs file (View 2: 10 folds)."),
    images: Path = typer.Option(..., help="Folder holding NAME/NAME_0001.jpg images."),
    model: str = typer.Option("all", help="mobilefacenet, mobilefacenet_noflip, dlib, fused or all."),
    detector: str = typer.Option("blazeface", help="Detector used to find each face."),
    out: Path = typer.Option(Path("runs/eval-verification"), help="Folder for report, ROC PNG, cache."),
    calibrate: bool = typer.Option(False, help="Write the thresholds into the package calibration."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as one JSON object."),
) -> None:
    """10-fold accuracy, ROC AUC, TAR at FAR 1e-2/1e-3, thresholds and a ROC plot."""
    from rich.console import Console
    from rich.progress import Progress

    from ..evaluation import verification as ev
    from ..verification import CALIBRATION_FILE

    if not images.is_dir():
        raise BadInputError(f"{images}: not a folder of images")
    chosen = list(EMBEDDERS) if model == "all" else [model]
    if any(m not in EMBEDDERS for m in chosen):
        raise BadInputError(f"unknown model {model!r}: {', '.join(EMBEDDERS)} or all")
    pair_list = ev.parse_pairs(pairs)
    names = sorted({p.first for p in pair_list} | {p.second for p in pair_list})
    missing = [n for n in names[:] if not (images / n).is_file()]
    if missing:
        raise BadInputError(f"{len(missing)} images of the pairs file are missing under {images}, e.g. {missing[0]}")
    base_models = sorted(set(chosen) - {"fused"} | ({"mobilefacenet", "dlib"} if "fused" in chosen else set()))
    console = Console(stderr=True)
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task(f"embedding {len(names)} images", total=len(names))
        embeddings = ev.embed_images(images, names, base_models, detector,
                                     cache=out / f"embeddings-{detector}.npz",
                                     progress=lambda done, total: bar.update(task, completed=done))
    labels = np.array([p.same for p in pair_list])
    scores = {m: ev.pair_scores(pair_list, embeddings, m) for m in base_models}
    reports = {m: ev.evaluate(pair_list, scores[m], m) for m in base_models}
    weight, fold_weights = None, None
    if "fused" in chosen:
        first, second = scores["mobilefacenet"], scores["dlib"]
        weight = ev.fusion_weight_from(pair_list, first, second)
        nested, fold_weights = ev.fused_fold_accuracies(pair_list, first, second)
        scores["fused"] = ev.fuse_scores(first, second, weight)
        reports["fused"] = ev.evaluate(pair_list, scores["fused"], "fused", accuracies=nested)
    reports = {m: reports[m] for m in chosen}
    ev.plot_roc({m: (labels, scores[m]) for m in chosen}, out / "roc.png",
                f"{pairs.name}: {len(pair_list)} pairs")
    command = "facelens " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    summary = {
        "pairs": len(pair_list), "images": len(names), "detector": detector,
        "no_face_fallbacks": embeddings.fallbacks, "fusion_weight": weight,
        "fusion_weight_per_fold": fold_weights if "fused" in chosen else None,
        "ms_per_image": {m: round(1000 * s / len(names), 2) for m, s in embeddings.seconds.items()},
        "reports": {m: r.to_dict() for m, r in reports.items()}, "roc_png": str(out / "roc.png"),
    }
    ev.write_json(out / "report.json", summary)
    if calibrate:
        if len(chosen) < len(EMBEDDERS):
            raise BadInputError("--calibrate needs --model all (the fused weight depends on both backends)")
        record = ev.calibration_record(reports, weight, f"{pairs} with images {images}", command)
        ev.write_json(CALIBRATION_FILE, record)
        console.print(f"calibration written to {CALIBRATION_FILE}")
    if as_json:
        print(json.dumps(summary))
        return
    _print_table(console, reports, summary)


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
