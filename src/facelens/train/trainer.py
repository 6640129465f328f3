"""The training loop and its run folder.

A run folder holds ``config.json`` (everything needed to repeat or resume the run),
``checkpoint.pt`` (written after every epoch: model, optimiser, schedule, history, best
weights), ``metrics.csv`` (one row per epoch), ``model.pt`` (the kept weights plus the input
spec), ``summary.json``, ``report.md``, ``confusion_<split>.png`` and ``curves.png``.

Determinism: each epoch draws its shuffling, augmentation and dropout from generators seeded
by (seed, epoch), so a run resumed after epoch k ends with the same weights as one that was
never interrupted (same machine, same thread count).
"""

from __future__ import annotations

import csv
import json
import math
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .. import config as facelens_config
from ..errors import BadInputError, NotFoundError
from ..models.classifier import InputSpec
from . import report
from .architectures import FlipAverage, TenCrop, build, count_parameters
from .augment import DEFAULT_MIX_ALPHA, MIXES, NONE, Augment, mix_batch, random_crop
from .datasets import ImageSet
from .metrics import classification_metrics
from .splits import balanced_indices, class_weights

@dataclass
class TrainConfig:
    task: str  # "emotion" or "gender_eyes"
    arch: str
    data: str
    epochs: int = 10
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 1e-4
    seed: int = 0
    balance: str = "none"  # "none", "weights" (loss weights) or "resample" (balanced epochs)
    augment: bool = True
    label_smoothing: float = 0.0
    val_fraction: float = 0.1
    split: str = ""  # test fraction for data without an official test split, e.g. "80/20"
    folds: int = 0
    size: tuple[int, int] = (48, 48)
    channels: str = "grey"
    max_train: int = 0  # >0: a fixed-seed subset of the training set (smoke runs, tests)
    mix: str = "none"  # "none", "mixup" or "cutmix" (augment.mix_batch)
    mix_alpha: float = 0.0  # Beta(α, α) of the mix; 0: the usual one for the kind (DEFAULT_MIX_ALPHA)
    schedule: str = "onecycle"  # "onecycle" or "cosine" (linear warm-up, then cosine decay)
    warmup: float = 0.0  # epochs of linear warm-up for "cosine"
    crop: int = 0  # >0: train on random crop×crop crops; evaluate on the centre crop (or ten crops)
    tta: str = "none"  # "none", "flip" or "ten_crop": how the kept model is evaluated and exported
    validation: str = ""  # "": hold out val_fraction of the training data; else a test part's name
    select: str = "accuracy"  # the validation score that picks the kept epoch: accuracy or balanced_accuracy
    command: str = ""
    extra: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        data = asdict(self)
        data["size"] = list(self.size)
        return data

    @classmethod
    def from_json(cls, data: dict) -> "TrainConfig":
        data = dict(data)
        data["size"] = tuple(data.get("size", (48, 48)))
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})

    def check(self) -> None:
        """BadInputError for a setting the trainer cannot use (before any data is loaded)."""
        if self.mix not in MIXES:
            raise BadInputError(f"--mix must be one of {', '.join(MIXES)}, not {self.mix!r}")
        if self.schedule not in SCHEDULES:
            raise BadInputError(f"--schedule must be one of {', '.join(SCHEDULES)}, not {self.schedule!r}")
        if self.select not in ("accuracy", "balanced_accuracy"):
            raise BadInputError(f"--select must be accuracy or balanced_accuracy, not {self.select!r}")
        if self.tta not in TTAS:
            raise BadInputError(f"--tta must be one of {', '.join(TTAS)}, not {self.tta!r}")
        if self.tta == "ten_crop" and not self.crop:
            raise BadInputError("--tta ten_crop needs --crop (the size of the ten crops, e.g. 40 of 48)")
        if self.crop and not 0 < self.crop < min(self.size):
            raise BadInputError(f"--crop {self.crop} must be smaller than the {self.size[0]}×{self.size[1]} input")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise BadInputError(f"--label-smoothing must be in [0, 1), not {self.label_smoothing}")
        if self.warmup < 0 or self.warmup >= self.epochs:
            raise BadInputError(f"--warmup {self.warmup} must be at least 0 and less than --epochs {self.epochs}")

    @property
    def alpha(self) -> float:
        return self.mix_alpha or DEFAULT_MIX_ALPHA.get(self.mix, 0.0)


SCHEDULES = ("onecycle", "cosine")
TTAS = ("none", "flip", "ten_crop")


