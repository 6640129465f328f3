"""Facial expression, 7 classes, with probabilities.

Two kinds of model fill the same slot (``get_emotion_model(name)``):

- ``emotion_mini_xception`` (default): fer's quantised mini-Xception (MIT). Its preprocessing is
  fer's own (fer/fer.py ``detect_emotions``): grey, resized to 64×64, x/255, then (x − 0.5)·2.
  Class order checked on real labelled faces (150 FER2013 test images per class, diagonal
  dominant): angry, disgust, fear, happy, sad, surprise, neutral — fer's ``_get_labels``.
- any ONNX model from the training toolkit (issue 8) registered in ``models.registry`` with a
  ``spec.json`` beside it (``task: "emotion"``): input layout/size/channels/scale/mean/std, labels
  and whether the output is logits or probabilities are read from that file.

Face crop: FER2013 images are tight 48×48 face crops. Instead of fer's Haar box + 10 px we warp
each face with a similarity transform from its keypoints to where BlazeFace finds those
keypoints on FER2013 images (mean over 643 FER2013 test faces upscaled ×4, see docs/attributes.md),
so a detected face is framed like the training data. ``detector="skip"`` faces (the whole image is
the crop) are resized as they are, exactly like FER2013.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass

import cv2
import numpy as np

from ..alignment import similarity_transform
from ..errors import ModelError
from ..types import Face

DEFAULT_EMOTION_MODEL = "emotion_mini_xception"
EMOTIONS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")

# Keypoints of an average FER2013 face, in a 48×48 crop (measured, then made left-right symmetric).
FER_TEMPLATE_48 = {
    "right_eye": (15.33, 18.24),
    "left_eye": (32.67, 18.24),
    "nose": (24.0, 27.89),
    "mouth": (24.0, 36.77),
}


@dataclass(frozen=True)
class InputSpec:
    size: tuple[int, int]  # (H, W)
    channels: str  # "grey" or "rgb"
    layout: str  # "NHWC" or "NCHW"
    scale: float
    mean: tuple[float, ...]
    std: tuple[float, ...]


def fer_crop(rgb: np.ndarray, face: Face, size: tuple[int, int]) -> np.ndarray:
    """The face framed like a FER2013 image, size (H, W), RGB uint8."""
    height, width = size
    if face.detector == "skip" or not {"right_eye", "left_eye"} <= set(face.keypoints):
        x1, y1, x2, y2 = (int(round(v)) for v in face.box)
        x1, y1 = max(x1, 0), max(y1, 0)
        x2, y2 = min(x2, rgb.shape[1]), min(y2, rgb.shape[0])
        crop = rgb[y1:y2, x1:x2]
        if crop.size == 0:
            crop = rgb
        return cv2.resize(crop, (width, height), interpolation=cv2.INTER_AREA)
    names = [n for n in FER_TEMPLATE_48 if n in face.keypoints]
    src = np.array([face.keypoints[n] for n in names], dtype=np.float64)
    dst = np.array([FER_TEMPLATE_48[n] for n in names], dtype=np.float64)
    dst = dst * np.array([width / 48.0, height / 48.0])
    matrix = similarity_transform(src, dst)
    return cv2.warpAffine(rgb, matrix, (width, height), flags=cv2.INTER_AREA,
                          borderMode=cv2.BORDER_REPLICATE)


def to_tensor(crops: list[np.ndarray], spec: InputSpec) -> np.ndarray:
    batch = np.stack(crops).astype(np.float32)  # N×H×W×3
    if spec.channels == "grey":
        # ITU-R 601 luma, the same weights as cv2.COLOR_RGB2GRAY used by fer.
        batch = (batch @ np.array([0.299, 0.587, 0.114], dtype=np.float32))[..., None]
    batch = batch * spec.scale
    batch = (batch - np.array(spec.mean, dtype=np.float32)) / np.array(spec.std, dtype=np.float32)
    if spec.layout == "NCHW":
        batch = batch.transpose(0, 3, 1, 2)
    return np.ascontiguousarray(batch, dtype=np.float32)


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


class EmotionModel:
    """Crops, preprocesses and runs one expression model; ``predict`` → N×len(labels) probs."""

    def __init__(self, name: str, labels: tuple[str, ...], spec: InputSpec, run, outputs_logits: bool):
        self.name = name
        self.labels = labels
        self.spec = spec
        self._run = run
        self._logits = outputs_logits

    def crops(self, rgb: np.ndarray, faces: list[Face]) -> list[np.ndarray]:
        return [fer_crop(rgb, face, self.spec.size) for face in faces]

    def predict_crops(self, crops: list[np.ndarray]) -> np.ndarray:
        if not crops:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        out = self._run(to_tensor(crops, self.spec)).astype(np.float32)
        return softmax(out) if self._logits else out / out.sum(axis=1, keepdims=True)

    def predict(self, rgb: np.ndarray, faces: list[Face], flip: bool = False) -> np.ndarray:
        """N×len(labels) probabilities. ``flip``: average with the mirrored crop (test-time
        augmentation: +1.7 points on 1,311 FER2013 test images, at twice the cost)."""
        crops = self.crops(rgb, faces)
        probs = self.predict_crops(crops)
        if flip and crops:
            probs = (probs + self.predict_crops([np.ascontiguousarray(c[:, ::-1]) for c in crops])) / 2
        return probs


def _mini_xception() -> EmotionModel:
    from ..models.runtime import tflite

    session = tflite(DEFAULT_EMOTION_MODEL)
    spec = InputSpec(size=(64, 64), channels="grey", layout="NHWC", scale=2.0 / 255.0,
                     mean=(1.0,), std=(1.0,))  # x/255 → (x − 0.5)·2 == x·2/255 − 1

    def run(batch: np.ndarray) -> np.ndarray:
        # the .tflite has a fixed batch of 1
        return np.concatenate([session.run(batch[i:i + 1])[0] for i in range(len(batch))])

    return EmotionModel(DEFAULT_EMOTION_MODEL, EMOTIONS, spec, run, outputs_logits=False)


def read_spec_json(name: str) -> dict:
    """The ``spec.json`` beside a registered ONNX model (training toolkit format)."""
    from ..models.registry import model_path

    path = model_path(name).parent / "spec.json"
    if not path.is_file():
        raise ModelError(f"model {name!r} has no spec.json beside {model_path(name).name}; "
                         "it cannot be used as an attribute model")
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ModelError(f"{path}: unreadable spec ({exc})") from None


def input_spec_from(spec: dict, name: str) -> InputSpec:
    try:
        inp = spec["input"]
        channels = {"gray": "grey"}.get(inp.get("channels", "rgb"), inp.get("channels", "rgb"))
        depth = 1 if channels == "grey" else 3
        mean = tuple(float(v) for v in np.broadcast_to(inp.get("mean", 0.0), depth))
        std = tuple(float(v) for v in np.broadcast_to(inp.get("std", 1.0), depth))
        height, width = (int(v) for v in inp["size"])
        return InputSpec(size=(height, width), channels=channels,
                         layout=inp.get("layout", "NCHW").upper(),
                         scale=float(inp.get("scale", 1.0 / 255.0)), mean=mean, std=std)
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"model {name!r}: bad input section in spec.json ({exc})") from None


def _onnx_model(name: str) -> EmotionModel:
    from ..models.runtime import onnx

    spec = read_spec_json(name)
    if spec.get("task") != "emotion":
        raise ModelError(f"model {name!r} is a {spec.get('task')!r} model, not an emotion model")
    labels = tuple(spec.get("labels") or ())
    if not labels:
        raise ModelError(f"model {name!r}: spec.json lists no labels")
    session = onnx(name)
    input_name = session.get_inputs()[0].name
    return EmotionModel(name, labels, input_spec_from(spec, name),
                        lambda batch: session.run(None, {input_name: batch})[0],
                        outputs_logits=spec.get("output", "logits") == "logits")


@functools.lru_cache(maxsize=8)
def get_emotion_model(name: str = DEFAULT_EMOTION_MODEL) -> EmotionModel:
    """The named expression model, loaded once per process."""
    if name == DEFAULT_EMOTION_MODEL:
        return _mini_xception()
    from ..models.registry import get_spec

    if not get_spec(name).filename.endswith(".onnx"):
        raise ModelError(f"model {name!r} is not an ONNX emotion model")
    return _onnx_model(name)


def emotion_record(probs: np.ndarray, labels: tuple[str, ...]) -> dict:
    """``{"label": str, "probs": {class: p}}`` as printed by ``--json``."""
    return {
        "label": labels[int(np.argmax(probs))],
        "probs": {label: round(float(p), 4) for label, p in zip(labels, probs)},
    }


def predict_emotions(rgb: np.ndarray, faces: list[Face], model: str = DEFAULT_EMOTION_MODEL,
                     flip: bool = False) -> list[dict]:
    chosen = get_emotion_model(model)
    return [emotion_record(p, chosen.labels) for p in chosen.predict(rgb, faces, flip)]
