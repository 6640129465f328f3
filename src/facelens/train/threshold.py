"""The decision threshold of a two-class model, chosen on validation data, and balanced accuracy
with a confidence interval.

On an imbalanced set (LFW: 1 woman in 4) a classifier's plain argmax favours the majority class.
``equal_error_bias`` finds the logit bias b for one class such that, on the *validation* split,
that class's recall equals the other's (the equal-error point of the ROC); the test split is then
scored once with the bias. The bias is written into the model's spec.json as ``logit_bias``
(``facelens.attributes.eyes`` applies it), so inference decides exactly as measured here.

``calibrate_model`` does this for an exported model folder on the split its gender-eyes training
run made: the run's own config.json (seed, split, validation fraction or part, max_train) from the
run folder spec.json records (``source.path``, or ``run=`` when that folder has moved), rebuilt by
``pipeline.load_task_data`` and ``pipeline.train_and_validation``, so the validation and test
images are the run's own. A run folder that is not the model's (``source.version`` names the run
it was exported from) is refused.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_curve

from ..errors import BadInputError, NotFoundError
from .metrics import classification_metrics


def margin(logits: np.ndarray, positive: int) -> np.ndarray:
    """logit[positive] − logit[other] of N×2 logits (the score a bias on ``positive`` shifts)."""
    if logits.ndim != 2 or logits.shape[1] != 2:
        raise BadInputError(f"a decision threshold needs two-class logits, not shape {logits.shape}")
    return logits[:, positive] - logits[:, 1 - positive]


def equal_error_bias(labels: np.ndarray, logits: np.ndarray, positive: int = 0) -> float:
    """The bias b added to class ``positive``'s logit at which its recall (true-positive rate)
    equals the other class's recall (1 − false-positive rate), read off the ROC of
    ``margin`` and interpolated between its two nearest points."""
    labels = np.asarray(labels)
    if len(np.unique(labels)) != 2:
        raise BadInputError("choosing a threshold needs validation examples of both classes")
    score = margin(np.asarray(logits, np.float64), positive)
    fpr, tpr, thresholds = roc_curve(labels == positive, score)
    gap = tpr - (1.0 - fpr)  # rises from < 0 to > 0 along the curve
    # gap[0] = −1 (threshold +inf: nothing called positive) and gap[-1] = +1, so 1 ≤ k
    k = int(np.argmax(gap >= 0))
    # thresholds[0] is +inf: interpolate only between finite neighbours
    lo, hi = thresholds[k - 1], thresholds[k]
    if not np.isfinite(lo):
        return float(-hi)
    w = -gap[k - 1] / (gap[k] - gap[k - 1])
    return float(-(lo + w * (hi - lo)))


def predict_with_bias(logits: np.ndarray, bias: float, positive: int = 0) -> np.ndarray:
    """Labels of N×2 logits with ``bias`` added to class ``positive``."""
    shifted = np.array(logits, np.float64)
    shifted[:, positive] += bias
    return shifted.argmax(1)


def balanced_accuracy_ci(labels: np.ndarray, predictions: np.ndarray, groups: np.ndarray | None = None,
                         rounds: int = 2000, seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of balanced accuracy. With ``groups`` (a person per image)
    whole people are resampled, since one person's images are not independent trials."""
    labels, predictions = np.asarray(labels), np.asarray(predictions)
    rng = np.random.default_rng(seed)
    if groups is None:
        units = [np.array([i]) for i in range(len(labels))]
    else:
        _, inverse = np.unique(np.asarray(groups), return_inverse=True)
        order = np.argsort(inverse, kind="stable")
        units = np.split(order, np.flatnonzero(np.diff(inverse[order])) + 1)
    scores = []
    for _ in range(rounds):
        index = np.concatenate([units[i] for i in rng.integers(0, len(units), len(units))])
        y, p = labels[index], predictions[index]
        if len(np.unique(y)) < 2:
            continue
        scores.append(np.mean([np.mean(p[y == c] == c) for c in np.unique(y)]))
    if not scores:
        raise BadInputError("a balanced-accuracy interval needs both classes: every bootstrap resample "
                            f"held one class ({len(units)} {'people' if groups is not None else 'images'})")
    tail = (1.0 - level) / 2.0 * 100
    low, high = np.percentile(scores, [tail, 100 - tail])
    return float(low), float(high)