def deployed_model(model: nn.Module, crop: int, tta: str, ten: bool = True) -> nn.Module:
    """The model as it is evaluated and exported: a crop-trained net wrapped so it takes the whole
    face (the centre crop, or the ten crops averaged when ``tta == "ten_crop"`` and ``ten``); with
    ``tta == "flip"`` (and ``ten``) the image and its mirror image averaged."""
    if tta == "flip" and ten:
        model = FlipAverage(model)
    if not crop:
        return model
    return TenCrop(model, crop, 10 if tta == "ten_crop" and ten else 1)


def to_tensor(spec: InputSpec, images: np.ndarray) -> torch.Tensor:
    """N×H×W×C uint8 → the N×C×H×W float32 model input (the same numbers inference computes)."""
    return torch.from_numpy(spec.array(images))


def set_threads() -> int:
    count = facelens_config.threads()
    torch.set_num_threads(count)
    return count


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def predict(model: nn.Module, spec: InputSpec, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Logits for N×H×W×C uint8 images (eval mode, no gradients)."""
    model.eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(images), batch_size):
            out.append(model(to_tensor(spec, images[start:start + batch_size])).numpy())
    return np.concatenate(out) if out else np.zeros((0, 0), np.float32)


class Trainer:
    """Trains one model on one (train, val) pair inside ``run_dir``."""

    def __init__(self, cfg: TrainConfig, run_dir: Path) -> None:
        self.cfg = cfg
        self.run_dir = Path(run_dir)
        self.checkpoint_path = self.run_dir / "checkpoint.pt"
        self.metrics_path = self.run_dir / "metrics.csv"

    def fit(self, train: ImageSet, val: ImageSet, resume: bool = False, progress: bool = True,
            stop_after: int | None = None) -> dict:
        """Train to ``cfg.epochs`` (or stop after epoch ``stop_after``, as an interruption would)."""
        cfg = self.cfg
        threads = set_threads()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        num_classes = len(train.classes)
        torch.manual_seed(cfg.seed)
        model = build(cfg.arch, num_classes, train.channels)
        spec = InputSpec.fit(train.images, cfg.channels)
        steps_per_epoch = max(1, int(np.ceil(len(train) / cfg.batch_size)))
        optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        schedule = Schedule(cfg.lr, cfg.epochs * steps_per_epoch, kind=cfg.schedule,
                            warmup=round(cfg.warmup * steps_per_epoch))
        weight = None
        if cfg.balance == "weights":
            weight = torch.from_numpy(class_weights(train.labels, num_classes))
        elif cfg.balance not in ("none", "resample"):
            raise BadInputError(f"--balance must be none, weights or resample, not {cfg.balance!r}")
        loss_fn = nn.CrossEntropyLoss(weight=weight, label_smoothing=cfg.label_smoothing)
        augment = Augment(flip=cfg.task == "emotion" or cfg.extra.get("flip", True)) if cfg.augment else NONE

        state = {"epoch": 0, "history": [], "best_acc": -1.0, "best_epoch": 0, "best_state": None,
                 "train_seconds": 0.0, "schedule": schedule.to_json()}
        if resume:
            state = self._load_checkpoint(model, optimizer, steps_per_epoch)
            schedule = Schedule.from_json(state["schedule"])
            if schedule.total != cfg.epochs * steps_per_epoch:
                # a new --epochs on resume: anneal from the current rate over the new remainder
                step = state["epoch"] * steps_per_epoch
                schedule = schedule.replanned(step, cfg.epochs * steps_per_epoch)
                state["schedule"] = schedule.to_json()
                _log(f"re-planned the learning-rate schedule to end at epoch {cfg.epochs}")
                if schedule.lr(step) <= schedule.max_lr * 1e-3:
                    # the schedule anneals from where it stands: a finished run stays at its floor
                    _log(f"note: the learning rate is already at its floor ({schedule.lr(step):.1e}); the added "
                         "epochs will barely change the weights: for a warm restart start a new run")
            _log(f"resuming {self.run_dir} after epoch {state['epoch']} of {cfg.epochs}")
        elif self.metrics_path.exists():
            self.metrics_path.unlink()

        last = cfg.epochs if stop_after is None else min(stop_after, cfg.epochs)
        for epoch in range(state["epoch"] + 1, last + 1):
            started, cpu_started = time.perf_counter(), time.process_time()
            rng = np.random.default_rng([cfg.seed, epoch])
            torch.manual_seed(cfg.seed * 100_003 + epoch)
            order = (balanced_indices(train.labels, rng) if cfg.balance == "resample"
                     else rng.permutation(len(train)))
            model.train()
            total, correct, loss_sum = 0, 0, 0.0
            bar = _Bar(f"epoch {epoch}/{cfg.epochs}", steps_per_epoch, enabled=progress)
            for step in range(steps_per_epoch):
                idx = order[step * cfg.batch_size:(step + 1) * cfg.batch_size]
                if len(idx) == 0:
                    continue
                lr = schedule.lr((epoch - 1) * steps_per_epoch + step)
                for group in optimizer.param_groups:
                    group["lr"] = lr
                batch = augment(train.images[idx], rng)
                if cfg.crop:
                    batch = random_crop(batch, cfg.crop, rng)
                x = spec.array(batch)
                y = torch.from_numpy(train.labels[idx])
                if cfg.mix != "none":
                    x, partner, lam = mix_batch(x, cfg.mix, cfg.alpha, rng)
                    logits = model(torch.from_numpy(x))
                    loss = lam * loss_fn(logits, y) + (1.0 - lam) * loss_fn(logits, y[partner])
                else:
                    logits = model(torch.from_numpy(x))
                    loss = loss_fn(logits, y)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                loss_sum += float(loss.detach()) * len(idx)
                total += len(idx)
                correct += int((logits.argmax(1) == y).sum())
                bar.update(step + 1, f"loss {loss_sum / total:.4f} acc {correct / total:.3f}")
            bar.close()
            seconds = time.perf_counter() - started
            cpu_seconds = time.process_time() - cpu_started
            val_logits = predict(deployed_model(model, cfg.crop, cfg.tta, ten=False), spec, val.images)
            val_loss = float(nn.functional.cross_entropy(torch.from_numpy(val_logits),
                                                         torch.from_numpy(val.labels)))
            val_metrics = classification_metrics(val.labels, val_logits.argmax(1), val.classes)
            row = {"epoch": epoch, "train_loss": round(loss_sum / max(total, 1), 5),
                   "train_acc": round(correct / max(total, 1), 5), "val_loss": round(val_loss, 5),
                   "val_acc": round(val_metrics["accuracy"], 5),
                   "val_balanced_acc": round(val_metrics["balanced_accuracy"], 5),
                   "lr": float(lr), "seconds": round(seconds, 2),
                   "cpu_seconds": round(cpu_seconds, 2)}
            state["history"].append(row)
            state["train_seconds"] += seconds
            state["train_cpu_seconds"] = state.get("train_cpu_seconds", 0.0) + cpu_seconds
            state["epoch"] = epoch
            if val_metrics[cfg.select] > state["best_acc"]:  # best_acc: the score cfg.select names
                state["best_acc"] = val_metrics[cfg.select]
                state["best_epoch"] = epoch
                state["best_state"] = {k: v.detach().clone() for k, v in model.state_dict().items()}
            self._write_metrics(state["history"])
            self._save_checkpoint(model, optimizer, state)
            _log(f"[{self.run_dir.name}] epoch {epoch}/{cfg.epochs} train_loss {row['train_loss']:.4f} "
                 f"train_acc {row['train_acc']:.3f} val_loss {val_loss:.4f} val_acc {row['val_acc']:.3f} "
                 f"({seconds:.0f} s wall, {cpu_seconds:.0f} s CPU)")

        if state["best_state"] is not None:
            model.load_state_dict(state["best_state"])
        save_model(self.run_dir / "model.pt", cfg, model, train, spec)
        return {"params": count_parameters(model), "threads": threads, "epochs_done": state["epoch"],
                "selected_epoch": state["best_epoch"], "best_val_acc": state["best_acc"],
                "train_seconds": state["train_seconds"],
                "train_cpu_seconds": state.get("train_cpu_seconds", 0.0),
                "model": deployed_model(model, cfg.crop, cfg.tta), "spec": spec,
                "history": state["history"]}

    def _write_metrics(self, history: list[dict]) -> None:
        """metrics.csv from the whole history, rewritten each epoch (rows of older runs may lack
        later columns such as cpu_seconds; those cells stay empty)."""
        fields: list[str] = []
        for row in history:
            fields += [k for k in row if k not in fields]
        tmp = self.metrics_path.with_suffix(".tmp")
        with tmp.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=fields, restval="")
            writer.writeheader()
            writer.writerows(history)
        tmp.replace(self.metrics_path)

    def _save_checkpoint(self, model, optimizer, state: dict) -> None:
        payload = {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                   "state": state, "config": self.cfg.to_json()}
        tmp = self.checkpoint_path.with_suffix(".tmp")
        torch.save(payload, tmp)
        tmp.replace(self.checkpoint_path)  # atomic: an interrupted save never corrupts the last one

    def _load_checkpoint(self, model, optimizer, steps_per_epoch: int) -> dict:
        if not self.checkpoint_path.is_file():
            raise NotFoundError(f"{self.checkpoint_path}: no checkpoint to resume from")
        try:
            payload = torch.load(self.checkpoint_path, map_location="cpu", weights_only=False)
            model.load_state_dict(payload["model"])
            optimizer.load_state_dict(payload["optimizer"])
        except (RuntimeError, KeyError, EOFError) as exc:
            raise BadInputError(f"{self.checkpoint_path}: checkpoint does not match this run ({exc})") from exc
        state = payload["state"]
        if "schedule" not in state:  # checkpoints of the first version kept a torch OneCycleLR
            old = payload["scheduler"]
            state["schedule"] = Schedule(self.cfg.lr, old["total_steps"]).to_json()
            for group in optimizer.param_groups:  # that scheduler also cycled Adam's beta1
                group["betas"] = (0.9, group["betas"][1])
        # metrics.csv must hold exactly the epochs in the checkpoint (an epoch may have been cut short)
        self._write_metrics(state["history"])
        return state


def save_model(path: Path, cfg: TrainConfig, model: nn.Module, train: ImageSet, spec: InputSpec) -> None:
    """model.pt: the bare net's weights plus what rebuilds the deployed model (``load_run_model``)."""
    torch.save({"arch": cfg.arch, "num_classes": len(train.classes), "in_channels": train.channels,
                "classes": list(train.classes), "task": cfg.task, "input": spec.to_json(),
                "crop": cfg.crop, "tta": cfg.tta, "state_dict": model.state_dict()}, path)


class Schedule:
    """The learning rate as a pure function of the global step (so a resumed run gets the same
    rate at the same step), of one of two kinds:

    - ``onecycle``: linear-cosine warm-up to ``max_lr`` over the first 15 %, cosine decay to
      max_lr / 2.5e5 — the formula of torch's OneCycleLR, without its momentum cycling;
    - ``cosine``: linear warm-up from max_lr / ``warmup`` to ``max_lr`` over ``warmup`` steps, then
      cosine decay to the same floor (SGDR without restarts, Loshchilov & Hutter 2017; the warm-up
      of Goyal et al. 2017).

    ``replanned`` turns the rest into one cosine decay from the current rate (new --epochs)."""

    def __init__(self, max_lr: float, total: int, pct_start: float = 0.15,
                 restart: tuple[int, float] | None = None, kind: str = "onecycle", warmup: int = 0) -> None:
        if kind not in SCHEDULES:
            raise BadInputError(f"schedule must be one of {', '.join(SCHEDULES)}, not {kind!r}")
        self.max_lr, self.total, self.pct_start, self.restart = max_lr, max(1, total), pct_start, restart
        self.kind, self.warmup = kind, max(0, int(warmup))
        self.initial = max_lr / 25.0
        self.final = self.initial / 1e4

    @staticmethod
    def _cos(start: float, end: float, pct: float) -> float:
        return end + (start - end) / 2.0 * (math.cos(math.pi * min(max(pct, 0.0), 1.0)) + 1.0)

    def lr(self, step: int) -> float:
        if self.restart is not None and step >= self.restart[0]:
            begin, rate = self.restart
            return self._cos(rate, self.final, (step - begin) / max(1, self.total - 1 - begin))
        if self.kind == "cosine":
            if step < self.warmup:
                return self.max_lr * (step + 1) / self.warmup
            return self._cos(self.max_lr, self.final, (step - self.warmup) / max(1, self.total - 1 - self.warmup))
        end_warm = max(1.0, self.pct_start * self.total - 1)
        if step <= end_warm:
            return self._cos(self.initial, self.max_lr, step / end_warm)
        return self._cos(self.max_lr, self.final, (step - end_warm) / max(1.0, self.total - 1 - end_warm))

    def replanned(self, step: int, total: int) -> "Schedule":
        if total <= step:
            raise BadInputError(f"--epochs must be more than the {step} steps already trained")
        return Schedule(self.max_lr, total, self.pct_start, (step, self.lr(step)), self.kind, self.warmup)

    def to_json(self) -> dict:
        return {"max_lr": self.max_lr, "total": self.total, "pct_start": self.pct_start,
                "restart": list(self.restart) if self.restart else None, "kind": self.kind,
                "warmup": self.warmup}

    @classmethod
    def from_json(cls, data: dict) -> "Schedule":
        restart = tuple(data["restart"]) if data.get("restart") else None
        return cls(data["max_lr"], data["total"], data["pct_start"], restart,
                   data.get("kind", "onecycle"), data.get("warmup", 0))


class _Bar:
    """A rich progress bar on a terminal; nothing (epoch lines only) when logging to a file."""

    def __init__(self, label: str, total: int, enabled: bool) -> None:
        self._progress = None
        if enabled and sys.stderr.isatty():
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self._progress = Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(),
                                      TimeRemainingColumn(), TextColumn("{task.description}"),
                                      transient=True)
            self._progress.start()
            self._task = self._progress.add_task("", total=total)

    def update(self, done: int, text: str) -> None:
        if self._progress is not None:
            self._progress.update(self._task, completed=done, description=text)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()


