"""Inference time per face of the models trained by `facelens train`, against the shipped peers
doing the same job, measured in one run.

- emotion: ``emotion_facelens_cnn`` (ONNX, onnxruntime) vs ``emotion_mini_xception`` (the fer
  package's quantised tflite, ai-edge-litert; its tflite has a fixed batch of 1);
- gender: ``gender_eyes_facelens`` (ONNX, eye band 40×80) vs ``gender_cydral`` (ONNX, 32×32 face
  chip) — different inputs, same question.

Model call only (preprocessing and detection excluded), batch 1, one thread each
(FACELENS_THREADS=1 unless ``--threads``). Times are CPU (process) time, median of ``--repeat``
passes of ``--calls`` calls: on a machine shared with other jobs wall time mostly measures the
queue for a core. Needs only the core install (no torch). Run:

    python bench/bench_train_inference.py [--repeat 5] [--calls 200] [--threads 1] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import numpy as np


def _per_call_ms(function, calls: int, repeat: int) -> tuple[float, float]:
    function()  # warm-up
    cpu, wall = [], []
    for _ in range(repeat):
        c, w = time.process_time(), time.perf_counter()
        for _ in range(calls):
            function()
        cpu.append((time.process_time() - c) / calls * 1000)
        wall.append((time.perf_counter() - w) / calls * 1000)
    return statistics.median(cpu), statistics.median(wall)


def _onnx_call(name: str):
    from facelens.models.runtime import onnx

    session = onnx(name)
    inp = session.get_inputs()[0]
    shape = [1 if not isinstance(d, int) else d for d in inp.shape]
    x = np.random.default_rng(0).normal(size=shape).astype(np.float32)
    return lambda: session.run(None, {inp.name: x})


def _tflite_call(name: str):
    from facelens.models.runtime import tflite

    model = tflite(name)
    x = np.zeros(model.input_shape, np.float32)
    return lambda: model.run(x)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", default="")
    args = parser.parse_args()
    os.environ.setdefault("FACELENS_THREADS", str(args.threads))
    from facelens.errors import ModelError

    pairs = [("emotion", ("emotion_facelens_cnn", _onnx_call), ("emotion_mini_xception", _tflite_call)),
             ("gender", ("gender_eyes_facelens", _onnx_call), ("gender_cydral", _onnx_call))]
    results = {}
    for task, (ours, make_ours), (peer, make_peer) in pairs:
        row = {}
        for label, name, make in (("facelens", ours, make_ours), ("peer", peer, make_peer)):
            try:
                cpu, wall = _per_call_ms(make(name), args.calls, args.repeat)
                row[label] = {"model": name, "cpu_ms": round(cpu, 4), "wall_ms": round(wall, 4)}
            except (ModelError, KeyError) as exc:
                row[label] = {"model": name, "error": str(exc)}
        if "cpu_ms" in row["facelens"] and "cpu_ms" in row["peer"]:
            row["ratio_facelens_over_peer"] = round(row["facelens"]["cpu_ms"] / row["peer"]["cpu_ms"], 3)
        results[task] = row
        f, p = row["facelens"], row["peer"]
        print(f"{task:8s} {f['model']:24s} {f.get('cpu_ms', 'n/a')!s:>8} ms CPU | "
              f"{p['model']:24s} {p.get('cpu_ms', 'n/a')!s:>8} ms CPU | ratio {row.get('ratio_facelens_over_peer', 'n/a')}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(results, handle, indent=2)


if __name__ == "__main__":
    main()
