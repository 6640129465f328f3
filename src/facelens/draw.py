"""Annotated images: boxes, keypoints and labels drawn with OpenCV."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from .errors import BadInputError
from .types import Face

GREEN = (40, 200, 40)
RED = (220, 40, 40)


def draw_faces(rgb: np.ndarray, faces: list[Face], labels: list[str] | None = None,
               colours: list[tuple[int, int, int]] | None = None) -> np.ndarray:
    """A copy of the RGB image with each face's box, keypoints and label."""
    canvas = rgb.copy()
    thickness = max(1, round(max(rgb.shape[:2]) / 500))
    for index, face in enumerate(faces):
        colour = colours[index] if colours else GREEN
        x1, y1, x2, y2 = (int(round(v)) for v in face.box)
        cv2.rectangle(canvas, (x1, y1), (x2, y2), colour, thickness)
        for x, y in face.keypoints.values():
            cv2.circle(canvas, (int(round(x)), int(round(y))), thickness + 1, (255, 200, 0), -1)
        text = labels[index] if labels else f"{face.score:.2f}"
        if text:
            scale = 0.4 + 0.2 * thickness
            (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
            top = max(y1 - th - 6, 0)
            cv2.rectangle(canvas, (x1, top), (x1 + tw + 4, top + th + 6), colour, -1)
            cv2.putText(canvas, text, (x1 + 2, top + th + 2), cv2.FONT_HERSHEY_SIMPLEX, scale,
                        (255, 255, 255), thickness, cv2.LINE_AA)
    return canvas


def save_rgb(path: Path, rgb: np.ndarray) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
        raise BadInputError(f"{path}: cannot write an image there (unknown extension or no permission?)")
