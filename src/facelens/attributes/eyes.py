"""Periocular (eye-region) crops, and gender from the eye region when a trained model is present.

The two-eye band is cut by ``facelens.train.datasets.eye_crop`` (numpy/OpenCV only, no torch):
the very function the training toolkit (issue 8) used to make its LFW training crops, so the
``gender_eyes`` model sees at inference exactly the geometry it was trained on. Eye centres come
from the face mesh when one is given (mean of each eye's corners, more exact) and from the
detector's keypoints otherwise.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

from ..errors import ModelError, NoFaceError
from ..train.datasets import EYE_SIZE, eye_crop
from ..types import Face
from .mesh import LEFT_EYE, RIGHT_EYE

GENDER_EYES_MODEL = "gender_eyes_facelens"


def eye_centres(face: Face, mesh: np.ndarray | None = None) -> tuple[tuple[float, float], tuple[float, float]]:
    """(subject's right eye, left eye) centres in image pixels."""
    if mesh is not None:
        right = mesh[[RIGHT_EYE[0], RIGHT_EYE[3]], :2].mean(0)
        left = mesh[[LEFT_EYE[0], LEFT_EYE[3]], :2].mean(0)
        return (float(right[0]), float(right[1])), (float(left[0]), float(left[1]))
    if "right_eye" not in face.keypoints or "left_eye" not in face.keypoints:
        raise NoFaceError("face has no eye keypoints: cannot cut an eye-region crop")
    return face.keypoints["right_eye"], face.keypoints["left_eye"]


def eye_region_crops(rgb: np.ndarray, face: Face, mesh: np.ndarray | None = None,
                     size: tuple[int, int] = EYE_SIZE, eye_size: int = 48) -> dict[str, np.ndarray]:
    """Periocular crops of one face, RGB uint8, eyes level:

    - ``"both"``: the band with both eyes and brows (size H×W, default 40×80; training geometry);
    - ``"right"`` / ``"left"``: one eye each (the subject's side), eye_size square, the eye
      centred and the crop one eye-distance wide.
    """
    right, left = eye_centres(face, mesh)
    distance = float(np.hypot(left[0] - right[0], left[1] - right[1]))
    angle = float(np.degrees(np.arctan2(left[1] - right[1], left[0] - right[0])))
    crops = {"both": eye_crop(rgb, right, left, size)}
    for name, centre in (("right", right), ("left", left)):
        matrix = cv2.getRotationMatrix2D(centre, angle, eye_size / max(distance, 1.0))
        matrix[0, 2] += eye_size / 2.0 - centre[0]
        matrix[1, 2] += eye_size / 2.0 - centre[1]
        crops[name] = cv2.warpAffine(rgb, matrix, (eye_size, eye_size), flags=cv2.INTER_AREA,
                                     borderMode=cv2.BORDER_REPLICATE)
    return crops


def gender_eyes_available(name: str = GENDER_EYES_MODEL) -> bool:
    from ..models.registry import MODELS, check

    return name in MODELS and check(MODELS[name]) == "ok"


@functools.lru_cache(maxsize=4)
def _gender_eyes_session(name: str):
    from ..models.runtime import onnx
    from .emotion import input_spec_from, read_spec_json

    spec = read_spec_json(name)
    if spec.get("task") != "gender_eyes":
        raise ModelError(f"model {name!r} is a {spec.get('task')!r} model, not a gender_eyes model")
    labels = tuple(spec.get("labels") or ("female", "male"))
    return onnx(name), input_spec_from(spec, name), labels, spec.get("output", "logits") == "logits"


def predict_gender_eyes(rgb: np.ndarray, faces: list[Face], meshes: list | None = None,
                        name: str = GENDER_EYES_MODEL) -> list[dict]:
    """Per face ``{"label", "probs"}`` from the periocular band (needs the trained model)."""
    from .emotion import softmax, to_tensor

    if not faces:
        return []
    session, spec, labels, logits = _gender_eyes_session(name)
    meshes = meshes or [None] * len(faces)
    crops = [eye_crop(rgb, *eye_centres(f, m), size=spec.size) for f, m in zip(faces, meshes)]
    out = session.run(None, {session.get_inputs()[0].name: to_tensor(crops, spec)})[0]
    probs = softmax(out) if logits else out / out.sum(axis=1, keepdims=True)
    return [{"label": labels[int(np.argmax(p))],
             "probs": {label: round(float(v), 4) for label, v in zip(labels, p)}} for p in probs]
