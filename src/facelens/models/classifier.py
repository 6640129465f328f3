"""Image classifiers described by their ``spec.json``: crops in, class probabilities out.

One definition of how pixels become a model input (``InputSpec``), shared by the training toolkit
(which fits and writes it) and by inference (emotion, gender, periocular gender), so a model sees
at inference exactly the numbers it was trained on. The ``input`` section of a spec.json:
``layout`` (NCHW or NHWC), ``size`` [H, W], ``channels`` (grey or rgb), ``scale``, ``mean``,
``std``: input = (pixel × scale − mean) / std per channel.

A classifier is checked against its file when it is built: the ``labels`` must match the model's
output width and the ``input`` section its input shape (where the file fixes them), so a spec that
does not describe its model fails at once, naming the field, instead of mislabelling faces.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from ..errors import BadInputError, ModelError
from .registry import ModelSpec

# ITU-R 601 luma, the weights of cv2.COLOR_RGB2GRAY (fer's and FER2013's grey).
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
MAX_SIDE = 4096  # px: far above any face classifier's input, low enough to refuse nonsense


class _Bad(Exception):
    """(field, what is wrong) of an ``input`` section."""


def _numbers(data: Mapping, key: str, default: float, depth: int, positive: bool) -> tuple[float, ...]:
    value = data.get(key, default)
    values = list(value) if isinstance(value, (list, tuple)) else [value]
    if len(values) not in (1, depth) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and (v > 0 or not positive)
            for v in values):
        kind = "positive numbers" if positive else "numbers"
        raise _Bad(f"input.{key}", f"must be one or {depth} {kind} (one per channel), not {value!r}")
    return tuple(float(v) for v in np.broadcast_to(np.asarray(values, dtype=np.float64), depth))


def _size(data: Mapping) -> tuple[int, int]:
    value = data.get("size")
    if (not isinstance(value, (list, tuple)) or len(value) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) and 0 < v <= MAX_SIDE for v in value)):
        raise _Bad("input.size", f"must be [height, width] in pixels, not {value!r}")
    return int(value[0]), int(value[1])


@dataclass(frozen=True)
class InputSpec:
    size: tuple[int, int]  # (H, W)
    channels: str  # "grey" or "rgb"
    mean: tuple[float, ...]
    std: tuple[float, ...]
    scale: float = 1.0 / 255.0
    layout: str = "NCHW"

    def to_json(self) -> dict[str, Any]:
        return {"layout": self.layout, "size": list(self.size), "channels": self.channels,
                "scale": self.scale, "mean": list(self.mean), "std": list(self.std)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None, name: str = "model", where: str | None = None) -> "InputSpec":
        """Parse a spec.json ``input`` section; BadInputError naming the field if it is malformed
        (``where``: the spec.json to name in the message, default the model ``name``)."""
        try:
            return cls._parse(data)
        except _Bad as exc:
            field, problem = exc.args
            raise BadInputError(f"{where or f'model {name!r} spec.json'}: field {field!r} {problem}") from None

    @classmethod
    def _parse(cls, data: Any) -> "InputSpec":
        if not isinstance(data, Mapping):
            raise _Bad("input", "must be an object (layout, size, channels, scale, mean, std)")
        channels = data.get("channels", "rgb")
        channels = {"gray": "grey"}.get(channels, channels) if isinstance(channels, str) else channels
        if channels not in ("grey", "rgb"):
            raise _Bad("input.channels", f"must be 'grey' or 'rgb', not {channels!r}")
        layout = data.get("layout", "NCHW")
        if not isinstance(layout, str) or layout.upper() not in ("NCHW", "NHWC"):
            raise _Bad("input.layout", f"must be 'NCHW' or 'NHWC', not {layout!r}")
        depth = 1 if channels == "grey" else 3
        (scale,) = _numbers(data, "scale", 1.0 / 255.0, 1, positive=True)
        return cls(size=_size(data), channels=channels, mean=_numbers(data, "mean", 0.0, depth, positive=False),
                   std=_numbers(data, "std", 1.0, depth, positive=True), scale=scale, layout=layout.upper())

    @classmethod
    def fit(cls, images: np.ndarray, channels: str) -> "InputSpec":
        """Per-channel mean and std of N×H×W×C uint8 training images (rounded for the JSON)."""
        pixels = images.reshape(-1, images.shape[-1]).astype(np.float64) * (1.0 / 255.0)
        mean = tuple(round(float(v), 4) for v in pixels.mean(0))
        std = tuple(round(float(v), 4) for v in np.maximum(pixels.std(0), 1e-3))
        return cls(tuple(images.shape[1:3]), channels, mean, std)

    @property
    def tensor_shape(self) -> tuple[int, int, int]:
        """One image's input shape, without the batch axis: (C, H, W) or (H, W, C)."""
        depth = len(self.mean)
        return (depth, *self.size) if self.layout == "NCHW" else (*self.size, depth)

    def array(self, images: list[np.ndarray] | np.ndarray) -> np.ndarray:
        """N×H×W×C uint8 images (RGB crops, or already grey N×H×W×1) → the float32 model input."""
        batch = np.stack(images).astype(np.float32)
        if self.channels == "grey" and batch.shape[-1] == 3:
            batch = (batch @ LUMA)[..., None]
        batch = batch * self.scale
        batch = (batch - np.array(self.mean, dtype=np.float32)) / np.array(self.std, dtype=np.float32)
        if self.layout == "NCHW":
            batch = batch.transpose(0, 3, 1, 2)
        return np.ascontiguousarray(batch, dtype=np.float32)


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


