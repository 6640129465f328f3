"""Facial expression, 7 classes, with probabilities.

Every registered model whose ``spec.json`` says ``"task": "emotion"`` fills the same slot
(``get_emotion_model(name)``); its spec gives the input size, channels, scale, mean and std, the
label order and whether the output is logits or probabilities (``models.classifier``):

- ``emotion_mini_xception`` (default): fer's quantised mini-Xception (MIT), with fer's own
  preprocessing (fer/fer.py ``detect_emotions``): grey, 64×64, x/255, then (x − 0.5)·2. Class
  order checked on real labelled faces (150 FER2013 test images per class, diagonal dominant):
  angry, disgust, fear, happy, sad, surprise, neutral — fer's ``_get_labels``.
- ``emotion_facelens_cnn``, and any model exported by ``facelens train export`` (or written by
  hand: ONNX + spec.json) in ``FACELENS_MODELS_DIR/<name>/``, chosen by that name or by the path
  of its folder (``models.registry``). Its labels are its own: a 3-class model gives 3 probabilities.

Face crop: FER2013 images are tight 48×48 face crops. Instead of fer's Haar box + 10 px we warp
each face with a similarity transform from its keypoints to where BlazeFace finds those
keypoints on FER2013 images (mean over 643 FER2013 test faces upscaled ×4, see docs/attributes.md),
so a detected face is framed like the training data. ``detector="skip"`` faces (the whole image is
the crop) are resized as they are, exactly like FER2013.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..alignment import similarity_transform
from ..constants import DEFAULT_EMOTION_MODEL, EMOTIONS
from ..models.classifier import Classifier
from ..models.registry import ModelSpec, build_model
from ..types import Face

__all__ = ["DEFAULT_EMOTION_MODEL", "EMOTIONS", "EmotionModel", "emotion_record", "fer_crop",
           "get_emotion_model", "predict_emotions"]

# Keypoints of an average FER2013 face, in a 48×48 crop (measured, then made left-right symmetric).
FER_TEMPLATE_48 = {
    "right_eye": (15.33, 18.24),
    "left_eye": (32.67, 18.24),
    "nose": (24.0, 27.89),
    "mouth": (24.0, 36.77),
}


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


class EmotionModel:
    """Crops faces like FER2013 and runs one registered expression classifier."""

    def __init__(self, spec: ModelSpec) -> None:
        self._classifier = Classifier(spec)
        self.name = spec.name
        self.origin = spec.origin
        self.labels = self._classifier.labels
        self.size = self._classifier.input.size

    def crops(self, rgb: np.ndarray, faces: list[Face]) -> list[np.ndarray]:
        return [fer_crop(rgb, face, self.size) for face in faces]

    def predict_crops(self, crops: list[np.ndarray]) -> np.ndarray:
        return self._classifier.predict_crops(crops)

    def predict(self, rgb: np.ndarray, faces: list[Face], flip: bool = False) -> np.ndarray:
        """N×len(labels) probabilities. ``flip``: average with the mirrored crop (test-time
        augmentation: +1.7 points on 1,311 FER2013 test images, at twice the cost)."""
        crops = self.crops(rgb, faces)
        probs = self.predict_crops(crops)
        if flip and crops:
            probs = (probs + self.predict_crops([np.ascontiguousarray(c[:, ::-1]) for c in crops])) / 2
        return probs


def get_emotion_model(name: str = DEFAULT_EMOTION_MODEL) -> EmotionModel:
    """The expression model ``name`` (a registered name, or a user model folder's path), loaded
    once per process (BadInputError for unknown names or a malformed spec.json)."""
    return build_model("emotion", name)


def emotion_record(probs: np.ndarray, labels: tuple[str, ...], model: str | None = None) -> dict:
    """``{"label": str, "probs": {class: p}, "model": name}`` as printed by ``--json`` (``model``
    only when given)."""
    record = {
        "label": labels[int(np.argmax(probs))],
        "probs": {label: round(float(p), 4) for label, p in zip(labels, probs)},
    }
    if model is not None:
        record["model"] = model
    return record


def predict_emotions(rgb: np.ndarray, faces: list[Face], model: str = DEFAULT_EMOTION_MODEL,
                     flip: bool = False) -> list[dict]:
    chosen = get_emotion_model(model)
    return [emotion_record(p, chosen.labels, chosen.name) for p in chosen.predict(rgb, faces, flip)]
