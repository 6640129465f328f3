"""Passive liveness: a per-face score from one frame (texture, frequency, colour and context cues).

The face is always seen at **one normalised scale**, whatever the capture size: the crops are cut
from the face's *aligned* geometry (the same similarity transform from the detector's keypoints
that places the embedder's crop), not from the frame, so a 60-px face in a 320-px frame and a
400-px face in a 1920-px frame give crops of the same size and framing.

- face crop (96×96, the ArcFace template zoomed out to ~1.4× the face): uniform LBP histograms
  (8 neighbours, radius 1; 59 bins) of the whole crop and of its centre, and of the crop halved
  (texture at two scales); FFT radial energy shares and peakiness (moiré); colour statistics
  (mean/std of H, S, V, Y, Cr, Cb and the grey 5–95 % range); sharpness (Laplacian energy
  relative to contrast);
- context crop (64×64, ~2.6× the face): where the edges of a print or a screen's bezel show up —
  a histogram of strong gradient orientations in the ring around the face, its edge density and
  the colour contrast between face and ring;
- the log of the face's width in pixels (how visible recapture artefacts are depends on it).

Classifier: standardised features → a one-hidden-layer MLP or a logistic regression (scikit-learn
at training time, chosen in ``pad_eval``), stored
as plain JSON numbers (``passive_model.json`` beside this file, with its provenance: data,
capture bands, split, seed, command, measured APCER/BPCER per band). Loading needs no pickle and
no scikit-learn. Training: ``pad_eval`` (faces rendered at 320–1920 px frames; attacks from
``attacks.simulate``; ``attacks_holdout`` kept for testing only).

Limits (see docs/access.md): trained and tested on *simulated* recaptures of real photos;
real prints, screens, masks or replayed videos were never seen. It is a second line behind the
active challenge and its continuity checks, not a presentation-attack detector certified for
anything.
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
FEATURE_VERSION = "aligned96:lbp59x3+fft16+colour13+sharp2|context64:orient8+edge1+contrast3|logsize1/v2"
CROP = 96
MARGIN = 1.3  # face_crop around the detector box (the v1 crop; still used by human_pad)
FACE_ZOOM = 0.72  # the 112-px ArcFace template shrunk to this share of the face crop (≈ 1.4× the face)
CONTEXT_ZOOM = 0.38  # … and of the 64-px context crop (≈ 2.6× the face)
CONTEXT = 64


def aligned_crop(rgb: np.ndarray, face: Face, size: int, zoom: float) -> np.ndarray:
    """The face cut from its aligned geometry: the ArcFace 5-point template, scaled to ``zoom`` of
    a ``size`` crop and centred, fitted to the detector's keypoints (``alignment``); the face has
    the same size and place in the crop whatever its size in the frame."""
    from ..alignment import CROP_SIZE, alignment_points, similarity_transform

    src, dst = alignment_points(face)
    dst = (dst - CROP_SIZE / 2) * (zoom * size / CROP_SIZE) + size / 2
    matrix = similarity_transform(src, dst)
    shrink = float(np.hypot(*matrix[0, :2]))
    return cv2.warpAffine(rgb, matrix, (size, size), flags=cv2.INTER_AREA if shrink < 1 else cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)


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


def sharpness_features(grey: np.ndarray) -> np.ndarray:
    """Laplacian energy relative to the crop's contrast, and the share of it in the finest detail
    (a recapture loses fine detail first)."""
    g = grey.astype(np.float32)
    contrast = float(g.std()) + 1.0
    fine = float(np.abs(cv2.Laplacian(g, cv2.CV_32F)).mean())
    coarse = float(np.abs(cv2.Laplacian(cv2.pyrDown(g), cv2.CV_32F)).mean()) + 1e-3
    return np.array([np.log(fine / contrast + 1e-4), np.log(fine / coarse + 1e-4)], np.float32)


def context_features(context: np.ndarray) -> np.ndarray:
    """Ring around the face (outside the central half of the 64-px context crop): histogram of
    strong gradient orientations (a sheet's or bezel's straight edges), edge density, and the
    face-vs-ring colour contrast in Y, Cr, Cb."""
    grey = cv2.cvtColor(context, cv2.COLOR_RGB2GRAY).astype(np.float32)
    gx, gy = cv2.Sobel(grey, cv2.CV_32F, 1, 0), cv2.Sobel(grey, cv2.CV_32F, 0, 1)
    magnitude = np.hypot(gx, gy)
    angle = np.mod(np.arctan2(gy, gx), np.pi)
    size = grey.shape[0]
    ring = np.ones_like(grey, bool)
    ring[size // 4:-size // 4, size // 4:-size // 4] = False
    strong = ring & (magnitude > max(40.0, float(np.percentile(magnitude[ring], 75))))
    hist = np.bincount((angle[strong] / np.pi * 8).astype(np.int64).clip(0, 7), weights=magnitude[strong], minlength=8)
    hist = hist / max(float(hist.sum()), 1e-6)
    ycc = cv2.cvtColor(context, cv2.COLOR_RGB2YCrCb).astype(np.float32) / 255.0
    contrast = ycc[~ring].mean(0) - ycc[ring].mean(0)
    return np.concatenate([hist, [float(strong.mean())], contrast]).astype(np.float32)


def features(rgb: np.ndarray, face: Face) -> np.ndarray:
    crop = aligned_crop(rgb, face, CROP, FACE_ZOOM)
    grey = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
    quarter = CROP // 4
    centre = grey[quarter:-quarter, quarter:-quarter]
    half = cv2.resize(grey, (CROP // 2, CROP // 2), interpolation=cv2.INTER_AREA)
    context = aligned_crop(rgb, face, CONTEXT, CONTEXT_ZOOM)
    # the face's size in the frame: the crops hide it, but how visible recapture artefacts are
    # depends on it, so the classifier may condition on it
    size = np.array([np.log(max(face.width, 1.0))], np.float32)
    return np.concatenate([lbp_histogram(grey), lbp_histogram(centre), lbp_histogram(half), fft_features(grey),
                           colour_features(crop), sharpness_features(grey), context_features(context), size])


class PassiveModel:
    """A small classifier over standardised features; ``score`` = P(bona fide). ``kind``:
    "logistic" (``coef``, ``intercept``) or "mlp" (one ReLU hidden layer: ``hidden_weights``,
    ``hidden_bias``, ``out_weights``, ``out_bias``) — plain JSON numbers either way."""

    def __init__(self, record: dict):
        if record.get("features") != FEATURE_VERSION:
            raise ModelError(f"passive liveness model was made for features {record.get('features')!r}, "
                             f"this code computes {FEATURE_VERSION!r}: retrain it (docs/access.md)")
        self.record = record
        self.kind = record.get("kind", "logistic")
        self.mean = np.asarray(record["mean"], np.float32)
        self.scale = np.asarray(record["scale"], np.float32)
        if self.kind == "mlp":
            self.hidden = np.asarray(record["hidden_weights"], np.float32)
            self.hidden_bias = np.asarray(record["hidden_bias"], np.float32)
            self.coef = np.asarray(record["out_weights"], np.float32)
            self.intercept = float(record["out_bias"])
        else:
            self.coef = np.asarray(record["coef"], np.float32)
            self.intercept = float(record["intercept"])
        self.threshold = float(record.get("threshold", 0.5))

    def score_features(self, x: np.ndarray) -> np.ndarray:
        z = (np.atleast_2d(x) - self.mean) / self.scale
        if self.kind == "mlp":
            z = np.maximum(z @ self.hidden + self.hidden_bias, 0.0)
        return 1.0 / (1.0 + np.exp(-np.clip(z @ self.coef + self.intercept, -50, 50)))

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


def fit(x: np.ndarray, y: np.ndarray, c: float = 1.0, seed: int = 0, kind: str = "logistic",
        hidden: int = 32) -> dict:
    """Train the classifier (scikit-learn) and return the JSON-ready record. ``c``: inverse
    regularisation (logistic C; the MLP's L2 penalty is 1 / c)."""
    mean = x.mean(0)
    scale = x.std(0) + 1e-6
    z = (x - mean) / scale
    record = {"features": FEATURE_VERSION, "kind": kind, "mean": mean.tolist(), "scale": scale.tolist(), "threshold": 0.5}
    if kind == "mlp":
        from sklearn.neural_network import MLPClassifier

        # balance the classes by repeating the smaller one (MLPClassifier has no class weights)
        ones, zeros = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
        small, large = (ones, zeros) if len(ones) < len(zeros) else (zeros, ones)
        rows = np.concatenate([large, np.resize(small, len(large))])
        clf = MLPClassifier(hidden_layer_sizes=(hidden,), alpha=1.0 / c, max_iter=600, random_state=seed,
                            early_stopping=True, validation_fraction=0.15, n_iter_no_change=25)
        clf.fit(z[rows], y[rows])
        record.update(hidden_weights=clf.coefs_[0].tolist(), hidden_bias=clf.intercepts_[0].tolist(),
                      out_weights=clf.coefs_[1][:, 0].tolist(), out_bias=float(clf.intercepts_[1][0]))
        return record
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(C=c, max_iter=5000, class_weight="balanced", random_state=seed)
    clf.fit(z, y)
    record.update(coef=clf.coef_[0].tolist(), intercept=float(clf.intercept_[0]))
    return record