class Classifier:
    """A registered classifier (``task``, ``input``, ``labels`` and ``output`` in its spec.json),
    on onnxruntime (.onnx) or LiteRT (.tflite); bundled or a user's model folder."""

    def __init__(self, spec: ModelSpec) -> None:
        if not spec.labels:
            raise ModelError(f"model {spec.name!r}: spec.json lists no labels")
        self.name = spec.name
        self.labels = spec.labels
        self.origin = spec.origin
        self._where = str(spec.spec_file) if spec.spec_file is not None else f"model {spec.name!r} spec.json"
        self.input = InputSpec.from_json(spec.model_input, where=self._where)
        self._logits = spec.output != "probabilities"
        self._file = spec.filename
        self._run, input_shape, output_shape = _runner(spec)
        self._check_input(input_shape)
        self._check_classes(output_shape[-1] if output_shape else None)

    def predict_crops(self, crops: list[np.ndarray]) -> np.ndarray:
        """N×len(labels) probabilities for crops already cut to ``input.size``."""
        if not len(crops):
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        try:
            out = np.asarray(self._run(self.input.array(crops)), dtype=np.float32)
        except Exception as exc:  # onnxruntime / LiteRT raise their own types on a shape they refuse
            raise ModelError(f"{self._file} ({self.name}) refused its input {self.input.tensor_shape}: "
                             f"{str(exc).splitlines()[0][:200]}; check 'input' in {self._where}") from None
        if out.ndim != 2:
            raise ModelError(f"{self._file} ({self.name}) gives a {out.ndim}-D output; a classifier gives N×classes")
        self._check_classes(out.shape[1])
        return softmax(out) if self._logits else out / out.sum(axis=1, keepdims=True)

    def _check_classes(self, classes: Any) -> None:
        if isinstance(classes, (int, np.integer)) and classes > 0 and classes != len(self.labels):
            raise BadInputError(f"{self._where}: field 'labels' lists {len(self.labels)} classes but "
                                f"{self._file} outputs {classes}")

    def _check_input(self, shape: tuple) -> None:
        """Compare the fixed dimensions of the model's input with the spec's ``input`` section."""
        if shape is None:
            return
        expected = self.input.tensor_shape
        if len(shape) != 4:
            raise BadInputError(f"{self._where}: {self._file} takes a {len(shape)}-D input; a facelens "
                                "classifier takes images, N×C×H×W or N×H×W×C")
        fixed = [(want, got) for want, got in zip(expected, shape[1:])
                 if isinstance(got, (int, np.integer)) and got > 0]
        if any(want != got for want, got in fixed):
            shown = "×".join(str(d) if isinstance(d, (int, np.integer)) else "?" for d in shape[1:])
            raise BadInputError(f"{self._where}: field 'input' describes {self.input.layout} "
                                f"{'×'.join(map(str, expected))} but {self._file} takes {shown}")


def _runner(spec: ModelSpec):
    """(run(batch) → output, input shape, output shape) of the model file; shapes as the file
    states them (symbolic dimensions are strings or None)."""
    from . import runtime

    suffix = Path(spec.filename).suffix.lower()
    if suffix == ".onnx":
        session = runtime.onnx(spec.key)
        first = session.get_inputs()[0]
        outputs = session.get_outputs()
        return (lambda batch: session.run(None, {first.name: batch})[0]), tuple(first.shape), tuple(outputs[0].shape)
    if suffix == ".tflite":
        model = runtime.tflite(spec.key)
        output_shape = tuple(int(v) for v in model.outputs[0]["shape"])
        if model.input_shape[0] == 1:  # a graph with its batch fixed at 1: one call per crop
            run = lambda batch: np.concatenate([model.run(batch[i:i + 1])[0] for i in range(len(batch))])  # noqa: E731
        else:
            run = lambda batch: model.run(batch)[0]  # noqa: E731
        return run, model.input_shape, output_shape
    raise BadInputError(f"model {spec.name!r}: field 'filename' must be an .onnx or .tflite file, not {spec.filename}")
