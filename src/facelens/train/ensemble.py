"""Several trained runs as one model: their class probabilities averaged.

Averaging the softmax outputs of independently trained networks is the cheapest reliable gain in
FER2013 accuracy (each network's errors are partly its own). The ensemble is an ``nn.Module``
like any run's model, so ``facelens train evaluate`` scores it and ``facelens train export``
writes it as one ONNX graph with one spec.json: inference code and the registry see a single
classifier. Its output is the log of the mean probability — a valid logit vector (softmax of it
gives the mean back), so the spec's ``"output": "logits"`` holds.

Members must share the task and the class order; their input size, channels, scale and layout
must match. A member trained with other pixel statistics (mean/std fitted on its own training
data) gets its own normalisation inside the graph, so the ensemble's input spec is the first
member's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import torch
from torch import nn

from ..errors import BadInputError
from ..models.classifier import InputSpec
from .trainer import load_run_model


class Renormalise(nn.Module):
    """Feeds ``member`` input normalised with its own mean/std when it receives input normalised
    with ``given``'s: x' = (x·σ_given + μ_given − μ_member) / σ_member, per channel."""

    def __init__(self, member: nn.Module, given: InputSpec, own: InputSpec) -> None:
        super().__init__()
        self.member = member
        shape = (1, -1, 1, 1)
        self.register_buffer("gain", (torch.tensor(given.std) / torch.tensor(own.std)).view(shape))
        self.register_buffer("shift", ((torch.tensor(given.mean) - torch.tensor(own.mean))
                                       / torch.tensor(own.std)).view(shape))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.member(x * self.gain + self.shift)


class ProbabilityMean(nn.Module):
    """Weighted mean of the members' softmax probabilities, returned as its log (N×classes)."""

    def __init__(self, members: Sequence[nn.Module], weights: Sequence[float] | None = None) -> None:
        super().__init__()
        if not members:
            raise BadInputError("an ensemble needs at least one member")
        weights = [1.0] * len(members) if weights is None else [float(w) for w in weights]
        if len(weights) != len(members) or min(weights) < 0 or sum(weights) <= 0:
            raise BadInputError(f"ensemble weights {weights}: one non-negative weight per member, not all zero")
        self.members = nn.ModuleList(members)
        total = sum(weights)
        self.register_buffer("weights", torch.tensor([w / total for w in weights]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        probs = sum(w * torch.softmax(m(x), dim=1) for w, m in zip(self.weights, self.members))
        return torch.log(probs.clamp_min(1e-12))


def run_folders(run_dir: str | Path | Sequence[str | Path]) -> list[Path]:
    """One run folder or several, as a non-empty list (BadInputError when empty)."""
    runs = [Path(run_dir)] if isinstance(run_dir, (str, Path)) else [Path(r) for r in run_dir]
    if not runs:
        raise BadInputError("no run folder given")
    return runs


def load_ensemble(run_dirs: Sequence[str | Path], tta: str | None = None,
                  weights: Sequence[float] | None = None) -> tuple[nn.Module, InputSpec, dict]:
    """The runs' kept models averaged (one run: that run's model as it is), the shared input
    spec and a payload like ``load_run_model``'s with ``members`` listing the runs.
    BadInputError when the runs disagree on task, classes, input size or channels."""
    runs = run_folders(run_dirs)
    if len(runs) == 1 and weights is None:
        return load_run_model(runs[0], tta)
    loaded = [load_run_model(run, tta) for run in runs]
    first_model, spec, first = loaded[0]
    members = [first_model]
    for run, (model, own, payload) in zip(runs[1:], loaded[1:]):
        _check_compatible(runs[0], first, spec, run, payload, own)
        members.append(model if own == spec else Renormalise(model, spec, own))
    model = ProbabilityMean(members, weights).eval()
    payload = dict(first, arch="ensemble(" + ", ".join(p["arch"] for _, _, p in loaded) + ")",
                   members=[{"run": str(run), "arch": p["arch"], "tta": p["tta"]} for run, (_, _, p) in zip(runs, loaded)],
                   weights=[float(w) for w in model.weights])
    return model, spec, payload


def _check_compatible(first_run: Path, first: dict, spec: InputSpec, run: Path, payload: dict,
                      own: InputSpec) -> None:
    if payload["task"] != first["task"] or list(payload["classes"]) != list(first["classes"]):
        raise BadInputError(f"{run}: task {payload['task']!r} with classes {list(payload['classes'])} differs "
                            f"from {first_run}'s ({first['task']!r}, {list(first['classes'])}): an ensemble's "
                            "members must share them")
    # mean/std may differ (Renormalise), the rest of the input spec may not
    if (own.size, own.channels, own.scale, own.layout) != (spec.size, spec.channels, spec.scale, spec.layout):
        raise BadInputError(f"{run}: input {own.size} {own.channels} (scale {own.scale}, {own.layout}) differs "
                            f"from {first_run}'s {spec.size} {spec.channels} (scale {spec.scale}, {spec.layout}): "
                            "an ensemble's members must share it")
