"""`facelens train evaluate`: score a finished run on a labelled image set."""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import BadInputError, NotFoundError
from . import report
from .datasets import load_fer_csv, load_folder
from .trainer import evaluate_model, load_run_model


def evaluate_run(run_dir: str | Path, data: str | Path | None = None) -> dict:
    """Accuracy, per-class P/R/F1 and confusion matrix of the run's kept model on ``data``
    (a folder of class folders — a FER2013 test folder is also scored per PublicTest /
    PrivateTest part — or a FER2013 CSV, scored on every Usage part). Without ``data``
    the run's own stored evaluation is returned. Writes confusion_eval_<part>.png in the run.

    When the run selected its kept epoch on a test part (``--validation private-test``), that
    part, and a whole folder that contains it, carry ``selection_set``: a score on the data the
    model was chosen on, not a test result."""
    run_dir = Path(run_dir)
    if data is None:
        summary = run_dir / "summary.json"
        if not summary.is_file():
            raise NotFoundError(f"{summary}: the run has not finished; pass --data to score it")
        return json.loads(summary.read_text(encoding="utf-8"))["evaluations"]
    model, spec, payload = load_run_model(run_dir)
    data = Path(data)
    if data.suffix.lower() == ".csv":
        parts = load_fer_csv(data)
    else:
        whole = load_folder(data, spec.size, spec.channels, classes=payload["classes"])
        parts = {data.name: whole, **_usage_parts(whole)}
    validation = _run_validation(run_dir)
    out = {}
    for name, images in parts.items():
        if list(images.classes) != list(payload["classes"]):
            raise BadInputError(f"{data}: classes {images.classes} differ from the model's {payload['classes']}")
        metrics = evaluate_model(model, spec, images)
        report.plot_confusion(metrics, run_dir / f"confusion_eval_{name}.png")
        if validation and name == validation:
            metrics["selection_set"] = (f"{name} is this run's validation split (the kept epoch was chosen on it): "
                                        "not a test result")
        elif validation and validation in parts and name == data.name:
            metrics["selection_set"] = (f"contains {validation}, this run's validation split (the kept epoch was "
                                        "chosen on it): not a test result")
        out[name] = metrics
    return out


def _run_validation(run_dir: Path) -> str:
    """The test part the run selected its kept epoch on ("" when validation was held out of the
    training data), from the run's config.json."""
    config = run_dir / "config.json"
    if not config.is_file():
        return ""
    return str(json.loads(config.read_text(encoding="utf-8")).get("validation") or "")


def _usage_parts(data) -> dict:
    """FER2013's PublicTest / PrivateTest parts of a folder whose files are named by Usage, else {}."""
    from .pipeline import fer_usage_parts

    try:
        return fer_usage_parts(data)
    except BadInputError:  # not a FER2013 test folder: only the whole folder is scored
        return {}