def evaluate_model(model: nn.Module, spec: InputSpec, data: ImageSet) -> dict:
    logits = predict(model, spec, data.images)
    return classification_metrics(data.labels, logits.argmax(1), data.classes)


def finish_run(run_dir: Path, cfg: TrainConfig, result: dict, tests: dict[str, ImageSet],
               split_note: str) -> dict:
    """Evaluate the kept model on every test split; write PNGs, summary.json and report.md."""
    evaluations, single_view = {}, {}
    model = result["model"]
    for name, data in tests.items():
        metrics = evaluate_model(model, result["spec"], data)
        evaluations[name] = metrics
        report.plot_confusion(metrics, run_dir / f"confusion_{name}.png",
                              f"{cfg.arch} on {name}: accuracy {metrics['accuracy']:.2%}")
        single = _single_view(model)
        if single is not None:  # what the test-time augmentation adds, on record
            centre = evaluate_model(single, result["spec"], data)
            single_view[name] = {k: centre[k] for k in ("n", "accuracy", "balanced_accuracy", "macro_f1")}
    report.plot_curves(result["history"], run_dir / "curves.png")
    summary = {k: v for k, v in result.items() if k not in ("model", "spec", "history")}
    summary["split"] = split_note
    summary["evaluations"] = evaluations
    if single_view:
        summary["single_view_evaluations"] = single_view
    summary["inference_ms"] = inference_ms(result["model"], result["spec"])
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    report.write_report(run_dir, cfg.to_json(), summary, evaluations)
    return summary


