"""Passive liveness: a per-face score from one frame (texture, frequency and colour cues).

Features of the face box (enlarged 1.3×, square, 96×96):
- LBP: uniform local binary patterns (8 neighbours, radius 1; 59 bins) of the grey crop, whole
  crop and central half — print and screen recaptures lose micro-texture;
- FFT: share of spectral energy in 8 radial bands and the peakiness of the high bands (moiré
  from screen pixels / half-tones shows up as isolated peaks);
- colour: mean/std of H, S, V, Y, Cr, Cb and the grey 5–95 % range (gamut and contrast loss).

Classifier: standardised features → logistic regression (scikit-learn at training time), stored
as plain JSON numbers (``passive_model.json`` beside this file, with its provenance: data,
split, seed, command, measured APCER/BPCER). Loading needs no pickle and no scikit-learn.

Limits (see docs/access.md): trained and tested on *simulated* recaptures of LFW photos
(``attacks.py``); real prints, screens, masks or replayed videos were never seen. It is a second
line behind the active challenge, not a presentation-attack detector certified for anything.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import cv2
import numpy as np

from ..errors import ModelError
from ..types import Face

MODEL_FILE = Path(__file__).resolve().parent / "passive_model.json"
FEATURE_VERSION = "lbp59x2+fft16+colour13/v1"
CROP = 96
MARGIN = 1.3


def face_crop(rgb: np.ndarray, face: Face, size: int = CROP, margin: float = MARGIN) -> np.ndarray:
    cx, cy = face.center
    side = max(face.width, face.height) * margin
    scale = size / side
    matrix = np.float32([[scale, 0, size / 2 - scale * cx], [0, scale, size / 2 - scale * cy]])
    return cv2.warpAffine(rgb, matrix, (size, size), flags=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)


@functools.lru_cache(maxsize=1)
def _uniform_table() -> np.ndarray:
    table = np.full(256, 58, np.int64)
    next_bin = 0
    for code in range(256):
        bits = [(code >> i) & 1 for i in range(8)]
        transitions = sum(bits[i] != bits[(i + 1) % 8] for i in range(8))
        if transitions <= 2:
            table[code] = next_bin
            next_bin += 1
    return table


def lbp_histogram(grey: np.ndarray) -> np.ndarray:
    g = grey.astype(np.int16)
    centre = g[1:-1, 1:-1]
    offsets = ((-1, -1), (-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1))
    code = np.zeros_like(centre, dtype=np.int64)
    h, w = g.shape
    for bit, (dy, dx) in enumerate(offsets):
        neighbour = g[1 + dy:h - 1 + dy, 1 + dx:w - 1 + dx]
        code |= (neighbour >= centre).astype(np.int64) << bit
    hist = np.bincount(_uniform_table()[code].ravel(), minlength=59).astype(np.float32)
    return hist / max(hist.sum(), 1.0)


@functools.lru_cache(maxsize=4)
def _radial_bins(size: int, bands: int) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size] - size // 2
    radius = np.hypot(yy, xx) / (size / 2)
    return np.minimum((radius * bands).astype(np.int64), bands)  # last bin = corners, ignored


def fft_features(grey: np.ndarray, bands: int = 8) -> np.ndarray:
    g = grey.astype(np.float32)
    g = (g - g.mean()) * np.outer(np.hanning(g.shape[0]), np.hanning(g.shape[1]))
    power = np.abs(np.fft.fftshift(np.fft.fft2(g))) ** 2
    bins = _radial_bins(g.shape[0], bands)
    energy = np.bincount(bins.ravel(), weights=power.ravel(), minlength=bands + 1)[:bands]
    share = energy / max(energy.sum(), 1e-9)
    peaks = []
    for band in range(bands):
        values = power[bins == band]
        peaks.append(np.log1p(values.max() / (np.median(values) + 1e-9)))
    return np.concatenate([np.log(share + 1e-9), np.array(peaks, np.float32) / 10.0]).astype(np.float32)


def colour_features(crop: np.ndarray) -> np.ndarray:
    hsv = cv2.cvtColor(crop, cv2.COLOR_RGB2HSV).reshape(-1, 3).astype(np.float32)
    ycc = cv2.cvtColor(crop, cv2.COLOR_RGB2YCrCb).reshape(-1, 3).astype(np.float32)
    grey = ycc[:, 0]
    stats = np.concatenate([hsv.mean(0), hsv.std(0), ycc.mean(0), ycc.std(0)]) / 255.0
    spread = (np.percentile(grey, 95) - np.percentile(grey, 5)) / 255.0
    return np.append(stats, spread).astype(np.float32)


def features(rgb: np.ndarray, face: Face) -> np.ndarray:
    crop = face_crop(rgb, face)
    grey = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
    quarter = CROP // 4
    centre = grey[quarter:-quarter, quarter:-quarter]
    return np.concatenate([lbp_histogram(grey), lbp_histogram(centre), fft_features(grey), colour_features(crop)])


class PassiveModel:
    """Logistic regression over standardised features; ``score`` = P(bona fide)."""

    def __init__(self, record: dict):
        if record.get("features") != FEATURE_VERSION:
            raise ModelError(f"passive liveness model was made for features {record.get('features')!r}, "
                             f"this code computes {FEATURE_VERSION!r}: retrain it (docs/access.md)")
        self.record = record
        self.mean = np.asarray(record["mean"], np.float32)
        self.scale = np.asarray(record["scale"], np.float32)
        self.coef = np.asarray(record["coef"], np.float32)
        self.intercept = float(record["intercept"])
        self.threshold = float(record.get("threshold", 0.5))

    def score_features(self, x: np.ndarray) -> np.ndarray:
        z = (np.atleast_2d(x) - self.mean) / self.scale
        return 1.0 / (1.0 + np.exp(-(z @ self.coef + self.intercept)))

    def score(self, rgb: np.ndarray, face: Face) -> float:
        return float(self.score_features(features(rgb, face))[0])


@functools.lru_cache(maxsize=2)
def load_model(path: str | None = None) -> PassiveModel:
    file = Path(path) if path else MODEL_FILE
    try:
        return PassiveModel(json.loads(file.read_text()))
    except FileNotFoundError:
        raise ModelError(f"passive liveness model {file} is missing: run `facelens eval pad --write-model` (docs/access.md)") from None
    except (ValueError, KeyError) as exc:
        raise ModelError(f"passive liveness model {file} is unreadable: {exc}") from None


def passive_score(rgb: np.ndarray, face: Face) -> float:
    return load_model().score(rgb, face)


def fit(x: np.ndarray, y: np.ndarray, c: float = 1.0, seed: int = 0) -> dict:
    """Train the classifier (scikit-learn) and return the JSON-ready record."""
    from sklearn.linear_model import LogisticRegression

    mean = x.mean(0)
    scale = x.std(0) + 1e-6
    clf = LogisticRegression(C=c, max_iter=5000, class_weight="balanced", random_state=seed)
    clf.fit((x - mean) / scale, y)
    return {"features": FEATURE_VERSION, "mean": mean.tolist(), "scale": scale.tolist(),
            "coef": clf.coef_[0].tolist(), "intercept": float(clf.intercept_[0]), "threshold": 0.5}
