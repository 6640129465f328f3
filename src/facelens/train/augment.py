"""Standard augmentation in numpy/OpenCV (no torchvision): flip, small rotation/shift/zoom,
brightness/contrast (``Augment``, N×H×W×C uint8 in and out); random crops for ten-crop
training (``random_crop``); mixup and cutmix on the float model input (``mix_batch``).
Every random draw comes from the generator passed in (seeded per epoch by the trainer)."""

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


def random_crop(batch: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """A ``size``×``size`` crop at a random position of each N×H×W×C image (the training side of
    ten-crop evaluation: the net sees crops in training and the ten fixed crops at test time)."""
    n, h, w, _ = batch.shape
    if not 0 < size <= min(h, w):
        raise ValueError(f"crop {size} does not fit in {h}×{w} images")
    tops = rng.integers(0, h - size + 1, n)
    lefts = rng.integers(0, w - size + 1, n)
    return np.stack([img[t:t + size, left:left + size] for img, t, left in zip(batch, tops, lefts)])


MIXES = ("none", "mixup", "cutmix")
DEFAULT_MIX_ALPHA = {"mixup": 0.2, "cutmix": 1.0}  # the papers' usual Beta(α, α) for each


def mix_batch(x: np.ndarray, kind: str, alpha: float, rng: np.random.Generator
              ) -> tuple[np.ndarray, np.ndarray, float]:
    """Mix a float N×C×H×W model-input batch with a shuffled copy of itself.

    Returns (mixed batch, the partner index per image, λ): the loss is
    λ·CE(y) + (1 − λ)·CE(y[partner]). ``mixup`` (Zhang et al. 2018) blends whole images,
    x = λ·x + (1 − λ)·x[partner]; ``cutmix`` (Yun et al. 2019) pastes a box of the partner
    covering a (1 − λ) share of the image, λ then being the exact share left. λ ~ Beta(α, α),
    one per batch."""
    if kind not in MIXES or kind == "none":
        raise ValueError(f"mix must be one of {', '.join(MIXES[1:])}, not {kind!r}")
    lam = float(rng.beta(alpha, alpha))
    partner = rng.permutation(len(x))
    if kind == "mixup":
        return (lam * x + (1.0 - lam) * x[partner]).astype(x.dtype), partner, lam
    h, w = x.shape[2], x.shape[3]
    cut = np.sqrt(1.0 - lam)
    ch, cw = int(round(h * cut)), int(round(w * cut))
    cy, cx = int(rng.integers(0, h)), int(rng.integers(0, w))
    top, bottom = np.clip([cy - ch // 2, cy + ch - ch // 2], 0, h)
    left, right = np.clip([cx - cw // 2, cx + cw - cw // 2], 0, w)
    mixed = x.copy()
    mixed[:, :, top:bottom, left:right] = x[partner][:, :, top:bottom, left:right]
    return mixed, partner, 1.0 - float((bottom - top) * (right - left)) / (h * w)
