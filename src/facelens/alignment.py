"""Keypoints → the canonical 112×112 crop the embedders expect, and a quality record per face.

MobileFaceNet was trained on ArcFace-aligned crops; MODELS.md measured that the crop decides its
accuracy (AUC 0.995 with this template vs 0.90 with dlib's chip). We fit a similarity transform
(rotation + uniform scale + shift, no shear) from the detector's keypoints to the ArcFace 5-point
template by least squares (Umeyama), using the mouth centre for the two mouth corners.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from .errors import NoFaceError
from .types import Face, Quality

CROP_SIZE = 112
# ArcFace/InsightFace template in a 112×112 crop (image-left eye first).
ARCFACE_TEMPLATE = {
    "right_eye": (38.2946, 51.6963),
    "left_eye": (73.5318, 51.5014),
    "nose": (56.0252, 71.7366),
    # dlib's 5-point nose sits at the base of the nose, ~6 px below the tip (MODELS.md).
    "nose_base": (56.0252, 77.7366),
    "mouth": ((41.5493 + 70.7299) / 2, (92.3655 + 92.2041) / 2),
}


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """2×3 least-squares similarity transform mapping src points onto dst (Umeyama, 1991).

    Written out (12 lines) rather than cv2.estimateAffinePartial2D because that one is robust
    (RANSAC/LMEDS) and with 3–4 points throws away the least-agreeing point, which made the crop
    jump between frames; plain least squares uses every keypoint.
    """
    src_mean, dst_mean = src.mean(0), dst.mean(0)
    src_c, dst_c = src - src_mean, dst - dst_mean
    covariance = dst_c.T @ src_c / len(src)
    u, singular, vt = np.linalg.svd(covariance)
    sign = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[1, 1] = -1
    rotation = u @ sign @ vt
    scale = (singular * np.diag(sign)).sum() / src_c.var(0).sum()
    shift = dst_mean - scale * rotation @ src_mean
    return np.hstack([scale * rotation, shift[:, None]])


def alignment_points(face: Face) -> tuple[np.ndarray, np.ndarray]:
    names = [n for n in ("right_eye", "left_eye", "nose", "nose_base", "mouth") if n in face.keypoints]
    if "right_eye" not in names or "left_eye" not in names or len(names) < 3:
        raise NoFaceError(
            "face has too few keypoints to align (need both eyes and the nose or mouth)"
        )
    src = np.array([face.keypoints[n] for n in names], dtype=np.float64)
    dst = np.array([ARCFACE_TEMPLATE[n] for n in names], dtype=np.float64)
    return src, dst


def align(rgb: np.ndarray, face: Face, size: int = CROP_SIZE) -> np.ndarray:
    """The ArcFace-aligned size×size RGB crop of ``face`` (size 112 unless asked otherwise)."""
    src, dst = alignment_points(face)
    matrix = similarity_transform(src, dst * (size / CROP_SIZE))
    return cv2.warpAffine(rgb, matrix, (size, size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)


def whole_image_face(rgb: np.ndarray, detector: str = "skip") -> Face:
    """Treat the whole image as one already-cropped face (``detector="skip"``).

    Keypoints are placed where a centred, upright face crop has them, so the aligned crop is the
    image resized to the template: this matches crops made the usual way (face box plus margin).
    """
    height, width = rgb.shape[:2]
    keypoints = {
        name: (x / CROP_SIZE * width, y / CROP_SIZE * height)
        for name, (x, y) in ARCFACE_TEMPLATE.items()
        if name != "nose_base"
    }
    return Face(box=(0.0, 0.0, float(width), float(height)), score=1.0, keypoints=keypoints,
                detector=detector)


def estimate_pose(face: Face) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees from 2-D keypoints: a coarse gate, not a measurement.

    roll: angle of the eye line. yaw: horizontal offset of the nose from the eye midpoint,
    relative to half the eye distance (≈ sin(yaw) for a face whose nose sits ~1 eye-distance
    in front of the eyes). pitch: vertical nose position between eyes and mouth compared with
    the frontal template's ratio.
    """
    kp = face.keypoints
    if "right_eye" not in kp or "left_eye" not in kp:
        return 0.0, 0.0, 0.0
    right, left = np.array(kp["right_eye"]), np.array(kp["left_eye"])
    eye_vec = left - right
    eye_dist = float(np.hypot(*eye_vec)) or 1.0
    roll = math.degrees(math.atan2(eye_vec[1], eye_vec[0]))
    nose = kp.get("nose") or kp.get("nose_base")
    if nose is None:
        return 0.0, 0.0, roll
    # Rotate into the eye frame so roll does not leak into yaw/pitch.
    cos, sin = eye_vec / eye_dist
    rel = np.array(nose) - (right + left) / 2
    along = rel[0] * cos + rel[1] * sin
    across = -rel[0] * sin + rel[1] * cos
    yaw = math.degrees(math.asin(float(np.clip(along / (eye_dist * 0.9), -1.0, 1.0))))
    pitch = 0.0
    if "mouth" in kp:
        mouth_rel = np.array(kp["mouth"]) - (right + left) / 2
        mouth_across = -mouth_rel[0] * sin + mouth_rel[1] * cos
        if mouth_across > 1e-6:
            ratio = across / mouth_across  # ≈ 0.50 frontal in the ArcFace template
            pitch = float(np.clip((0.50 - ratio) * 150.0, -90.0, 90.0))
    return yaw, pitch, roll


def measure_quality(face: Face, crop: np.ndarray) -> Quality:
    grey = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
    kp = face.keypoints
    if "right_eye" in kp and "left_eye" in kp:
        size = float(np.hypot(*(np.array(kp["left_eye"]) - np.array(kp["right_eye"]))))
    else:
        size = min(face.width, face.height) * 0.4
    yaw, pitch, roll = estimate_pose(face)
    return Quality(
        face_size=size,
        sharpness=float(cv2.Laplacian(grey, cv2.CV_64F).var()),
        brightness=float(grey.mean()),
        yaw=yaw,
        pitch=pitch,
        roll=roll,
    )


def align_face(rgb: np.ndarray, face: Face, keep_crop: bool = True) -> Face:
    """The face with its aligned crop and quality filled in."""
    crop = align(rgb, face)
    return face.replace(crop=crop if keep_crop else None, quality=measure_quality(face, crop))
