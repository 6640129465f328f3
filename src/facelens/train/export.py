"""Export a trained run to ONNX for the facelens model store, verified against PyTorch.

The model folder gets ``<name>.onnx`` (opset ≥ 17, dynamic batch), ``spec.json`` (the registry's
record: task, file, sha256, source run, licence, how to turn pixels into the input, the label
order, logits or probabilities) and a README.md with the provenance and the measured numbers,
opencv_zoo style. Copied under ``facelens/models/weights/``, the folder is a registered model
named after it (see ``models.registry``).
"""

from __future__ import annotations

import json
import time
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from ..errors import BadInputError, ModelError
from ..models.registry import sha256_of
from .ensemble import ExportedMember, ProbabilityMean, load_ensemble, run_folders
from .trainer import InputSpec

TOLERANCE = 1e-4
TASK_LABELS = {"emotion": "emotion", "gender_eyes": "gender_eyes"}


def to_onnx(model: torch.nn.Module, spec: InputSpec, path: Path, opset: int = 17) -> Path:
    """Write ``model`` as ONNX with input 'input' (N×C×H×W) and output 'logits' (N×classes)."""
    if opset < 17:
        raise BadInputError(f"opset {opset}: facelens exports use opset 17 or newer")
    model.eval()
    dummy = torch.zeros(1, len(spec.mean), *spec.size)
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        # The TorchScript exporter needs no onnxscript; its deprecation and LSTM batch notes are
        # expected (the LSTM's initial state is zeros, so any batch size runs).
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (dummy,), str(path), opset_version=opset, input_names=["input"],
                          output_names=["logits"], dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
                          dynamo=False)
    return path


def ensemble_to_onnx(model: ProbabilityMean, spec: InputSpec, path: Path, classes: int, opset: int = 17) -> Path:
    """Write an ensemble with exported members (ONNX graphs, which torch cannot trace) as one graph:
    every member's graph side by side on the shared 'input' (names prefixed m0_, m1_, …), then
    log(max(Σ w·softmax(logits), 1e-12)) — the arithmetic of ``ProbabilityMean``."""
    import onnx
    from onnx import TensorProto, compose, helper, numpy_helper

    nodes, initializers, value_info, weighted, opsets, ir_versions = [], [], [], [], {"": opset}, []
    for number, (member, share) in enumerate(zip(model.members, model.weights.tolist())):
        prefix = f"m{number}_"
        if isinstance(member, ExportedMember):
            graph = onnx.load(str(member.onnx_path))
        else:
            scratch = to_onnx(member, spec, path.with_name(f"{path.stem}.{prefix}onnx"), opset)
            graph = onnx.load(str(scratch))
            scratch.unlink()
        for op in graph.opset_import:
            domain = "" if op.domain == "ai.onnx" else op.domain
            if domain == "" and op.version > opset:
                raise BadInputError(f"member {number + 1} needs ONNX opset {op.version}: export with --opset {op.version}")
            opsets[domain] = max(opsets.get(domain, 0), op.version)
        ir_versions.append(graph.ir_version)
        graph = compose.add_prefix(graph, prefix).graph
        stored = {t.name for t in graph.initializer}
        member_input = next(i.name for i in graph.input if i.name not in stored)
        nodes += [helper.make_node("Identity", ["input"], [member_input]), *graph.node,
                  helper.make_node("Softmax", [graph.output[0].name], [f"{prefix}probs"], axis=1),
                  helper.make_node("Mul", [f"{prefix}probs", f"{prefix}share"], [f"{prefix}weighted"])]
        initializers += [*graph.initializer, numpy_helper.from_array(np.array(share, np.float32), f"{prefix}share")]
        value_info += graph.value_info
        weighted.append(f"{prefix}weighted")
    initializers.append(numpy_helper.from_array(np.array(1e-12, np.float32), "floor"))
    nodes += [helper.make_node("Sum", weighted, ["mean_probs"]),
              helper.make_node("Max", ["mean_probs", "floor"], ["floored"]),
              helper.make_node("Log", ["floored"], ["logits"])]
    shape = ["batch", len(spec.mean), *spec.size]
    graph = helper.make_graph(nodes, "facelens_ensemble",
                              [helper.make_tensor_value_info("input", TensorProto.FLOAT, shape)],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", classes])],
                              initializer=initializers, value_info=value_info)
    combined = helper.make_model(graph, producer_name="facelens",
                                 opset_imports=[helper.make_opsetid(d, v) for d, v in opsets.items()])
    combined.ir_version = min(ir_versions)
    onnx.checker.check_model(combined)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(combined, str(path))
    return path


