"""The records that flow through every stage: image → Face → aligned crop → embedding → decision.

A ``Face`` is frozen and validated on construction; each stage returns a new Face with more
fields filled (``face.replace(embedding=...)``), so nothing downstream needs to know which model
produced a face. Coordinates are pixels of the input image, (x, y), origin top-left.

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
            if not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"Quality.{name} must be a finite number, got {value!r}")
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
        box = tuple(float(v) for v in self.box)
        if len(box) != 4 or not all(math.isfinite(v) for v in box):
            raise ValueError(f"Face.box must be 4 finite numbers (x1, y1, x2, y2), got {self.box!r}")
        if box[2] <= box[0] or box[3] <= box[1]:
            raise ValueError(f"Face.box must have x2 > x1 and y2 > y1, got {box}")
        object.__setattr__(self, "box", box)
        score = float(self.score)
        if not 0.0 <= score <= 1.0:
            raise ValueError(f"Face.score must be in [0, 1], got {score}")
        object.__setattr__(self, "score", score)
        keypoints = {}
        for name, point in dict(self.keypoints).items():
            if name not in KEYPOINT_NAMES:
                raise ValueError(f"unknown keypoint {name!r}; expected one of {KEYPOINT_NAMES}")
            x, y = (float(v) for v in point)
            keypoints[name] = (x, y)
        object.__setattr__(self, "keypoints", MappingProxyType(keypoints))
        if self.embedding is not None:
            vector = np.asarray(self.embedding, dtype=np.float32)
            if vector.ndim != 1 or not np.isfinite(vector).all():
                raise ValueError("Face.embedding must be a finite 1-D vector")
            vector.setflags(write=False)
            object.__setattr__(self, "embedding", vector)
        if self.crop is not None:
            crop = np.asarray(self.crop)
            if crop.ndim != 3 or crop.shape[2] != 3 or crop.dtype != np.uint8:
                raise ValueError("Face.crop must be an H×W×3 uint8 RGB array")
            crop.setflags(write=False)
            object.__setattr__(self, "crop", crop)
        object.__setattr__(self, "attributes", MappingProxyType(dict(self.attributes)))

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
