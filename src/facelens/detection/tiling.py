"""Small faces in big images: tiles chosen from the faces found, merged by NMS across tiles.

BlazeFace sees every image at 192×192, so a face of ``h`` pixels in an image whose longer side is
``S`` reaches the model at ``192·h/S`` pixels; below ~20 px it is missed (bench/bench_crowd.py
measures recall by face height). Tiling looks at overlapping crops of ``tile`` pixels instead,
so the same face reaches the model at ``192·h/tile`` pixels.

* ``detect_tiles`` runs a detector on every tile (25 % overlap) and returns the faces in image
  coordinates; a face cut by an inner tile edge is dropped when another tile saw it whole (a face
  larger than the overlap may be cut in every tile that holds it: then its cut views are kept and
  NMS merges them);
* ``merge`` is the non-maximum suppression *across* tiles and the whole-image pass: MediaPipe's
  weighted NMS (base.weighted_nms) over every candidate, keypoints averaged with the boxes;
  ``prefer`` first drops a coarse pass's face where a finer pass found it — a face that reached
  the model at 9 px has a box too loose to be averaged with the sharp one (they overlap at IoU
  ≈ 0.25 and would otherwise survive NMS as two faces);
* ``tile_for`` chooses the tile from face heights: the largest tile at which the smallest face
  still reaches ``TARGET_FACE_PX`` at the model's input (larger tiles = fewer model calls);
* ``detect_auto`` is the photo rule (``tile_size="auto"``): the whole image first, then tiles
  of a quarter of the longer side, then each finer level while it still finds faces the coarser
  levels missed. An image under 4 × MIN_TILE (768 px) on its longer side is never tiled: a
  quarter of it is below the model input, where tiles only upscale;
* ``tile_size_option`` reads a ``tile_size`` as a caller gives it (CLI text, form field, Python):
  "auto", a whole number of pixels, or None.

The video watcher (video/resolution.py) reuses these with a memory of the face sizes it saw.
"""

from __future__ import annotations

import numpy as np

from ..constants import DEFAULT_DETECTOR
from ..errors import BadInputError
from ..types import Face
from .base import clip_box, weighted_nms

AUTO = "auto"
MODEL_INPUT = 192  # BlazeFace full-range input side
TARGET_FACE_PX = 24  # face height at the model input that full-range BlazeFace finds reliably
MIN_TILE = MODEL_INPUT  # smaller tiles only upscale: no recall gained (bench_crowd.py)
OVERLAP = 0.25


def tile_origins(height: int, width: int, tile: int, overlap: float = OVERLAP) -> list[tuple[int, int]]:
    """Top-left corners of overlapping square tiles covering the image."""
    step = max(1, int(tile * (1.0 - overlap)))

    def axis(length: int) -> list[int]:
        starts = list(range(0, max(length - tile, 0) + 1, step))
        if starts[-1] + tile < length:
            starts.append(length - tile)
        return starts

    return [(x, y) for y in axis(height) for x in axis(width)]


def detect_tiles(rgb: np.ndarray, detector, tile: int, overlap: float = OVERLAP) -> list[Face]:
    """Faces found on every tile, in image coordinates; faces cut by an inner tile edge dropped."""
    height, width = rgb.shape[:2]
    whole, cut = [], []
    margin = 2.0
    for x0, y0 in tile_origins(height, width, tile, overlap):
        crop = rgb[y0:y0 + tile, x0:x0 + tile]
        for face in detector.detect(crop):
            x1, y1, x2, y2 = face.box
            at_edge = ((x1 <= margin and x0 > 0) or (y1 <= margin and y0 > 0)
                       or (x2 >= crop.shape[1] - margin and x0 + crop.shape[1] < width)
                       or (y2 >= crop.shape[0] - margin and y0 + crop.shape[0] < height))
            (cut if at_edge else whole).append(_shift(face, x0, y0))
    return prefer(whole, cut, iou_threshold=0.1)


def merge(faces: list[Face], width: int, height: int, iou_threshold: float = 0.3) -> list[Face]:
    """Weighted NMS across passes and tiles (one face per cluster, best score first)."""
    if not faces:
        return []
    names = sorted({k for f in faces for k in f.keypoints})
    boxes = np.array([f.box for f in faces], dtype=np.float64)
    scores = np.array([f.score for f in faces], dtype=np.float64)
    points = np.array([[c for k in names for c in f.keypoints.get(k, (np.nan, np.nan))] for f in faces],
                      dtype=np.float64).reshape(len(faces), -1)
    points = np.where(np.isnan(points), np.nanmean(points, axis=0) if len(points) else 0.0, points)
    out = []
    detector = faces[0].detector
    for box, score, kps in weighted_nms(boxes, scores, points, iou_threshold):
        box = clip_box(box, width, height)
        if box[2] - box[0] < 2 or box[3] - box[1] < 2:
            continue
        keypoints = {name: (float(kps[2 * i]), float(kps[2 * i + 1])) for i, name in enumerate(names)}
        out.append(Face(box=tuple(float(v) for v in box), score=min(float(score), 1.0), keypoints=keypoints,
                        detector=detector))
    return out


