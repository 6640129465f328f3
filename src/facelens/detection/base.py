"""The detector interface and shared box arithmetic (overlap, NMS, clipping, central face)."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from ..types import Face


class Detector(Protocol):
    name: str

    def detect(self, rgb: np.ndarray) -> list[Face]:
        """Faces in an H×W×3 RGB uint8 image, in its pixel coordinates, best score first."""
        ...


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU between every row of a (N×4) and b (M×4), boxes as x1, y1, x2, y2."""
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)


def weighted_nms(
    boxes: np.ndarray, scores: np.ndarray, extras: np.ndarray, iou_threshold: float
) -> list[tuple[np.ndarray, float, np.ndarray]]:
    """MediaPipe's WEIGHTED non-maximum suppression.

    Plain NMS keeps the single best box; BlazeFace's anchors are dense, so averaging the
    overlapping candidates (weighted by score) gives steadier boxes and keypoints.
    Returns (box, score, extras) per kept cluster, best first.
    """
    order = np.argsort(-scores)
    remaining = order.copy()
    kept = []
    while remaining.size:
        best = remaining[0]
        overlaps = iou_matrix(boxes[best : best + 1], boxes[remaining])[0]
        cluster = remaining[overlaps >= iou_threshold]
        weights = scores[cluster][:, None]
        box = (boxes[cluster] * weights).sum(0) / weights.sum()
        extra = (extras[cluster] * weights).sum(0) / weights.sum()
        kept.append((box, float(scores[best]), extra))
        remaining = remaining[overlaps < iou_threshold]
    return kept


def clip_box(box: np.ndarray, width: int, height: int) -> np.ndarray:
    return np.array(
        [np.clip(box[0], 0, width), np.clip(box[1], 0, height),
         np.clip(box[2], 0, width), np.clip(box[3], 0, height)],
        dtype=np.float64,
    )


def nearest_to_centre(faces: list[Face], shape: tuple[int, ...]) -> Face:
    """The face whose box centre is nearest the centre of an image of ``shape`` (H, W, …).

    LFW-style datasets centre the person of interest; the largest face may be someone else."""
    cx, cy = shape[1] / 2, shape[0] / 2
    return min(faces, key=lambda f: (f.center[0] - cx) ** 2 + (f.center[1] - cy) ** 2)
