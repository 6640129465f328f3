"""A second, separately written attack simulator, held out from training: the passive model and
the liveness thresholds were never fitted or tuned on its output (docs/access.md).

Same interface as ``attacks.simulate`` (RGB uint8 in, same size out) so it can stand in for it
in ``attacks.swap_sequence``, but built from other physical effects, so a model that learned the
first simulator's particular artefacts (Gaussian blur, sinusoid moiré, one tone curve) does not
pass this one by accident:

- **print**: CMY half-tone dots on rotated screens (0°, 15°, 45°, 75°) at a chosen cell size,
  paper white and tint, an S-shaped tone curve of ink on matte paper, uneven lighting across the
  sheet, a specular glare spot, a cylindrical bend of the sheet (the print is not flat), a disk
  (defocus) blur rather than a Gaussian, lateral chromatic aberration, shot noise and JPEG;
- **screen**: the photo resampled onto a phone/monitor pixel grid and drawn as RGB stripe
  sub-pixels, the screen's black level, white point and "vivid" saturation, a reflection of the
  room, rolling-shutter banding from the backlight's PWM, a dark bezel, then the same camera.

Also ``turned_print``: a flat print turned about its vertical axis in front of the camera (the
attack on the head-turn challenge that the 3-D check exists for).

These are SIMULATIONS like ``attacks.py``; no real presentation-attack data set was available.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..errors import BadInputError

KINDS = ("print", "screen")
SCREEN_ANGLES = {0: 15.0, 1: 75.0, 2: 0.0}  # cyan, magenta, yellow screen angles (degrees)


def _check(rgb: np.ndarray, kind: str) -> np.ndarray:
    if kind not in KINDS:
        raise BadInputError(f"attack kind must be one of {KINDS}, not {kind!r}")
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise BadInputError("simulate expects an H×W×3 uint8 RGB image")
    return rgb


def _halftone(rgb: np.ndarray, cell: float) -> np.ndarray:
    """Amplitude-modulated half-tone: each CMY ink is a grid of dots whose area follows the ink
    amount, on its own rotated screen; rendered at the capture's pixel scale (a sub-pixel cell
    simply averages out, as it does in a real camera)."""
    h, w = rgb.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    ink = 1.0 - rgb.astype(np.float32) / 255.0  # C, M, Y from R, G, B
    out = np.empty_like(ink)
    for channel, angle in SCREEN_ANGLES.items():
        a = np.radians(angle)
        u = (xx * np.cos(a) + yy * np.sin(a)) / cell
        v = (-xx * np.sin(a) + yy * np.cos(a)) / cell
        # distance to the nearest dot centre, 0 … ~0.7 cell; a dot covers the ink share of the cell
        distance = np.hypot(u - np.round(u), v - np.round(v))
        radius = np.sqrt(ink[..., channel] / np.pi)
        out[..., channel] = np.clip((radius - distance) * cell + 0.5, 0.0, 1.0)  # 1-px anti-aliased edge
    return 255.0 * (1.0 - out)


def _disk_blur(x: np.ndarray, radius: float) -> np.ndarray:
    if radius < 0.6:
        return x
    size = int(np.ceil(radius)) * 2 + 1
    yy, xx = np.mgrid[0:size, 0:size] - size // 2
    kernel = (np.hypot(yy, xx) <= radius).astype(np.float32)
    return cv2.filter2D(x, -1, kernel / kernel.sum(), borderType=cv2.BORDER_REFLECT)


def _camera(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Defocus, lateral chromatic aberration, shot + read noise, the camera's JPEG."""
    x = _disk_blur(x, rng.uniform(0.5, 1.8))
    h, w = x.shape[:2]
    for channel, sign in ((0, 1.0), (2, -1.0)):  # red and blue scaled slightly apart about the centre
        scale = 1.0 + sign * rng.uniform(0.0005, 0.002)
        matrix = cv2.getRotationMatrix2D((w / 2, h / 2), 0.0, scale)
        x[..., channel] = cv2.warpAffine(x[..., channel], matrix, (w, h), borderMode=cv2.BORDER_REFLECT)
    x = np.clip(x, 0, 255)
    gain = rng.uniform(0.3, 1.2)
    x = x + rng.normal(0, 1, x.shape) * np.sqrt(gain * (x + 4.0))  # shot noise grows with brightness
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(np.clip(x, 0, 255).astype(np.uint8), cv2.COLOR_RGB2BGR),
                           [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(65, 93))])
    return cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def _bend(x: np.ndarray, rng: np.random.Generator, border: float) -> np.ndarray:
    """The sheet bent like a cylinder about its vertical axis: columns near the edges recede."""
    h, w = x.shape[:2]
    depth = rng.uniform(0.02, 0.08)
    xs = np.linspace(-1, 1, w, dtype=np.float32)
    shrink = 1.0 - depth * (1.0 - np.cos(xs * np.pi / 2))  # 1 at the centre, 1 − depth at the edges
    map_x = np.tile((xs * shrink + 1) * (w - 1) / 2, (h, 1))
    ys = np.arange(h, dtype=np.float32)[:, None]
    map_y = (ys - h / 2) / shrink[None, :] + h / 2
    return cv2.remap(x, map_x.astype(np.float32), map_y.astype(np.float32), cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_CONSTANT, borderValue=(border,) * 3)