def _single_view(model: nn.Module) -> nn.Module | None:
    """The one-view model inside a test-time-augmentation wrapper (None: no wrapper)."""
    if isinstance(model, TenCrop) and model.crops == 10:
        return TenCrop(model.model, model.crop, 1)
    if isinstance(model, FlipAverage):
        return model.model
    return None


def inference_ms(model: nn.Module, spec: InputSpec, repeats: int = 30) -> float:
    """Median PyTorch latency of one face (batch 1) on this CPU, in milliseconds."""
    model.eval()
    x = torch.zeros(1, len(spec.mean), *spec.size)
    times = []
    with torch.no_grad():
        for _ in range(repeats):
            t = time.perf_counter()
            model(x)
            times.append(time.perf_counter() - t)
    return round(float(np.median(times[5:] or times)) * 1000, 3)


def load_run_model(run_dir: Path, tta: str | None = None) -> tuple[nn.Module, InputSpec, dict]:
    """The run's kept model as deployed (``tta`` overrides the run's own, e.g. "flip" when
    exporting a model trained with flips), its input spec and the model.pt payload."""
    path = Path(run_dir) / "model.pt"
    if not path.is_file():
        raise NotFoundError(f"{path}: no trained model in this run folder (has the run finished?)")
    payload = torch.load(path, map_location="cpu", weights_only=False)
    model = build(payload["arch"], payload["num_classes"], payload["in_channels"])
    model.load_state_dict(payload["state_dict"])
    if tta is not None and tta not in TTAS:
        raise BadInputError(f"--tta must be one of {', '.join(TTAS)}, not {tta!r}")
    payload["tta"] = tta or payload.get("tta", "none")
    if payload["tta"] == "ten_crop" and not payload.get("crop"):
        raise BadInputError("--tta ten_crop needs a run trained with --crop")
    model = deployed_model(model, payload.get("crop", 0), payload["tta"])
    model.eval()
    return model, InputSpec.from_json(payload["input"]), payload
