"""`facelens train …`: train, evaluate and export the research models (needs the [train] extra).

torch is imported only inside the commands, so `facelens --help` and every other command work
without it; a train command without torch says how to install it.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from ..errors import BadInputError, FacelensError
from .common import command_line

EMOTION_ARCHS = "seed002_cnn, cnn_bilstm, cnn_bilstm_attn, facelens_cnn, fer_vgg, fer_vgg_wide, fer_resnet"
EYES_ARCHS = "mobilenetv2, inception_small"


def _require_torch() -> None:
    try:
        import torch  # noqa: F401
    except ImportError:
        raise FacelensError(
            "training needs PyTorch, which is an optional extra: pip install -e '.[train]'"
        ) from None


def _emit(obj: dict) -> None:
    typer.echo(json.dumps(obj, indent=None, default=str))


def _weights(text: str | None, runs: int) -> list[float] | None:
    """``--weights 0.6,0.4`` → [0.6, 0.4]; BadInputError unless one number per run folder."""
    if text is None:
        return None
    try:
        weights = [float(part) for part in text.split(",")]
    except ValueError:
        raise BadInputError(f"--weights {text!r}: comma-separated numbers, one per run folder") from None
    if len(weights) != runs:
        raise BadInputError(f"--weights gives {len(weights)} number(s) for {runs} run folder(s)")
    return weights


def _summary_line(run_dir: Path, summary: dict) -> dict:
    if "evaluations" not in summary:  # cross-validation
        return {"run": str(run_dir), **summary}
    return {
        "run": str(run_dir),
        "params": summary["params"],
        "epochs": summary["epochs_done"],
        "train_seconds": round(summary["train_seconds"], 1),
        "inference_ms": summary["inference_ms"],
        **{f"{name}_accuracy": round(m["accuracy"], 4) for name, m in summary["evaluations"].items()},
        **{f"{name}_macro_f1": round(m["macro_f1"], 4) for name, m in summary["evaluations"].items()},
        "report": str(run_dir / "report.md"),
    }


def _train(task: str, data: Path, arch: str, epochs: int, batch_size: int, folds: int, out: Path,
           resume: bool, seed: int, lr: float, split: str, val_fraction: float, balance: str,
           augment: bool, max_train: int, cache_dir: Path | None, progress: bool, recipe: dict) -> None:
    _require_torch()
    from ..train.pipeline import TASK_INPUT, run
    from ..train.trainer import TrainConfig

    size, channels = TASK_INPUT[task]
    cfg = TrainConfig(task=task, arch=arch, data=str(data), epochs=epochs or 10, batch_size=batch_size,
                      lr=lr, seed=seed, balance=balance, augment=augment, val_fraction=val_fraction,
                      split=split, folds=folds, size=size, channels=channels, max_train=max_train,
                      command=command_line(), **recipe)
    summary = run(cfg, out, resume=resume, progress=progress, cache_dir=cache_dir,
                  epochs=epochs if resume else None)
    _emit(_summary_line(out, summary))


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Train, evaluate and export the research models "
                        "(needs the train extra: pip install -e '.\\[train]').",
                        no_args_is_help=True)
    app.add_typer(group, name="train")

    common = dict(
        epochs=typer.Option(None, "--epochs", min=1, help="training epochs (default 10; with --resume: "
                            "a new total that shortens or extends the run)"),
        batch_size=typer.Option(64, "--batch-size", min=1),
        folds=typer.Option(0, "--folds", min=0, help="k-fold cross-validation over the training data (0: off)"),
        resume=typer.Option(False, "--resume", help="continue the run in --out from its last checkpoint"),
        seed=typer.Option(0, "--seed"),
        lr=typer.Option(2e-3, "--lr", help="peak learning rate (AdamW, one-cycle schedule)"),
        val_fraction=typer.Option(0.1, "--val-fraction", help="held out of training for model selection"),
        augment=typer.Option(True, "--augment/--no-augment"),
        max_train=typer.Option(0, "--max-train", help="train on a fixed-seed subset of this many images"),
        progress=typer.Option(True, "--progress/--no-progress"),
        label_smoothing=typer.Option(0.0, "--label-smoothing", help="cross-entropy label smoothing, e.g. 0.1"),
        weight_decay=typer.Option(1e-4, "--weight-decay", help="AdamW's decoupled weight decay"),
        select=typer.Option("accuracy", "--select", help="validation score that picks the kept epoch: "
                            "accuracy or balanced_accuracy"),
        mix=typer.Option("none", "--mix", help="none, mixup or cutmix"),
        mix_alpha=typer.Option(0.0, "--mix-alpha", help="Beta(α, α) of the mix (0: 0.2 mixup, 1.0 cutmix)"),
        schedule=typer.Option("onecycle", "--schedule", help="onecycle, or cosine (linear --warmup, then cosine)"),
        warmup=typer.Option(0.0, "--warmup", help="epochs of linear warm-up for --schedule cosine"),
        crop=typer.Option(0, "--crop", min=0, help="train on random crops of this side (e.g. 40 of 48)"),
        tta=typer.Option("none", "--tta", help="none, flip (image + mirror averaged), or ten_crop (needs "
                         "--crop): how the kept model is evaluated and exported"),
        validation=typer.Option("", "--validation", help="a test part to select the model on instead of "
                                "--val-fraction, e.g. private-test (FER2013)"),
    )

    @group.command("emotion")
    def emotion(
        data: Path = typer.Option(..., "--data", help="folder with train/ and test/ class folders, "
                                  "one folder of class folders, or fer2013.csv"),
        arch: str = typer.Option("facelens_cnn", "--arch", help=EMOTION_ARCHS),
        out: Path = typer.Option(..., "--out", help="run folder"),
        split: str = typer.Option("", "--split", help="test split when the data has none, e.g. 80/20, 70/30"),
        balance: str = typer.Option("none", "--balance", help="none, weights or resample"),
        epochs: int | None = common["epochs"], batch_size: int = common["batch_size"],
        folds: int = common["folds"], resume: bool = common["resume"], seed: int = common["seed"],
        lr: float = common["lr"], val_fraction: float = common["val_fraction"],
        augment: bool = common["augment"], max_train: int = common["max_train"],
        progress: bool = common["progress"], label_smoothing: float = common["label_smoothing"],
        weight_decay: float = common["weight_decay"],
        mix: str = common["mix"], mix_alpha: float = common["mix_alpha"], schedule: str = common["schedule"],
        warmup: float = common["warmup"], crop: int = common["crop"], tta: str = common["tta"],
        validation: str = common["validation"],
    ) -> None:
        """Train a 7-class expression model (48×48 grey), e.g. on FER2013."""
        _train("emotion", data, arch, epochs, batch_size, folds, out, resume, seed, lr, split,
               val_fraction, balance, augment, max_train, None, progress,
               dict(label_smoothing=label_smoothing, weight_decay=weight_decay, mix=mix, mix_alpha=mix_alpha,
                    schedule=schedule, warmup=warmup, crop=crop, tta=tta, validation=validation))

    @group.command("gender-eyes")
    def gender_eyes(
        data: Path = typer.Option(..., "--data", help="LFW folder (images/, female_names.txt, male_names.txt) "
                                  "or a folder with female/ and male/ eye crops"),
        arch: str = typer.Option("mobilenetv2", "--arch", help=EYES_ARCHS),
        out: Path = typer.Option(..., "--out", help="run folder"),
        split: str = typer.Option("80/20", "--split", help="test split by person: 80/20 or 70/30"),
        balance: str = typer.Option("weights", "--balance", help="none, weights or resample"),
        cache: Path = typer.Option(None, "--cache", help="folder to keep the cut eye crops in (.npz)"),
        epochs: int | None = common["epochs"], batch_size: int = common["batch_size"],
        folds: int = common["folds"], resume: bool = common["resume"], seed: int = common["seed"],
        lr: float = common["lr"], val_fraction: float = common["val_fraction"],
        augment: bool = common["augment"], max_train: int = common["max_train"],
        progress: bool = common["progress"], label_smoothing: float = common["label_smoothing"],
        weight_decay: float = common["weight_decay"], select: str = common["select"],
        mix: str = common["mix"], mix_alpha: float = common["mix_alpha"], schedule: str = common["schedule"],
        warmup: float = common["warmup"], tta: str = common["tta"],
    ) -> None:
        """Train gender from the periocular region (eye crops cut with the detector's keypoints)."""
        _train("gender_eyes", data, arch, epochs, batch_size, folds, out, resume, seed, lr, split,
               val_fraction, balance, augment, max_train, cache, progress,
               dict(label_smoothing=label_smoothing, weight_decay=weight_decay, mix=mix, mix_alpha=mix_alpha,
                    schedule=schedule, warmup=warmup, select=select, tta=tta))

    @group.command("evaluate")
    def evaluate(
        run_dirs: list[Path] = typer.Argument(..., help="a finished run folder; several: scored as one "
                                              "ensemble (their probabilities averaged; an exported model "
                                              "folder may be a member)"),
        data: Path = typer.Option(None, "--data", help="a folder of class folders or fer2013.csv to score "
                                  "(default: the run's own report)"),
        weights: str = typer.Option(None, "--weights", help="ensemble weights, one per run, e.g. 0.6,0.4 "
                                    "(default: equal)"),
        tta: str = typer.Option(None, "--tta", help="override the runs' test-time augmentation: none, flip "
                                "or ten_crop"),
    ) -> None:
        """Score a trained run, or an ensemble of runs, on a labelled image set (accuracy,
        per-class P/R/F1, confusion)."""
        _require_torch()
        from ..train.evaluate import evaluate_run

        _emit(evaluate_run(run_dirs, data, weights=_weights(weights, len(run_dirs)), tta=tta))

    @group.command("finish")
    def finish(
        run_dir: Path = typer.Argument(..., help="an interrupted run folder"),
        cache: Path = typer.Option(None, "--cache", help="eye-crop cache folder used by the run"),
    ) -> None:
        """Write model.pt and the report of an interrupted run from its last checkpoint."""
        _require_torch()
        from ..train.pipeline import finish_from_checkpoint

        _emit(_summary_line(run_dir, finish_from_checkpoint(run_dir, cache)))

    @group.command("export")
    def export(
        run_dirs: list[Path] = typer.Argument(..., help="a finished run folder; several: exported as one "
                                              "ensemble graph (their probabilities averaged; an exported "
                                              "model folder, e.g. a shipped ensemble, may be a member)"),
        out: Path = typer.Option(..., "--out", help="model folder to write (model.onnx, spec.json, README.md)"),
        opset: int = typer.Option(17, "--opset", min=17),
        note: str = typer.Option("", "--note", help="a paragraph added to the README (e.g. how the run was resumed)"),
        tta: str = typer.Option(None, "--tta", help="override the run's test-time augmentation in the exported "
                                "graph: none, flip (image + mirror averaged) or ten_crop"),
        weights: str = typer.Option(None, "--weights", help="ensemble weights, one per run, e.g. 0.6,0.4 "
                                    "(default: equal)"),
        data: Path = typer.Option(None, "--data", help="score the exported model on this labelled set and "
                                  "write the numbers into its README"),
    ) -> None:
        """Export a run (or an ensemble of runs) to ONNX, check it against PyTorch in onnxruntime,
        write spec.json + README."""
        _require_torch()
        from ..train.export import export_run

        _emit(export_run(run_dirs, out, opset=opset, note=note, tta=tta,
                         weights=_weights(weights, len(run_dirs)), data=data))

    @group.command("threshold")
    def threshold(
        model_dir: Path = typer.Argument(..., help="an exported two-class gender-eyes model folder"),
        run: Path = typer.Option(None, "--run", help="the model's training run folder (default: the one "
                                 "spec.json records); its config.json gives seed, split and validation"),
        data: Path = typer.Option(None, "--data", help="the run's LFW folder, if it has moved since the run"),
        cache: Path = typer.Option(None, "--cache", help="eye-crop cache folder (.npz)"),
        positive: str = typer.Option("female", "--positive", help="the class whose logit gets the bias"),
        write: bool = typer.Option(False, "--write", help="store the bias in the folder's spec.json"),
    ) -> None:
        """Choose the decision threshold on the run's validation split (equal error), score the
        test split with it (balanced accuracy with a by-person 95 % interval). The split is
        rebuilt from the run's own config.json, never from flags."""
        _require_torch()
        from ..train.threshold import calibrate_model

        _emit(calibrate_model(model_dir, data, run, cache, positive, write))

    @group.command("archs")
    def archs() -> None:
        """List the architectures with their parameter counts."""
        _require_torch()
        from ..train.architectures import ARCHS, build, count_parameters

        rows = {}
        for name, info in ARCHS.items():
            channels = 1 if info.task == "emotion" else 3
            model = build(name, 7 if info.task == "emotion" else 2, channels)
            rows[name] = {"task": info.task, "params": count_parameters(model), "note": info.note}
        _emit(rows)