def prefer(fine: list[Face], coarse: list[Face], iou_threshold: float = 0.3) -> list[Face]:
    """``fine`` plus the faces of ``coarse`` that no fine face covers (centre inside, or IoU ≥
    ``iou_threshold``): the finer pass's box wins where both found a face."""
    from .base import iou_matrix

    if not fine or not coarse:
        return list(fine) + list(coarse)
    boxes = np.array([f.box for f in fine])
    overlaps = iou_matrix(np.array([c.box for c in coarse]), boxes)
    kept = []
    for face, row in zip(coarse, overlaps):
        cx, cy = face.center
        inside = (boxes[:, 0] <= cx) & (cx <= boxes[:, 2]) & (boxes[:, 1] <= cy) & (cy <= boxes[:, 3])
        if not inside.any() and row.max() < iou_threshold:
            kept.append(face)
    return list(fine) + kept


def tile_for(face_heights: list[float], longest_side: int) -> int | None:
    """The tile at which the smallest face reaches TARGET_FACE_PX at the model input; None when
    the whole image already shows it that large."""
    if not face_heights:
        return None
    tile = int(MODEL_INPUT * min(face_heights) / TARGET_FACE_PX) // 32 * 32
    if tile >= longest_side:
        return None
    return max(MIN_TILE, tile)


def new_faces(found: list[Face], known: list[Face], iou_threshold: float = 0.3) -> list[Face]:
    """Faces of ``found`` that overlap none of ``known``."""
    from .base import iou_matrix

    if not known or not found:
        return list(found)
    overlaps = iou_matrix(np.array([f.box for f in found]), np.array([f.box for f in known]))
    return [f for f, row in zip(found, overlaps) if row.max() < iou_threshold]


def tile_size_option(value: object) -> int | str | None:
    """``tile_size`` as given (CLI text, a form field, a Python value) → "auto", an int or None.

    Text that is not "auto" must be a whole number; the number's range (and any non-text value)
    is checked by the detector, which owns it (BlazeFaceDetector: 64 to 20 000, 0 = no tiles)."""
    if not isinstance(value, str):
        return value
    text = value.strip().lower()
    if text == AUTO:
        return AUTO
    try:
        return int(text)
    except ValueError:
        raise BadInputError(f"tile_size must be 'auto' or a whole number of pixels, not {value[:40]!r}") from None


def detect_auto(rgb: np.ndarray, detector_name: str = DEFAULT_DETECTOR, min_score: float | None = None,
                iou_threshold: float | None = None, **detector_options) -> list[Face]:
    """The photo rule: whole image, then finer tiles while they find faces the coarser passes
    missed (each level halves the tile, down to MIN_TILE). Faces come highest score first;
    ``detector_options`` (max_faces, near_fallback) are the BlazeFace detector's."""
    options = dict(detector_options)
    if min_score is not None:
        options["min_score"] = min_score
    if iou_threshold is not None:
        options["iou_threshold"] = iou_threshold
    merge_iou = 0.3 if iou_threshold is None else iou_threshold
    whole = _tiling_detector(detector_name, options).detect(rgb)
    # the short-range fallback is for a face that fills the frame: never the case in a tile pass
    per_tile = _tiling_detector(detector_name, {**options, "near_fallback": False})
    height, width = rgb.shape[:2]
    faces = merge(list(whole), width, height, merge_iou)
    tile = max(height, width) // 4 // 32 * 32
    while tile >= MIN_TILE:
        found = merge(detect_tiles(rgb, per_tile, tile), width, height, merge_iou)
        fresh = new_faces(found, faces)
        faces = prefer(found, faces)
        if not fresh:
            break
        tile //= 2
    faces.sort(key=lambda face: face.score, reverse=True)
    return faces[: options.get("max_faces", len(faces))]


def _tiling_detector(name: object, options: dict):
    """A BlazeFace detector for detect_auto; other detectors (haar, hog, skip) take no tiles."""
    from . import DETECTORS, get_detector
    from .blazeface import VARIANTS

    if not isinstance(name, str):
        raise BadInputError(f"detector must be a name such as {DEFAULT_DETECTOR!r}, not {name!r}")
    if name in DETECTORS and name not in VARIANTS:  # an unknown name: get_detector says so
        raise BadInputError(f"tile_size 'auto' needs a BlazeFace detector ({', '.join(VARIANTS)}), not {name!r}")
    try:
        return get_detector(name, **options)
    except TypeError as exc:  # an unknown option, or an unhashable value in the detector cache key
        raise BadInputError(f"detector {name!r}: bad options {sorted(options)} ({exc})") from None


def _shift(face: Face, dx: int, dy: int) -> Face:
    box = (face.box[0] + dx, face.box[1] + dy, face.box[2] + dx, face.box[3] + dy)
    keypoints = {k: (x + dx, y + dy) for k, (x, y) in face.keypoints.items()}
    return face.replace(box=box, keypoints=keypoints)
