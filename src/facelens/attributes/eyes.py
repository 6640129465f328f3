"""Periocular (eye-region) crops, and gender from the eye region when a trained model is present.

``eye_crop`` is the one definition of the two-eye band: the training toolkit (issue 8) cut its
LFW training crops with it, and inference cuts with it again, so the ``gender_eyes`` model sees
exactly the geometry it was trained on. Eye centres come from the face mesh when one is given
(mean of each eye's corners, more exact) and from the detector's keypoints otherwise.
"""

from __future__ import annotations

import functools
import json
import math
from pathlib import Path

import cv2
import numpy as np

from ..constants import GENDER_EYES_MODEL
from ..errors import NoFaceError
from ..types import Face
from .mesh import LEFT_EYE, RIGHT_EYE

EYE_SIZE = (40, 80)  # H, W of the periocular band cut from each face


def eye_crop(rgb: np.ndarray, right_eye: tuple[float, float], left_eye: tuple[float, float],
             size: tuple[int, int] = EYE_SIZE) -> np.ndarray:
    """The periocular band, rotated so the eyes are level, scaled by the eye distance.

    With d the eye distance, the band is 2·d wide (the eyes sit at 1/4 and 3/4 of the width)
    and, for the 1:2 ``EYE_SIZE``, d high (0.5·d above and below the eye line). This
    matches the "both eyes with brows" crops of seed 003 (CelebA), not a single-eye crop.
    """
    (rx, ry), (lx, ly) = right_eye, left_eye  # right_eye is the subject's right: image left
    dx, dy = lx - rx, ly - ry
    dist = float(np.hypot(dx, dy))
    if dist < 4:
        raise NoFaceError("eye keypoints are too close to cut an eye crop")
    angle = np.degrees(np.arctan2(dy, dx))
    out_h, out_w = size
    band_w = 2.0 * dist
    scale = out_w / band_w
    cx, cy = (rx + lx) / 2.0, (ry + ly) / 2.0
    matrix = cv2.getRotationMatrix2D((cx, cy), angle, scale)
    matrix[0, 2] += out_w / 2.0 - cx
    matrix[1, 2] += out_h / 2.0 - cy
    return cv2.warpAffine(rgb, matrix, (out_w, out_h), flags=cv2.INTER_AREA,
                          borderMode=cv2.BORDER_REPLICATE)


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
    """Whether the periocular gender model ``name`` (a name or a user model folder's path) is
    registered and its file passes its checksum."""
    from ..errors import BadInputError
    from ..models.registry import check, resolve

    try:
        return check(resolve("gender_eyes", name)) == "ok"
    except BadInputError:
        return False


def logit_bias(spec) -> np.ndarray | None:
    """The decision threshold of a periocular model, from its spec.json's optional ``logit_bias``
    ({label: value added to that label's logit}, missing labels 0), in label order; None if absent.

    The shipped model was trained on LFW, 1 woman in 4: at the plain argmax its female recall
    trails male recall. A bias chosen on the validation split for equal error moves the decision
    (and the probabilities, consistently: label = argmax of the reported probs); for two labels
    it is the threshold P_raw(female) ≥ 1 / (1 + e^bias). See the model's README."""
    path = spec.spec_file or spec.folder / "spec.json"
    return _read_bias(Path(path), tuple(spec.labels))


@functools.lru_cache(maxsize=16)
def _read_bias(path: Path, labels: tuple[str, ...]) -> np.ndarray | None:
    from ..errors import BadInputError

    value = json.loads(path.read_text(encoding="utf-8")).get("logit_bias")
    if value is None:
        return None
    if (not isinstance(value, dict) or not set(value) <= set(labels)
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                       for v in value.values())):
        raise BadInputError(f"{path}: field 'logit_bias' must map some of the labels {list(labels)} "
                            f"to finite numbers, not {value!r}")
    return np.array([float(value.get(label, 0.0)) for label in labels], dtype=np.float64)


def eye_band_probs(classifier, bias: np.ndarray | None, rgb: np.ndarray, faces: list[Face],
                   meshes: list | None = None) -> np.ndarray:
    """N×labels probabilities of a periocular classifier for each face's eye band, with the
    model's ``logit_bias`` applied (softmax(logits + bias) = normalised probs · e^bias)."""
    meshes = meshes or [None] * len(faces)
    crops = [eye_crop(rgb, *eye_centres(f, m), size=classifier.input.size) for f, m in zip(faces, meshes)]
    probs = classifier.predict_crops(crops)
    if bias is None or not len(probs):
        return probs
    shifted = probs.astype(np.float64) * np.exp(bias - bias.max())
    return (shifted / shifted.sum(axis=1, keepdims=True)).astype(np.float32)


def predict_gender_eyes(rgb: np.ndarray, faces: list[Face], meshes: list | None = None,
                        name: str = GENDER_EYES_MODEL) -> list[dict]:
    """Per face ``{"label", "probs", "model"}`` from the periocular band (needs a trained model:
    the shipped one, or ``name``: another registered name or a user model folder's path)."""
    from ..models.registry import build_model, resolve

    if not faces:
        return []
    classifier = build_model("gender_eyes", name)
    probs = eye_band_probs(classifier, logit_bias(resolve("gender_eyes", name)), rgb, faces, meshes)
    labels = classifier.labels
    return [{"label": labels[int(np.argmax(p))],
             "probs": {label: round(float(v), 4) for label, v in zip(labels, p)},
             "model": classifier.name} for p in probs]
