"""One command's worth of work: load the data a config names, split it, train (or cross-validate),
evaluate on the held-out test data, and write the run folder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..errors import BadInputError, NotFoundError
from .architectures import ARCHS
from .datasets import EYE_SIZE, ImageSet, load_fer_csv, load_folder, load_lfw_eyes
from .splits import kfold, parse_split, stratified_split
from .trainer import TrainConfig, Trainer, _log, finish_run

TASK_INPUT = {"emotion": ((48, 48), "grey"), "gender_eyes": (EYE_SIZE, "rgb")}


def load_task_data(cfg: TrainConfig, cache_dir: Path | None = None) -> tuple[ImageSet, dict[str, ImageSet], str]:
    """(training pool, {test split name: set}, how the test split was made)."""
    data = Path(cfg.data)
    if not data.exists():
        raise BadInputError(f"{data}: no such file or folder")
    if cfg.task == "emotion":
        if data.is_file():
            if data.suffix.lower() != ".csv":
                raise BadInputError(f"{data}: expected fer2013.csv or a folder of class folders")
            parts = load_fer_csv(data)
            if "train" not in parts:
                raise BadInputError(f"{data}: has no Training rows")
            tests = {k: v for k, v in parts.items() if k != "train"}
            if tests:
                return parts["train"], tests, "FER2013 CSV Usage column (Training / PublicTest / PrivateTest)"
            return _split_pool(parts["train"], cfg)
        if (data / "train").is_dir() and (data / "test").is_dir():
            train = load_folder(data / "train", cfg.size, cfg.channels)
            test = load_folder(data / "test", cfg.size, cfg.channels, classes=train.classes)
            if cfg.validation:  # the FER2013 Usage parts, told apart by the file names
                return train, fer_usage_parts(test), ("official train / test folders, test told apart into "
                                                      "PublicTest / PrivateTest by file name")
            return train, {"test": test}, "official train / test folders"
        return _split_pool(load_folder(data, cfg.size, cfg.channels), cfg)
    if cfg.task == "gender_eyes":
        images = data / "images"
        if images.is_dir() and (data / "female_names.txt").is_file():
            cache = (cache_dir / f"lfw_eyes_{cfg.size[0]}x{cfg.size[1]}.npz") if cache_dir else None
            pool = load_lfw_eyes(images, data / "female_names.txt", data / "male_names.txt",
                                 size=cfg.size, cache=cache)
        else:  # already-cut crops in female/ and male/ folders: no person ids, split by image
            pool = load_folder(data, cfg.size, cfg.channels, classes=("female", "male"))
        return _split_pool(pool, cfg)
    raise BadInputError(f"unknown task {cfg.task!r}; use emotion or gender_eyes")


def fer_usage_parts(test: ImageSet) -> dict[str, ImageSet]:
    """A FER2013 test folder (PublicTest_* and PrivateTest_* files mixed, as in the Kaggle image
    release) → {'public-test', 'private-test'}, the names load_fer_csv gives the CSV's parts."""
    stems = [name.rsplit("/", 1)[-1] for name in test.names]
    parts = {}
    for prefix, part in (("PublicTest_", "public-test"), ("PrivateTest_", "private-test")):
        index = np.flatnonzero([stem.startswith(prefix) for stem in stems])
        if len(index):
            parts[part] = test.subset(index)
    if sum(len(p) for p in parts.values()) != len(test):
        raise BadInputError("--validation names a FER2013 part, but the test folder's files are not all "
                            "named PublicTest_* or PrivateTest_*")
    return parts


def train_and_validation(cfg: TrainConfig, pool: ImageSet, tests: dict[str, ImageSet]
                         ) -> tuple[ImageSet, ImageSet, dict[str, ImageSet], str]:
    """(train, validation, the test parts left, a note): validation is ``cfg.validation``'s test
    part (FER2013's PrivateTest), or ``val_fraction`` of the pool held out (by person for eyes)."""
    if cfg.validation:
        if cfg.validation not in tests:
            raise BadInputError(f"--validation {cfg.validation!r}: the data has no such part "
                                f"(it has {', '.join(tests) or 'none'})")
        rest = {name: part for name, part in tests.items() if name != cfg.validation}
        val = tests[cfg.validation]
        return pool, val, rest, (f"validation: {cfg.validation} ({len(val)} images) for model selection, "
                                 f"never trained on; reported: {', '.join(rest)}")
    train_idx, val_idx = stratified_split(pool.labels, cfg.val_fraction, cfg.seed, pool.groups)
    return (pool.subset(train_idx), pool.subset(val_idx), tests,
            f"validation {len(val_idx)} images held out of training for model selection")


def _split_pool(pool: ImageSet, cfg: TrainConfig) -> tuple[ImageSet, dict[str, ImageSet], str]:
    fraction = parse_split(cfg.split or "80/20")
    train_idx, test_idx = stratified_split(pool.labels, fraction, cfg.seed, pool.groups)
    by = "by person" if pool.groups is not None else "by image"
    note = (f"stratified {round(100 * (1 - fraction))}/{round(100 * fraction)} {by}, seed {cfg.seed} "
            f"({len(train_idx)} train / {len(test_idx)} test images)")
    return pool.subset(train_idx), {"test": pool.subset(test_idx)}, note


def _subsample(data: ImageSet, limit: int, seed: int) -> ImageSet:
    """A fixed-seed, class-stratified subset of ``limit`` images (smoke runs and tests)."""
    if not limit or limit >= len(data):
        return data
    index, _ = stratified_split(data.labels, 1.0 - limit / len(data), seed)
    return data.subset(index)


