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

A member may also be a model folder exported earlier (spec.json + ONNX, e.g. a shipped model):
``ExportedMember`` runs it with onnxruntime, so a shipped ensemble takes new members without the
run folders it was trained in (a user of the package has only the folder). Its own test-time
augmentation is inside its graph; ``--tta`` applies to run folders only.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np
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


class ExportedMember(nn.Module):
    """An exported model folder's ONNX graph as a module (forward runs onnxruntime; no gradient):
    its output is the logits its spec.json declares, so it averages like a trained run's model."""

    def __init__(self, folder: Path, spec_doc: dict) -> None:
        super().__init__()
        import onnxruntime as ort

        self.folder, self.spec_doc = folder, spec_doc
        self.onnx_path = folder / spec_doc["filename"]
        self._session = ort.InferenceSession(str(self.onnx_path), providers=["CPUExecutionProvider"])
        self._input = self._session.get_inputs()[0].name

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch = x.detach().cpu().numpy().astype(np.float32)
        return torch.from_numpy(self._session.run(None, {self._input: batch})[0])


def load_exported(folder: Path) -> tuple[nn.Module, InputSpec, dict]:
    """An exported model folder as an ensemble member: (module, input spec, a payload shaped like
    ``load_run_model``'s). BadInputError for a folder that is not a facelens classifier export."""
    try:
        doc = json.loads((folder / "spec.json").read_text(encoding="utf-8"))
        usable = doc.get("output") == "logits" and (folder / doc["filename"]).is_file() and "input" in doc
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BadInputError(f"{folder}: unreadable spec.json ({exc})") from None
    if not usable:
        raise BadInputError(f"{folder}: not an exported classifier (spec.json with \"output\": \"logits\", "
                            "an input spec and its ONNX file)")
    payload = {"task": doc["task"], "classes": list(doc["labels"]), "arch": f"exported {folder.name}",
               "tta": "in its graph", "input": doc["input"], "exported": folder.name, "sha256": doc["sha256"],
               "validation": sorted(_exported_validations(doc)),
               "inner_members": doc.get("ensemble", {}).get("members", [])}
    return ExportedMember(folder, doc).eval(), InputSpec.from_json(doc["input"]), payload


def _exported_validations(doc: dict) -> set[str]:
    """The test parts an exported model's members selected their kept epoch on (spec.json)."""
    members = doc.get("ensemble", {}).get("members", [])
    found = set()
    for member in members:
        validation = member.get("validation") or []
        found |= {validation} if isinstance(validation, str) else set(validation)
    return found


def load_member(path: Path, tta: str | None = None) -> tuple[nn.Module, InputSpec, dict]:
    """A run folder's kept model (``tta`` applies) or an exported model folder (its own TTA)."""
    if (path / "model.pt").is_file() or not (path / "spec.json").is_file():
        model, spec, payload = load_run_model(path, tta)
        return model, spec, dict(payload, validation=_run_validation(path))
    return load_exported(path)


def _run_validation(run_dir: Path) -> str:
    """The test part the run selected its kept epoch on ("" when validation was held out of the
    training data), from the run's config.json."""
    config = run_dir / "config.json"
    if not config.is_file():
        return ""
    return str(json.loads(config.read_text(encoding="utf-8")).get("validation") or "")


def member_validations(payload: dict) -> set[str]:
    """The test parts a loaded member (run or exported model) was selected on."""
    validation = payload.get("validation") or []
    return {validation} if isinstance(validation, str) else set(validation)


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
        return load_member(runs[0], tta)
    loaded = [load_member(run, tta) for run in runs]
    first_model, spec, first = loaded[0]
    members = [first_model]
    for run, (model, own, payload) in zip(runs[1:], loaded[1:]):
        _check_compatible(runs[0], first, spec, run, payload, own)
        members.append(model if own == spec else Renormalise(model, spec, own))
    model = ProbabilityMean(members, weights).eval()
    payload = dict(first, arch="ensemble(" + ", ".join(p["arch"] for _, _, p in loaded) + ")",
                   members=[_member_record(run, p) for run, (_, _, p) in zip(runs, loaded)],
                   weights=[float(w) for w in model.weights])
    return model, spec, payload


def _member_record(run: Path, payload: dict) -> dict:
    """A member's entry in the ensemble's spec.json: where it came from and what it was chosen on."""
    record = {"run": str(run), "arch": payload["arch"], "tta": payload["tta"],
              "validation": payload.get("validation") or ""}
    if "exported" in payload:  # its own members' provenance travels with it (its README is replaced)
        record.update(sha256=payload["sha256"], members=payload["inner_members"])
    return record


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
