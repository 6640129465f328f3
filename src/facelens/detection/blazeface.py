"""BlazeFace (MediaPipe) face detection: full-range (default) and short-range models.

Anchor layouts and decoding follow MediaPipe's face_detection_{full,short}_range graphs
(ssd_anchors_calculator + tensors_to_detections_calculator). The image is letterboxed (aspect
kept, padded) to the model's square input, so any input size maps back exactly.

Small faces in big images: the 192×192 input shrinks a 1080p frame ten-fold, so faces under
~40 px are missed. ``tile_size`` adds a pass over overlapping tiles of that many input pixels;
all candidates are then merged by weighted NMS.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..models import runtime
from ..types import Face
from .base import clip_box, weighted_nms

# MediaPipe keypoint order; names are the subject's sides (see types.py).
_KEYPOINTS = ("right_eye", "left_eye", "nose", "mouth", "right_ear", "left_ear")


@dataclass(frozen=True)
class _Variant:
    model: str
    size: int
    strides: tuple[int, ...]
    anchors_per_layer: int  # 1 (aspect 1.0) or 2 (aspect 1.0 + interpolated scale)
    min_score: float


FULL_RANGE = _Variant("blazeface", 192, (4,), 1, 0.6)
SHORT_RANGE = _Variant("blazeface_short", 128, (8, 16, 16, 16), 2, 0.5)
VARIANTS = {variant.model: variant for variant in (FULL_RANGE, SHORT_RANGE)}  # registry name → variant
MIN_TILE, MAX_TILE = 64, 20_000  # a tile smaller than 64 px holds no detectable face


def _anchors(variant: _Variant) -> np.ndarray:
    """Anchor centres (N×2, normalised). fixed_anchor_size=true, so widths/heights are 1."""
    centres = []
    index = 0
    strides = variant.strides
    while index < len(strides):
        stride = strides[index]
        repeats = 0
        while index < len(strides) and strides[index] == stride:  # same-stride layers merge
            repeats += variant.anchors_per_layer
            index += 1
        cells = int(np.ceil(variant.size / stride))
        ys, xs = np.mgrid[0:cells, 0:cells]
        grid = np.stack([(xs + 0.5) / cells, (ys + 0.5) / cells], axis=-1).reshape(-1, 2)
        centres.append(np.repeat(grid, repeats, axis=0))
    return np.concatenate(centres).astype(np.float32)


class BlazeFaceDetector:
    def __init__(
        self,
        variant: _Variant | str = FULL_RANGE,
        min_score: float | None = None,
        iou_threshold: float = 0.3,
        tile_size: int | None = None,
        max_faces: int = 200,
        near_fallback: bool = True,
    ) -> None:
        _check_options(min_score, iou_threshold, tile_size, max_faces, near_fallback)
        self.variant = variant = VARIANTS[variant] if isinstance(variant, str) else variant
        self.name = variant.model
        self.min_score = variant.min_score if min_score is None else min_score
        self.iou_threshold = iou_threshold
        self.tile_size = tile_size
        self.max_faces = max_faces
        self._anchors = _anchors(variant)
        self._model = runtime.tflite(variant.model)
        # The full-range model misses some faces that fill the frame (1.4 % of LFW images);
        # the short-range model finds those, so it runs when the full pass finds nothing.
        self._near = (BlazeFaceDetector(SHORT_RANGE, near_fallback=False)
                      if near_fallback and variant is FULL_RANGE else None)

    def detect(self, rgb: np.ndarray) -> list[Face]:
        height, width = rgb.shape[:2]
        boxes, scores, points = self._candidates(rgb, 0, 0)
        if self.tile_size and max(height, width) > self.tile_size:
            for x0, y0, tile in _tiles(rgb, self.tile_size):
                tb, ts, tp = self._candidates(tile, x0, y0)
                boxes, scores, points = (np.concatenate([boxes, tb]),
                                         np.concatenate([scores, ts]),
                                         np.concatenate([points, tp]))
        if not len(scores):
            return self._near.detect(rgb) if self._near else []
        faces = []
        for box, score, kps in weighted_nms(boxes, scores, points, self.iou_threshold):
            box = clip_box(box, width, height)
            if box[2] - box[0] < 2 or box[3] - box[1] < 2:
                continue
            keypoints = {name: (float(kps[2 * i]), float(kps[2 * i + 1]))
                         for i, name in enumerate(_KEYPOINTS)}
            faces.append(Face(box=tuple(box), score=min(score, 1.0), keypoints=keypoints,
                              detector=self.name))
        return faces[: self.max_faces]

    def _candidates(self, rgb: np.ndarray, x0: int, y0: int):
        """Decoded boxes (N×4), scores (N) and keypoints (N×12) above min_score, in image pixels."""
        size = self.variant.size
        tensor, scale, pad_x, pad_y = _letterbox(rgb, size)
        raw_boxes, raw_scores = self._model.run(tensor)
        logits = np.clip(raw_scores.reshape(-1).astype(np.float64), -100.0, 100.0)
        scores = 1.0 / (1.0 + np.exp(-logits))
        keep = np.flatnonzero(scores >= self.min_score)
        raw = raw_boxes.reshape(-1, 16)[keep] / size
        anchors = self._anchors[keep]
        cx, cy = raw[:, 0] + anchors[:, 0], raw[:, 1] + anchors[:, 1]
        half_w, half_h = raw[:, 2] / 2, raw[:, 3] / 2
        boxes = np.stack([cx - half_w, cy - half_h, cx + half_w, cy + half_h], axis=1)
        kps = raw[:, 4:16].copy()
        kps[:, 0::2] += anchors[:, :1]
        kps[:, 1::2] += anchors[:, 1:2]

        def to_image(values: np.ndarray, axis_pad: float, offset: int) -> np.ndarray:
            return (values * size - axis_pad) / scale + offset

        boxes[:, 0::2] = to_image(boxes[:, 0::2], pad_x, x0)
        boxes[:, 1::2] = to_image(boxes[:, 1::2], pad_y, y0)
        kps[:, 0::2] = to_image(kps[:, 0::2], pad_x, x0)
        kps[:, 1::2] = to_image(kps[:, 1::2], pad_y, y0)
        return boxes.astype(np.float64), scores[keep].astype(np.float64), kps.astype(np.float64)


def _letterbox(rgb: np.ndarray, size: int):
    height, width = rgb.shape[:2]
    scale = size / max(height, width)
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    resized = _shrink(rgb, new_w, new_h) if scale < 1 else cv2.resize(rgb, (new_w, new_h))
    pad_x, pad_y = (size - new_w) // 2, (size - new_h) // 2
    canvas = np.zeros((size, size, 3), dtype=np.float32)
    canvas[pad_y : pad_y + new_h, pad_x : pad_x + new_w] = resized.astype(np.float32) / 127.5 - 1.0
    return canvas[None], scale, pad_x, pad_y


def _shrink(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    """Anti-aliased downscale. INTER_AREA straight from 1080p costs ~6 ms (more than the model);
    a bilinear step to twice the target first, then INTER_AREA, costs ~0.9 ms and looks the same
    to the detector."""
    if rgb.shape[1] > 4 * width:
        rgb = cv2.resize(rgb, (2 * width, 2 * height), interpolation=cv2.INTER_LINEAR)
    return cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA)


def _check_options(min_score, iou_threshold, tile_size, max_faces, near_fallback) -> None:
    """Refuse bad options here, as BadInputError, before they reach OpenCV (a negative tile
    size is an assertion failure deep inside cv2.resize)."""
    from ..errors import BadInputError

    def number(value) -> bool:
        return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool) \
            and bool(np.isfinite(value))

    def whole(value) -> bool:
        return isinstance(value, (int, np.integer)) and not isinstance(value, bool)

    if min_score is not None and not (number(min_score) and 0.0 <= min_score <= 1.0):
        raise BadInputError(f"min_score must be a number in [0, 1], not {min_score!r}")
    if not (number(iou_threshold) and 0.0 < iou_threshold <= 1.0):
        raise BadInputError(f"iou_threshold must be a number in (0, 1], not {iou_threshold!r}")
    if tile_size is not None and not (whole(tile_size) and (tile_size == 0 or MIN_TILE <= tile_size <= MAX_TILE)):
        raise BadInputError(f"tile_size must be a whole number of pixels from {MIN_TILE} to {MAX_TILE} "
                            f"(0 or None: no tiles), not {tile_size!r}")
    if not (whole(max_faces) and max_faces >= 1):
        raise BadInputError(f"max_faces must be a whole number ≥ 1, not {max_faces!r}")
    if not isinstance(near_fallback, (bool, np.bool_)):
        raise BadInputError(f"near_fallback must be True or False, not {near_fallback!r}")


def _tiles(rgb: np.ndarray, tile: int):
    """Overlapping square tiles (25 % overlap) covering the image."""
    height, width = rgb.shape[:2]
    step = max(1, int(tile * 0.75))
    ys = list(range(0, max(height - tile, 0) + 1, step))
    xs = list(range(0, max(width - tile, 0) + 1, step))
    if ys[-1] + tile < height:
        ys.append(height - tile)
    if xs[-1] + tile < width:
        xs.append(width - tile)
    for y in ys:
        for x in xs:
            yield x, y, rgb[max(y, 0) : y + tile, max(x, 0) : x + tile]
