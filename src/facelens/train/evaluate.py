"""`facelens train evaluate`: score a finished run on a labelled image set."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

from ..errors import BadInputError, NotFoundError
from . import report
from .datasets import load_fer_csv, load_folder
from .ensemble import load_ensemble, member_validations, run_folders
from .trainer import evaluate_model


def evaluate_run(run_dir: str | Path | Sequence[str | Path], data: str | Path | None = None,
                 weights: Sequence[float] | None = None, tta: str | None = None) -> dict:
    """Accuracy, per-class P/R/F1 and confusion matrix of the run's kept model on ``data``
    (a folder of class folders — a FER2013 test folder is also scored per PublicTest /
    PrivateTest part — or a FER2013 CSV, scored on every Usage part). Without ``data``
    the run's own stored evaluation is returned. Writes confusion_eval_<part>.png in the run.

    When the run selected its kept epoch on a test part (``--validation private-test``), that
    part, and a whole folder that contains it, carry ``selection_set``: a score on the data the
    model was chosen on, not a test result.

    Several run folders are scored as one ensemble (their probabilities averaged, ``weights``
    per run; ``train.ensemble``): ``data`` is then required, the PNGs go to the first run folder as
    confusion_eval_ensemble_<part>.png, and a part any member selected on is a selection set.
    ``tta`` overrides the runs' test-time augmentation, as for ``facelens train export``."""
    runs = run_folders(run_dir)
    ensemble = len(runs) > 1 or weights is not None
    if data is None and ensemble:
        raise BadInputError("an ensemble of runs has no stored evaluation: pass --data to score it")
    if data is None and tta is not None:
        raise BadInputError("--tta changes the model: pass --data to score it (the stored evaluation is the run's own)")
    run_dir = runs[0]
    if data is None:
        summary = run_dir / "summary.json"
        if not summary.is_file():
            raise NotFoundError(f"{summary}: the run has not finished; pass --data to score it")
        return json.loads(summary.read_text(encoding="utf-8"))["evaluations"]
    model, spec, payload = load_ensemble(runs, tta, weights)
    data = Path(data)
    if data.suffix.lower() == ".csv":
        parts = load_fer_csv(data)
    else:
        whole = load_folder(data, spec.size, spec.channels, classes=payload["classes"])
        parts = {data.name: whole, **_usage_parts(whole)}
    validations = set().union(*(member_validations(m) for m in payload.get("members", [payload])))
    # the PNGs go beside the first run folder, never into an exported (e.g. shipped) model folder
    png_dir = next((r for r in runs if (r / "model.pt").is_file()), None)
    prefix = "confusion_eval_ensemble_" if ensemble else "confusion_eval_"
    whose = "the members'" if ensemble else "this run's"
    out = {}
    for name, images in parts.items():
        if list(images.classes) != list(payload["classes"]):
            raise BadInputError(f"{data}: classes {images.classes} differ from the model's {payload['classes']}")
        metrics = evaluate_model(model, spec, images)
        if png_dir is not None:
            report.plot_confusion(metrics, png_dir / f"{prefix}{name}.png")
        if name in validations:
            metrics["selection_set"] = (f"{name} is {whose} validation split (the kept epoch was chosen on it): "
                                        "not a test result")
        elif validations & set(parts) and name == data.name:
            chosen_on = ", ".join(sorted(validations & set(parts)))
            metrics["selection_set"] = (f"contains {chosen_on}, {whose} validation split (the kept epoch was "
                                        "chosen on it): not a test result")
        out[name] = metrics
    return out


def _usage_parts(data) -> dict:
    """FER2013's PublicTest / PrivateTest parts of a folder whose files are named by Usage, else {}."""
    from .pipeline import fer_usage_parts

    try:
        return fer_usage_parts(data)
    except BadInputError:  # not a FER2013 test folder: only the whole folder is scored
        return {}