def check_onnx(model: torch.nn.Module, path: Path, batch: np.ndarray, atol: float = TOLERANCE) -> float:
    """Max |ONNX − PyTorch| on ``batch`` (float32 N×C×H×W); raises ModelError above ``atol``."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {"input": batch.astype(np.float32)})[0]
    model.eval()
    with torch.no_grad():
        want = model(torch.from_numpy(batch.astype(np.float32))).numpy()
    diff = float(np.abs(got - want).max())
    if not diff <= atol:
        raise ModelError(f"{path}: ONNX output differs from PyTorch by {diff:.2e} (> {atol:.0e})")
    return diff


def onnx_ms(path: Path, spec: InputSpec, repeats: int = 200, threads: int = 1) -> float:
    """Median onnxruntime CPU time of one face (batch 1, one thread), in milliseconds.

    CPU (process) time, not wall time: on a shared machine wall time mostly measures the queue
    for a core; with one intra-op thread onnxruntime computes in the calling thread."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    x = np.zeros((1, len(spec.mean), *spec.size), np.float32)
    times = []
    session.run(None, {"input": x})
    for _ in range(repeats // 10):
        t = time.process_time()
        for _ in range(10):
            session.run(None, {"input": x})
        times.append((time.process_time() - t) / 10)
    return round(float(np.median(times)) * 1000, 3)


LICENCE = ("Apache-2.0 (facelens's own weights; the training data's terms apply to the data, "
           "which is not shipped)")


def spec_json(task: str, spec: InputSpec, labels: list[str], onnx_path: Path, run_dir: Path,
              arch: str) -> dict:
    """The registry's spec.json for an exported model (``models.registry.read_spec`` reads it)."""
    height, width = spec.size
    return {
        "role": f"{task} classifier trained by `facelens train` ({arch})",
        "task": TASK_LABELS[task],
        "filename": onnx_path.name,
        "sha256": sha256_of(onnx_path),
        "size_bytes": onnx_path.stat().st_size,
        "source": {"registry": "facelens", "package": "facelens-train", "version": run_dir.name,
                   "path": str(run_dir)},
        "licence": LICENCE,
        "input_spec": f"N×{len(spec.mean)}×{height}×{width} float32 {spec.channels}, "
                      "(x·scale − mean) / std from spec.json",
        "output_spec": f"{len(labels)} logits: {', '.join(labels)}",
        "input": spec.to_json(),
        "labels": list(labels),
        "output": "logits",
    }


def export_run(run_dir: str | Path | Sequence[str | Path], out_dir: str | Path, opset: int = 17,
               name: str | None = None, note: str = "", tta: str | None = None,
               weights: Sequence[float] | None = None, data: str | Path | None = None) -> dict:
    """Export ``run_dir``'s kept model into ``out_dir``; returns what was written and measured.
    ``tta`` ("flip", "ten_crop", "none") overrides the run's test-time augmentation; it is part
    of the exported graph either way. Several run folders export as one ensemble graph (their
    probabilities averaged, ``weights`` per run: ``train.ensemble``). ``data`` (a labelled set,
    as for ``facelens train evaluate``): the exported model is scored on it and the numbers go
    into the README (an ensemble has no stored evaluation of its own)."""
    runs = run_folders(run_dir)
    run_dir, out_dir = runs[0], Path(out_dir)
    if any(out_dir.resolve() == run.resolve() for run in runs):
        raise BadInputError(f"--out {out_dir} is one of the members: write to a new folder, then replace the old one")
    model, spec, payload = load_ensemble(runs, tta, weights)
    name = name or out_dir.name
    if isinstance(model, ExportedMember):
        raise BadInputError(f"{run_dir} is an exported model already: give it with run folders to extend it")
    if isinstance(model, ProbabilityMean) and any(isinstance(m, ExportedMember) for m in model.members):
        onnx_path = ensemble_to_onnx(model, spec, out_dir / f"{name}.onnx", len(payload["classes"]), opset)
    else:
        onnx_path = to_onnx(model, spec, out_dir / f"{name}.onnx", opset)
    rng = np.random.default_rng(0)
    # Random inputs in the normalised range, batch 4: also exercises the dynamic batch axis.
    probe = rng.normal(size=(4, len(spec.mean), *spec.size)).astype(np.float32)
    diff = check_onnx(model, onnx_path, probe)
    spec_doc = spec_json(payload["task"], spec, payload["classes"], onnx_path, run_dir, payload["arch"])
    if "members" in payload:
        spec_doc["source"].update(version=" + ".join(r.name for r in runs), path=" + ".join(str(r) for r in runs))
        spec_doc["ensemble"] = {"members": payload["members"], "weights": payload["weights"],
                                "combination": "log of the weighted mean of the members' softmax probabilities"}
    (out_dir / "spec.json").write_text(json.dumps(spec_doc, indent=2) + "\n", encoding="utf-8")
    latency = onnx_ms(onnx_path, spec)
    info = {"onnx": str(onnx_path), "sha256": spec_doc["sha256"], "size_bytes": spec_doc["size_bytes"],
            "max_abs_diff_vs_torch": diff, "onnx_cpu_ms_1thread": latency, "opset": opset,
            "tta": payload.get("tta", "none")}
    measured = {}
    if data is not None:
        from .evaluate import evaluate_run

        measured = evaluate_run(runs, data, weights=payload.get("weights"), tta=tta)
        info["evaluations"] = {part: {k: m[k] for k in ("n", "accuracy", "balanced_accuracy", "macro_f1")}
                               | ({"selection_set": m["selection_set"]} if "selection_set" in m else {})
                               for part, m in measured.items()}
    if "members" in payload:
        command = " ".join(["facelens train export", *map(str, runs), "--out", str(out_dir)]
                           + (["--tta", tta] if tta else [])
                           + (["--weights", ",".join(f"{w:g}" for w in weights)] if weights else [])
                           + (["--data", str(data)] if data is not None else []))
        _write_ensemble_readme(out_dir, name, runs, payload, spec_doc, info, measured, note, command)
    else:
        _write_readme(out_dir, name, run_dir, payload, spec_doc, info, note, measured)
    return info


def _run_files(run_dir: Path) -> tuple[dict, dict]:
    """The run's summary.json and config.json ({} where missing)."""
    summary_path, config_path = run_dir / "summary.json", run_dir / "config.json"
    summary = json.loads(summary_path.read_text(encoding="utf-8")) if summary_path.exists() else {}
    cfg = json.loads(config_path.read_text(encoding="utf-8")) if config_path.exists() else {}
    return summary, cfg


def _write_readme(out_dir: Path, name: str, run_dir: Path, payload: dict, spec_doc: dict, info: dict,
                  note: str = "", measured: dict | None = None) -> None:
    summary, cfg = _run_files(run_dir)
    lines = [f"# {name}", "",
             f"Trained by facelens itself (`facelens train`), architecture `{payload['arch']}`, "
             "from scratch (no ImageNet or other pre-trained weights).", "",
             *_file_lines(spec_doc, info),
             f"- output: logits over {spec_doc['labels']} (apply softmax)",
             f"- test-time augmentation inside the graph: {info['tta']}"
             + (" (the per-split numbers below are the run's own evaluation, without it)"
                if info["tta"] != cfg.get("tta", "none") and not measured else ""),
             f"- parameters: {summary.get('params', '?'):,}" if summary else "- parameters: ?",
             f"- data: `{cfg.get('data', '?')}`; split: {summary.get('split', '?')}",
             f"- training: {summary.get('epochs_done', '?')} epochs, batch {cfg.get('batch_size', '?')}, "
             f"seed {cfg.get('seed', '?')}, one thread; {summary.get('train_seconds', 0) / 60:.1f} min wall time "
             "on 2 CPU cores shared with other jobs (kept epoch "
             f"{summary.get('selected_epoch', '?')}, best validation "
             f"{cfg.get('select', 'accuracy').replace('_', ' ')})",
             f"- command: `{cfg.get('command', '?')}`",
             _speed_line(info),
             ""]
    lines += _evaluation_lines(measured or summary.get("evaluations", {}))
    _finish_readme(out_dir, lines, note)


def _file_lines(spec_doc: dict, info: dict) -> list[str]:
    """The README's lines on the ONNX file, its check against PyTorch and its input."""
    model_input = spec_doc["input"]
    return [f"- file: `{Path(info['onnx']).name}` ({info['size_bytes']:,} bytes), sha256 `{info['sha256']}`",
            f"- ONNX opset {info['opset']}; max |ONNX − PyTorch| = {info['max_abs_diff_vs_torch']:.1e} "
            "on a random batch of 4",
            f"- input: N×{len(model_input['mean'])}×{model_input['size'][0]}×{model_input['size'][1]} "
            f"{model_input['channels']}, (pixel × scale − mean) / std, see `spec.json`"]


def _speed_line(info: dict) -> str:
    return (f"- speed: {info['onnx_cpu_ms_1thread']} ms CPU time per face (onnxruntime, 1 thread, batch 1, "
            "model call only, this machine)")


def _evaluation_lines(evaluations: dict) -> list[str]:
    lines = []
    for split, metrics in evaluations.items():
        lines += [f"## Measured on {split} (n = {metrics['n']})", ""]
        if "selection_set" in metrics:
            lines += [f"**Selection set**: {metrics['selection_set']}.", ""]
        lines += [f"accuracy {metrics['accuracy']:.2%}, balanced accuracy {metrics['balanced_accuracy']:.2%}, "
                  f"macro F1 {metrics['macro_f1']:.3f}", "",
                  "| class | precision | recall | F1 | support |", "|---|---|---|---|---|"]
        for cls, row in metrics["per_class"].items():
            lines.append(f"| {cls} | {row['precision']:.3f} | {row['recall']:.3f} | {row['f1']:.3f} | {row['support']} |")
        lines.append("")
    return lines


def _write_ensemble_readme(out_dir: Path, name: str, runs: list[Path], payload: dict, spec_doc: dict,
                           info: dict, measured: dict, note: str, command: str) -> None:
    shares = ", ".join(f"{w:.3g}" for w in payload["weights"])
    networks = sum(len(m.get("members", [])) or 1 for m in payload["members"])
    lines = [f"# {name}", "",
             f"An ensemble of {networks} networks trained by facelens itself (`facelens train`), from scratch "
             "(no ImageNet or other pre-trained weights): one ONNX graph that runs every member on the input "
             f"and returns the log of their weighted mean softmax probability (members' weights {shares}).", "",
             *_file_lines(spec_doc, info),
             f"- output: log-probabilities over {spec_doc['labels']} (softmax gives the mean probability)",
             _speed_line(info),
             f"- command: `{command}`", ""]
    for number, (run, member) in enumerate(zip(runs, payload["members"]), start=1):
        if "sha256" in member:  # an exported model folder, e.g. the shipped ensemble this one extends
            lines += _exported_member_lines(number, run, member)
            continue
        summary, cfg = _run_files(run)
        lines += [f"## Member {number}: `{run.name}` ({member['arch']}, test-time augmentation {member['tta']})", "",
                  f"- parameters: {summary.get('params', 0):,}; {summary.get('epochs_done', '?')} epochs, "
                  f"seed {cfg.get('seed', '?')}, {summary.get('train_seconds', 0) / 60:.1f} min wall time "
                  f"(kept epoch {summary.get('selected_epoch', '?')}, best validation "
                  f"{cfg.get('select', 'accuracy').replace('_', ' ')} on {cfg.get('validation') or 'a held-out part of train'})",
                  f"- data: `{cfg.get('data', '?')}`; split: {summary.get('split', '?')}",
                  f"- command: `{cfg.get('command', '?')}`", ""]
        for split, metrics in summary.get("evaluations", {}).items():
            lines.append(f"- alone on {split}: accuracy {metrics['accuracy']:.2%}, balanced "
                         f"{metrics['balanced_accuracy']:.2%}")
        lines.append("")
    lines += _evaluation_lines(measured)
    _finish_readme(out_dir, lines, note)


def _exported_member_lines(number: int, folder: Path, member: dict) -> list[str]:
    """An exported member's README section: its file, its measured accuracy and its own README's
    member sections (one heading level down: how each was trained), all from that README. Its own
    accuracy comes first, so that it does not read as its last nested member's."""
    heading = [f"## Member {number}: `{folder.name}` (an exported model: ONNX sha256 `{member['sha256']}`, "
               "its test-time augmentation inside its graph)", ""]
    nested: list[str] = []  # its own members' sections, one heading level down
    readme = folder / "README.md"
    text = readme.read_text(encoding="utf-8").splitlines() if readme.is_file() else []
    section, alone, selection = None, [], False
    for line in text:
        if line.startswith("## "):
            section, selection = line[3:], False
            if section.startswith("Member "):
                nested.append("#" + line)
                continue
        if section is None:
            continue
        if section.startswith("Member "):
            nested.append(line)
        elif section.startswith("Measured on ") and line.startswith("**Selection set**"):
            selection = True
        elif section.startswith("Measured on ") and line.startswith("accuracy "):
            alone.append(f"- alone on {section[len('Measured on '):].split(' (n =')[0]}: "
                         + line.split(", macro F1")[0] + (" (selection set)" if selection else ""))
    return heading + alone + [""] + nested


def _finish_readme(out_dir: Path, lines: list[str], note: str) -> None:
    if note:
        lines += ["## Notes", "", note, ""]
    lines += ["Licence: the weights are facelens's own (Apache-2.0, like the code); the training data's",
              "terms (FER2013: ICML 2013 challenge data, research use; LFW: UMass research benchmark)",
              "apply to the data, which is not shipped.", ""]
    (out_dir / "README.md").write_text("\n".join(lines), encoding="utf-8")