def _sheet(x: np.ndarray, rng: np.random.Generator, margin_value: float) -> np.ndarray:
    """Place the artefact smaller than the frame on a plain, noisy background (the room)."""
    h, w = x.shape[:2]
    scale = rng.uniform(0.75, 0.95)
    inner = cv2.resize(x, (int(w * scale), int(h * scale)), interpolation=cv2.INTER_AREA)
    pad = int(max(2, rng.uniform(0.02, 0.08) * inner.shape[1]))
    framed = cv2.copyMakeBorder(inner, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(margin_value,) * 3)
    framed = framed[:h, :w]
    room = np.empty((h, w, 3), np.float32)
    top, bottom = rng.integers(30, 220, 3), rng.integers(30, 220, 3)
    room[:] = np.linspace(0, 1, h, dtype=np.float32)[:, None, None] * (bottom - top) + top
    y = int(rng.integers(0, h - framed.shape[0] + 1))
    x0 = int(rng.integers(0, w - framed.shape[1] + 1))
    room[y:y + framed.shape[0], x0:x0 + framed.shape[1]] = framed
    return room


def _print(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    # a photo printer's screen is finer than the camera sees: the dots show only partly
    dots = rng.uniform(0.15, 0.6)
    x = (1 - dots) * rgb.astype(np.float32) + dots * _halftone(rgb, rng.uniform(0.8, 2.5))
    paper = np.array([rng.uniform(235, 252), rng.uniform(232, 250), rng.uniform(220, 245)], np.float32)
    t = x / 255.0
    t = t * t * (3 - 2 * t)  # S-curve: ink on matte paper compresses the ends
    ink_black = rng.uniform(25, 55)
    x = ink_black + t * (paper - ink_black)
    h, w = x.shape[:2]
    gy, gx = np.mgrid[0:h, 0:w].astype(np.float32)
    tilt = rng.uniform(-0.25, 0.25, 2)
    x = x * (1.0 + tilt[0] * (gx / w - 0.5) + tilt[1] * (gy / h - 0.5))[..., None]  # uneven light
    cx, cy, r = rng.uniform(0.2, 0.8) * w, rng.uniform(0.1, 0.6) * h, rng.uniform(0.08, 0.25) * w
    x = x + rng.uniform(20, 90) * np.exp(-((gx - cx) ** 2 + (gy - cy) ** 2) / (2 * r * r))[..., None]  # glare
    x = _bend(np.clip(x, 0, 255), rng, float(paper.mean()))
    return _sheet(x, rng, float(paper.mean()))


def _screen(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    h, w = rgb.shape[:2]
    pitch = rng.uniform(0.6, 1.8)  # camera pixels per screen pixel
    grid = cv2.resize(rgb, (max(8, int(w / pitch)), max(8, int(h / pitch))), interpolation=cv2.INTER_AREA)
    stripes = np.zeros((grid.shape[0], grid.shape[1] * 3, 3), np.float32)
    for channel in range(3):  # each screen pixel = R, G, B vertical stripes
        stripes[:, channel::3, channel] = grid[..., channel]
    x = cv2.resize(stripes * 3.0, (w, h), interpolation=cv2.INTER_AREA)  # the camera integrates them
    plain = cv2.resize(grid, (w, h), interpolation=cv2.INTER_LINEAR).astype(np.float32)
    optics = rng.uniform(0.3, 0.8)  # the lens blurs the sub-pixel structure partly away
    x = (optics * plain + (1 - optics) * x) / 255.0
    grey = x.mean(axis=2, keepdims=True)
    x = grey + rng.uniform(1.05, 1.35) * (x - grey)  # "vivid" colour mode
    white = np.array([rng.uniform(0.9, 1.0), rng.uniform(0.95, 1.0), rng.uniform(1.0, 1.1)], np.float32)
    black = rng.uniform(0.03, 0.12)
    x = black + (1 - black) * np.clip(x, 0, 1) ** rng.uniform(0.8, 1.1) * white
    gy = np.arange(h, dtype=np.float32)[:, None, None]
    period, phase = rng.uniform(6, 40), rng.uniform(0, 2 * np.pi)
    x = x * (1.0 + rng.uniform(0.01, 0.05) * np.sin(2 * np.pi * gy / period + phase))  # PWM banding
    room = cv2.GaussianBlur(rng.uniform(0, 1, (8, 8, 3)).astype(np.float32), (0, 0), 1.5)
    x = x + rng.uniform(0.03, 0.12) * cv2.resize(room, (w, h), interpolation=cv2.INTER_CUBIC)  # reflection
    return _sheet(np.clip(x * 255.0, 0, 255), rng, float(rng.uniform(5, 30)))


def simulate(rgb: np.ndarray, kind: str, rng: np.random.Generator) -> np.ndarray:
    """One held-out simulated recapture of a real photo (RGB uint8 in, RGB uint8 out)."""
    rgb = _check(rgb, kind)
    x = _print(rgb, rng) if kind == "print" else _screen(rgb, rng)
    return _camera(x, rng)


def turned_print(rgb: np.ndarray, degrees: float, centre: tuple[float, float], distance: float = 2.0) -> np.ndarray:
    """The frame seen when a flat print filling it is turned by ``degrees`` about a vertical axis
    through ``centre`` (pinhole camera, focal length = frame width, print ``distance`` focal
    lengths away): the exact homography of a plane."""
    h, w = rgb.shape[:2]
    f = float(w)
    k = np.array([[f, 0, w / 2], [0, f, h / 2], [0, 0, 1.0]])
    a = np.radians(degrees)
    rotation = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    depth = distance * f
    pivot = np.array([(centre[0] - w / 2) * distance, (centre[1] - h / 2) * distance, depth])
    to_plane = np.array([[distance, 0, -w / 2 * distance], [0, distance, -h / 2 * distance], [0, 0, depth]])
    # pixel → point on the print → turned about the pivot → projected
    homography = k @ (rotation @ (to_plane - np.outer(pivot, [0, 0, 1])) + np.outer(pivot, [0, 0, 1]))
    return cv2.warpPerspective(np.asarray(rgb), homography / homography[2, 2], (w, h), borderMode=cv2.BORDER_REPLICATE)
