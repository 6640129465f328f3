"""The records that flow through every stage: image → Face → aligned crop → embedding → decision.

A ``Face`` is frozen and validated on construction; each stage returns a new Face with more
fields filled (``face.replace(embedding=...)``), so nothing downstream needs to know which model
produced a face. Coordinates are pixels of the input image, (x, y), origin top-left.
A malformed field raises BadInputError (which is also a ValueError).

Keypoint names are the subject's own sides (MediaPipe's convention): ``right_eye`` is the eye
that appears on the *left* of a frontal photo.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from .errors import BadInputError

KEYPOINT_NAMES = ("right_eye", "left_eye", "nose", "mouth", "right_ear", "left_ear", "nose_base")
"""Keypoints a detector may provide. Alignment needs the two eyes plus nose and/or mouth.
``nose`` is the tip (BlazeFace); ``nose_base`` is where the nose meets the lip (dlib 5-point)."""

Point = tuple[float, float]
Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class Quality:
    """How usable a face capture is. Callers reject with ``quality.problems(...)``.

    face_size: inter-ocular distance in pixels (more stable than the box across detectors).
    sharpness: variance of the Laplacian of the aligned grey crop (low = blurred).
    brightness: mean grey level 0–255 of the aligned crop.
    yaw, pitch, roll: head pose in degrees estimated from keypoints (0 = frontal; yaw > 0 when
    the subject turns to their left). Rough (±10°), meant for gating, not measurement.
    """

    face_size: float
    sharpness: float
    brightness: float
    yaw: float
    pitch: float
    roll: float

    def __post_init__(self) -> None:
        for name in ("face_size", "sharpness", "brightness", "yaw", "pitch", "roll"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise BadInputError(f"Quality.{name} must be a finite number, got {value!r}")
            object.__setattr__(self, name, float(value))

    def problems(
        self,
        min_face_size: float = 20.0,
        min_sharpness: float = 30.0,
        brightness_range: tuple[float, float] = (40.0, 220.0),
        max_yaw: float = 45.0,
        max_pitch: float = 35.0,
    ) -> list[str]:
        """Plain-language reasons this capture falls short; empty when acceptable."""
        found = []
        if self.face_size < min_face_size:
            found.append(f"face too small ({self.face_size:.0f} px between eyes < {min_face_size:.0f})")
        if self.sharpness < min_sharpness:
            found.append(f"blurred (sharpness {self.sharpness:.0f} < {min_sharpness:.0f})")
        low, high = brightness_range
        if not low <= self.brightness <= high:
            found.append(f"badly lit (brightness {self.brightness:.0f} outside {low:.0f}–{high:.0f})")
        if abs(self.yaw) > max_yaw:
            found.append(f"head turned (yaw {self.yaw:.0f}°)")
        if abs(self.pitch) > max_pitch:
            found.append(f"head tilted up/down (pitch {self.pitch:.0f}°)")
        return found

    def to_dict(self) -> dict[str, float]:
        return {k: round(v, 3) for k, v in dataclasses.asdict(self).items()}


@dataclass(frozen=True)
class Face:
    """One detected face and everything later stages learn about it."""

    box: Box
    score: float
    keypoints: Mapping[str, Point] = field(default_factory=dict)
    quality: Quality | None = None
    crop: np.ndarray | None = None
    embedding: np.ndarray | None = None
    embedding_model: str | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)
    detector: str = ""

    def __post_init__(self) -> None:
        box = _numbers(self.box, "Face.box")
        if len(box) != 4 or not all(math.isfinite(v) for v in box):
            raise BadInputError(f"Face.box must be 4 finite numbers (x1, y1, x2, y2), got {self.box!r}")
        if box[2] <= box[0] or box[3] <= box[1]:
            raise BadInputError(f"Face.box must have x2 > x1 and y2 > y1, got {box}")
        object.__setattr__(self, "box", box)
        score = _numbers((self.score,), "Face.score")[0]
        if not 0.0 <= score <= 1.0:
            raise BadInputError(f"Face.score must be in [0, 1], got {score}")
        object.__setattr__(self, "score", score)
        object.__setattr__(self, "keypoints", MappingProxyType(_keypoints(self.keypoints)))
        if self.embedding is not None:
            object.__setattr__(self, "embedding", checked_embedding(self.embedding, "Face.embedding"))
        if self.crop is not None:
            crop = np.asarray(self.crop)
            if crop.ndim != 3 or crop.shape[2] != 3 or crop.dtype != np.uint8:
                raise BadInputError("Face.crop must be an H×W×3 uint8 RGB array")
            crop.setflags(write=False)
            object.__setattr__(self, "crop", crop)
        try:
            attributes = dict(self.attributes)
        except (TypeError, ValueError):
            raise BadInputError(f"Face.attributes must be a mapping, got {type(self.attributes).__name__}") from None
        object.__setattr__(self, "attributes", MappingProxyType(attributes))

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]

    @property
    def area(self) -> float:
        return self.width * self.height

    @property
    def center(self) -> Point:
        return ((self.box[0] + self.box[2]) / 2, (self.box[1] + self.box[3]) / 2)

    def replace(self, **changes: Any) -> "Face":
        """A new Face with some fields changed (the record itself never mutates)."""
        return dataclasses.replace(self, **changes)

    def with_attributes(self, **attributes: Any) -> "Face":
        merged = dict(self.attributes)
        merged.update(attributes)
        return self.replace(attributes=merged)

    def to_dict(self, include_embedding: bool = False) -> dict[str, Any]:
        """JSON-ready view: box, score, keypoints, quality, attributes (and embedding if asked)."""
        out: dict[str, Any] = {
            "box": [round(v, 1) for v in self.box],
            "score": round(self.score, 4),
            "keypoints": {k: [round(x, 1), round(y, 1)] for k, (x, y) in self.keypoints.items()},
            "quality": self.quality.to_dict() if self.quality else None,
        }
        if self.detector:
            out["detector"] = self.detector
        for key, value in self.attributes.items():
            out[key] = value
        if include_embedding and self.embedding is not None:
            out["embedding"] = [round(float(v), 6) for v in self.embedding]
            out["embedding_model"] = self.embedding_model
        return out


@dataclass(frozen=True)
class Verification:
    """The answer of ``verify(a, b)``: the decision and how it was reached."""

    verified: bool
    similarity: float
    threshold: float
    model: str
    operating_point: str
    face_a: Face
    face_b: Face

    def to_dict(self) -> dict[str, Any]:
        return {
            "verified": self.verified,
            "similarity": round(self.similarity, 6),
            "threshold": round(self.threshold, 6),
            "model": self.model,
            "operating_point": self.operating_point,
            "face_a": self.face_a.to_dict(),
            "face_b": self.face_b.to_dict(),
        }


def _numbers(values: Any, what: str) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in values)
    except (TypeError, ValueError):
        raise BadInputError(f"{what} must hold numbers, got {values!r}") from None


def _keypoints(keypoints: Any) -> dict[str, Point]:
    try:
        items = dict(keypoints).items()
    except (TypeError, ValueError):
        raise BadInputError(f"Face.keypoints must map names to (x, y), got {type(keypoints).__name__}") from None
    out = {}
    for name, point in items:
        if name not in KEYPOINT_NAMES:
            raise BadInputError(f"unknown keypoint {name!r}; expected one of {KEYPOINT_NAMES}")
        xy = _numbers(point, f"keypoint {name}")
        if len(xy) != 2 or not all(math.isfinite(v) for v in xy):
            raise BadInputError(f"keypoint {name} must be two finite numbers (x, y), got {point!r}")
        out[name] = (xy[0], xy[1])
    return out


def checked_embedding(vector: Any, what: str = "embedding", dim: int | None = None) -> np.ndarray:
    """A read-only float32 1-D copy of ``vector``, or BadInputError saying what is wrong with it:
    not numbers, not 1-D, empty, NaN/inf, all zeros (no direction to compare), wrong length."""
    try:
        with np.errstate(over="ignore"):  # a value beyond float32 becomes inf, refused below
            array = np.array(vector, dtype=np.float32)
    except (TypeError, ValueError):
        raise BadInputError(f"{what} must be a 1-D vector of numbers") from None
    if array.ndim != 1 or array.size == 0:
        raise BadInputError(f"{what} must be a non-empty 1-D vector, got shape {tuple(array.shape)}")
    if not np.isfinite(array).all():
        raise BadInputError(f"{what} holds NaN or infinite values")
    if not np.any(array):
        raise BadInputError(f"{what} is all zeros: it has no direction to compare")
    if dim is not None and array.size != dim:
        raise BadInputError(f"{what} has {array.size} values where {dim} are expected")
    array.setflags(write=False)
    return array
