"""The seed papers' detectors, kept for comparison behind the same interface.

- ``haar``: OpenCV's Viola-Jones frontal cascade (seed 001).
- ``hog``: dlib's HOG + linear SVM frontal detector (seed 002; what face_recognition uses).
Neither gives keypoints, so dlib's 5-point predictor (landmarks5) adds eyes and nose base for alignment.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..models.registry import model_path
from ..types import Face
from .landmarks5 import add_keypoints


class HaarDetector:
    name = "haar"

    def __init__(self, scale_factor: float = 1.1, min_neighbors: int = 5, min_size: int = 24) -> None:
        self._cascade = cv2.CascadeClassifier(str(model_path("haar")))
        self.scale_factor = scale_factor
        self.min_neighbors = min_neighbors
        self.min_size = min_size

    def detect(self, rgb: np.ndarray) -> list[Face]:
        grey = cv2.equalizeHist(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))
        boxes, _, weights = self._cascade.detectMultiScale3(
            grey, self.scale_factor, self.min_neighbors,
            minSize=(self.min_size, self.min_size), outputRejectLevels=True,
        )
        faces = []
        for (x, y, w, h), weight in zip(np.asarray(boxes).reshape(-1, 4), np.asarray(weights).reshape(-1)):
            # The cascade's stage weight is unbounded; squash it into (0, 1) for a comparable score.
            score = float(1.0 / (1.0 + np.exp(-float(weight) / 2.0)))
            face = Face(box=(x, y, x + w, y + h), score=score, detector=self.name)
            faces.append(add_keypoints(rgb, face))
        return sorted(faces, key=lambda f: -f.score)


class HogDetector:
    name = "hog"

    def __init__(self, upsample: int = 1) -> None:
        import dlib

        self._detector = dlib.get_frontal_face_detector()
        self.upsample = upsample

    def detect(self, rgb: np.ndarray) -> list[Face]:
        rects, scores, _ = self._detector.run(rgb, self.upsample, -0.2)
        height, width = rgb.shape[:2]
        faces = []
        for rect, raw in zip(rects, scores):
            x1, y1 = max(rect.left(), 0), max(rect.top(), 0)
            x2, y2 = min(rect.right(), width), min(rect.bottom(), height)
            if x2 <= x1 or y2 <= y1:
                continue
            score = float(1.0 / (1.0 + np.exp(-3.0 * float(raw))))  # SVM margin → (0, 1)
            faces.append(add_keypoints(rgb, Face(box=(x1, y1, x2, y2), score=score, detector=self.name)))
        return sorted(faces, key=lambda f: -f.score)