def onnx_logits(model_dir: Path, images: np.ndarray, batch: int = 256) -> np.ndarray:
    """Logits of the exported model in ``model_dir`` (its spec.json's input section) on N×H×W×C
    uint8 images, through onnxruntime, as inference runs it (without any logit_bias)."""
    import onnxruntime as ort

    from ..models.classifier import InputSpec

    spec_doc = json.loads((model_dir / "spec.json").read_text(encoding="utf-8"))
    if spec_doc.get("output", "logits") != "logits":
        raise BadInputError(f"{model_dir}: a threshold is set on logits; this model outputs {spec_doc['output']}")
    spec = InputSpec.from_json(spec_doc["input"], where=str(model_dir / "spec.json"))
    session = ort.InferenceSession(str(model_dir / spec_doc["filename"]), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    out = [session.run(None, {name: spec.array(images[i:i + batch])})[0] for i in range(0, len(images), batch)]
    return np.concatenate(out).astype(np.float64)


def _scores(labels, logits, bias, positive, classes, groups) -> dict:
    predictions = predict_with_bias(logits, bias, positive)
    metrics = classification_metrics(labels, predictions, classes)
    low, high = balanced_accuracy_ci(labels, predictions, groups)
    return {"n": metrics["n"], "balanced_accuracy": round(metrics["balanced_accuracy"], 4),
            "balanced_accuracy_ci95": [round(low, 4), round(high, 4)],
            "accuracy": round(metrics["accuracy"], 4),
            "recall": {c: round(r["recall"], 4) for c, r in metrics["per_class"].items()}}


def run_config(model_dir: Path, run: str | Path | None = None):
    """The ``TrainConfig`` of the run ``model_dir`` was exported from: config.json in ``run`` or,
    without it, in the run folder spec.json records. NotFoundError when there is none,
    BadInputError when the folder is another run's or not a gender-eyes run."""
    from .trainer import TrainConfig

    source = json.loads((model_dir / "spec.json").read_text(encoding="utf-8")).get("source") or {}
    run_dir = Path(run) if run is not None else Path(source.get("path") or "-")
    config = run_dir / "config.json"
    if not config.is_file():
        raise NotFoundError(f"{config}: no run config; pass --run with the folder `facelens train` wrote for this "
                            f"model (spec.json names run {source.get('version', '?')!r})")
    if source.get("version") and source["version"] != run_dir.name:
        raise BadInputError(f"{run_dir} is run {run_dir.name!r}; {model_dir} was exported from run "
                            f"{source['version']!r}: its validation and test split would not be the model's")
    cfg = TrainConfig.from_json(json.loads(config.read_text(encoding="utf-8")))
    if cfg.task != "gender_eyes":
        raise BadInputError(f"{run_dir}: a {cfg.task} run; a threshold is chosen for a gender-eyes run")
    return cfg


def calibrate_model(model_dir: str | Path, data: str | Path | None = None, run: str | Path | None = None,
                    cache_dir: Path | None = None, positive: str = "female", write: bool = False) -> dict:
    """Choose ``model_dir``'s logit bias for ``positive`` on the validation split of its
    gender-eyes run (``run_config``: the run's seed, split and validation settings; ``data``
    only when the run's data folder has moved), score the test split with and without it
    (balanced accuracy with a by-person bootstrap 95 % interval, plain accuracy, per-class
    recall) and, with ``write``, store it in the folder's spec.json as ``logit_bias``."""
    import dataclasses

    from .pipeline import load_task_data, train_and_validation

    model_dir = Path(model_dir)
    if not (model_dir / "spec.json").is_file():
        raise NotFoundError(f"{model_dir}: no spec.json (give an exported model folder)")
    cfg = run_config(model_dir, run)
    if data is not None:
        cfg = dataclasses.replace(cfg, data=str(data))
    pool, tests, note = load_task_data(cfg, cache_dir)
    _, val, tests, val_note = train_and_validation(cfg, pool, tests)
    test = tests["test"]
    classes = list(val.classes)
    if positive not in classes:
        raise BadInputError(f"--positive {positive!r} is not one of the classes {classes}")
    k = classes.index(positive)
    val_logits, test_logits = onnx_logits(model_dir, val.images), onnx_logits(model_dir, test.images)
    bias = equal_error_bias(val.labels, val_logits, k)
    result = {
        "model": str(model_dir), "data": cfg.data, "split": f"{note}; {val_note}",
        "run": {"seed": cfg.seed, "split": cfg.split, "val_fraction": cfg.val_fraction,
                "validation": cfg.validation, "max_train": cfg.max_train},
        "logit_bias": {positive: round(bias, 4)},
        "threshold": {f"p_{positive}": round(float(1.0 / (1.0 + np.exp(bias))), 4)},
        "validation": {"argmax": _scores(val.labels, val_logits, 0.0, k, classes, val.groups),
                       "equal_error": _scores(val.labels, val_logits, bias, k, classes, val.groups)},
        "test": {"argmax": _scores(test.labels, test_logits, 0.0, k, classes, test.groups),
                 "equal_error": _scores(test.labels, test_logits, bias, k, classes, test.groups)},
    }
    if write:
        path = model_dir / "spec.json"
        doc = json.loads(path.read_text(encoding="utf-8"))
        doc["logit_bias"] = {positive: round(bias, 4)}
        path.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
        result["written"] = str(path)
    return result