def run(cfg: TrainConfig, run_dir: Path, resume: bool = False, progress: bool = True,
        cache_dir: Path | None = None, stop_after: int | None = None, epochs: int | None = None) -> dict:
    """Train per ``cfg`` into ``run_dir``; returns the summary (also in summary.json).

    With ``resume`` the stored config.json wins over ``cfg``, except ``epochs``: a new total
    shortens or extends the run (the learning rate anneals over the new remainder)."""
    run_dir = Path(run_dir)
    if resume:
        stored = run_dir / "config.json"
        if not stored.is_file():
            raise NotFoundError(f"{stored}: not a run folder, nothing to resume")
        cfg = TrainConfig.from_json(json.loads(stored.read_text(encoding="utf-8")))
        if epochs:
            cfg.epochs = epochs
    elif (run_dir / "checkpoint.pt").exists():
        raise BadInputError(f"{run_dir}: already holds a run; pass --resume to continue it or choose another --out")
    if cfg.arch not in ARCHS:  # before minutes of data loading
        raise BadInputError(f"unknown architecture {cfg.arch!r}; known: {', '.join(ARCHS)}")
    cfg.check()
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.json").write_text(json.dumps(cfg.to_json(), indent=2), encoding="utf-8")
    pool, tests, note = load_task_data(cfg, cache_dir)
    pool = _subsample(pool, cfg.max_train, cfg.seed)
    _log(f"[{run_dir.name}] data: {len(pool)} training-pool images {pool.counts()}; {note}")
    if cfg.folds:
        return _cross_validate(cfg, run_dir, pool, resume, progress)
    train, val, tests, val_note = train_and_validation(cfg, pool, tests)
    note += f"; {val_note}"
    result = Trainer(cfg, run_dir).fit(train, val, resume=resume, progress=progress, stop_after=stop_after)
    if result["epochs_done"] < cfg.epochs:
        return {"interrupted_after_epoch": result["epochs_done"]}
    return finish_run(run_dir, cfg, result, tests, note)


def finish_from_checkpoint(run_dir: Path, cache_dir: Path | None = None) -> dict:
    """Write model.pt, summary and report of an interrupted run from its last checkpoint (best
    weights so far), without training further. The report says how many epochs were done."""
    import torch

    from .architectures import build, count_parameters
    from .trainer import InputSpec, deployed_model, save_model, set_threads

    run_dir = Path(run_dir)
    stored, checkpoint = run_dir / "config.json", run_dir / "checkpoint.pt"
    if not stored.is_file() or not checkpoint.is_file():
        raise NotFoundError(f"{run_dir}: no config.json and checkpoint.pt to finish from")
    cfg = TrainConfig.from_json(json.loads(stored.read_text(encoding="utf-8")))
    threads = set_threads()
    pool, tests, note = load_task_data(cfg, cache_dir)
    pool = _subsample(pool, cfg.max_train, cfg.seed)
    train, _, tests, val_note = train_and_validation(cfg, pool, tests)
    spec = InputSpec.fit(train.images, cfg.channels)  # the same statistics the run trained with
    state = torch.load(checkpoint, map_location="cpu", weights_only=False)["state"]
    model = build(cfg.arch, len(train.classes), train.channels)
    model.load_state_dict(state["best_state"])
    save_model(run_dir / "model.pt", cfg, model, train, spec)
    result = {"params": count_parameters(model), "threads": threads, "epochs_done": state["epoch"],
              "selected_epoch": state["best_epoch"], "best_val_acc": state["best_acc"],
              "train_seconds": state["train_seconds"],
              "train_cpu_seconds": state.get("train_cpu_seconds", 0.0),
              "model": deployed_model(model, cfg.crop, cfg.tta), "spec": spec, "history": state["history"]}
    note += (f"; {val_note}; "
             f"INTERRUPTED: finished from the checkpoint after epoch {state['epoch']} of {cfg.epochs}")
    return finish_run(run_dir, cfg, result, tests, note)


def _cross_validate(cfg: TrainConfig, run_dir: Path, pool: ImageSet, resume: bool, progress: bool) -> dict:
    """k-fold CV over the training pool: one sub-run per fold, mean ± std of fold accuracy."""
    scores = []
    for i, (train_idx, test_idx) in enumerate(kfold(pool.labels, cfg.folds, cfg.seed, pool.groups)):
        fold_dir = run_dir / f"fold{i + 1}"
        fold_resume = resume and (fold_dir / "checkpoint.pt").exists()
        if (fold_dir / "summary.json").exists() and resume:
            summary = json.loads((fold_dir / "summary.json").read_text(encoding="utf-8"))
        else:
            held = pool.subset(test_idx)
            result = Trainer(cfg, fold_dir).fit(pool.subset(train_idx), held, resume=fold_resume,
                                                progress=progress)
            summary = finish_run(fold_dir, cfg, result, {"fold": held},
                                 f"fold {i + 1} of {cfg.folds}-fold stratified CV")
        scores.append(summary["evaluations"]["fold"]["accuracy"])
    cv = {"folds": cfg.folds, "fold_accuracy": scores, "mean_accuracy": float(np.mean(scores)),
          "std_accuracy": float(np.std(scores))}
    (run_dir / "cv.json").write_text(json.dumps(cv, indent=2), encoding="utf-8")
    (run_dir / "report.md").write_text(
        f"# Cross-validation `{run_dir.name}`\n\n- `{cfg.arch}` on `{cfg.data}`, {cfg.folds} folds, "
        f"{cfg.epochs} epochs each\n- accuracy per fold: {', '.join(f'{s:.2%}' for s in scores)}\n"
        f"- mean {cv['mean_accuracy']:.2%} ± {cv['std_accuracy']:.2%}\n\nPer-fold reports: "
        + ", ".join(f"[fold{i + 1}](fold{i + 1}/report.md)" for i in range(cfg.folds)) + "\n",
        encoding="utf-8")
    return cv
