"""Standard augmentation in numpy/OpenCV (no torchvision): flip, small rotation/shift/zoom,
brightness/contrast. Works on N×H×W×C uint8 batches and returns a new uint8 batch."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class Augment:
    flip: bool = True
    max_rotation: float = 10.0  # degrees
    max_shift: float = 0.08  # fraction of the side
    max_zoom: float = 0.08  # ± scale
    brightness: float = 0.2  # ± fraction of 255 added
    contrast: float = 0.2  # ± relative

    def __call__(self, batch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return augment_batch(batch, rng, self)


NONE = Augment(False, 0.0, 0.0, 0.0, 0.0, 0.0)


def augment_batch(batch: np.ndarray, rng: np.random.Generator, cfg: Augment = Augment()) -> np.ndarray:
    n, h, w, c = batch.shape
    out = np.empty_like(batch)
    for i in range(n):
        img = batch[i]
        if cfg.flip and rng.random() < 0.5:
            img = img[:, ::-1]
        if cfg.max_rotation or cfg.max_shift or cfg.max_zoom:
            angle = rng.uniform(-cfg.max_rotation, cfg.max_rotation)
            scale = 1.0 + rng.uniform(-cfg.max_zoom, cfg.max_zoom)
            matrix = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), angle, scale)
            matrix[0, 2] += rng.uniform(-cfg.max_shift, cfg.max_shift) * w
            matrix[1, 2] += rng.uniform(-cfg.max_shift, cfg.max_shift) * h
            img = cv2.warpAffine(np.ascontiguousarray(img), matrix, (w, h), flags=cv2.INTER_LINEAR,
                                 borderMode=cv2.BORDER_REFLECT_101)
        img = img.reshape(h, w, c)
        if cfg.brightness or cfg.contrast:
            alpha = 1.0 + rng.uniform(-cfg.contrast, cfg.contrast)
            beta = rng.uniform(-cfg.brightness, cfg.brightness) * 255.0
            mean = img.mean()
            img = np.clip((img.astype(np.float32) - mean) * alpha + mean + beta, 0, 255)
        out[i] = img
    return out
