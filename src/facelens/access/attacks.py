"""Simulated presentation attacks made from real photos: printed photo and photo on a screen,
re-captured by the camera.

These are SIMULATIONS, not real attacks: no presentation-attack dataset is reachable offline.
Each step imitates one physical effect of a recapture (ISO/IEC 30107-3 calls the artefact a PAI):

- resampling: the print/screen has a lower effective resolution than the camera (down + up);
- gamma and contrast: paper has a smaller dynamic range; screens add their own tone curve;
- colour: ink gamut loss (desaturation) or a screen's colour temperature (blue/white-point cast);
- moiré: the camera's pixel grid beating against screen pixels / print half-tones (sinusoid
  gratings of random frequency and angle multiplied into the luminance);
- blur: focus and motion when holding the artefact;
- JPEG: the photo was compressed before it was printed or shown;
- border/bezel: white paper margin or a black screen bezel around the photo, on a background.

``simulate(rgb, kind, rng)`` returns a new image (same size as the input). Real ("bona fide")
images used next to these get ``camera_jitter`` (mild JPEG/blur/noise) so that a classifier cannot
separate the classes by "was it compressed a second time" alone.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..errors import BadInputError

KINDS = ("print", "screen")


def _jpeg(rgb: np.ndarray, quality: int) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    return cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB) if ok else rgb


def _resample(rgb: np.ndarray, factor: float) -> np.ndarray:
    h, w = rgb.shape[:2]
    small = cv2.resize(rgb, (max(8, int(w * factor)), max(8, int(h * factor))), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def _gamma(x: np.ndarray, gamma: float) -> np.ndarray:
    return 255.0 * np.power(np.clip(x, 0, 255) / 255.0, gamma)


def _moire(x: np.ndarray, rng: np.random.Generator, amplitude: float) -> np.ndarray:
    h, w = x.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    pattern = np.zeros((h, w), np.float32)
    for _ in range(2):
        freq = rng.uniform(0.12, 0.45)  # cycles per pixel: beats between two pixel grids
        angle = rng.uniform(0, np.pi)
        pattern += np.sin(2 * np.pi * freq * (xx * np.cos(angle) + yy * np.sin(angle)) + rng.uniform(0, 2 * np.pi))
    return x * (1.0 + amplitude * pattern[..., None] / 2.0)


def _present(rgb: np.ndarray, rng: np.random.Generator, border: tuple[int, int, int], margin: float) -> np.ndarray:
    """The photo held in front of the camera: shrunk, framed by paper/bezel, on a background."""
    h, w = rgb.shape[:2]
    scale = rng.uniform(0.7, 0.92)
    inner = cv2.resize(rgb, (int(w * scale), int(h * scale)), interpolation=cv2.INTER_AREA)
    pad = int(max(2, margin * inner.shape[1]))
    framed = cv2.copyMakeBorder(inner, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=border)
    background = np.full((h, w, 3), rng.integers(40, 200, size=3), np.float32)
    background += rng.normal(0, 6, background.shape)
    fh, fw = framed.shape[:2]
    if fh > h or fw > w:
        framed = cv2.resize(framed, (min(fw, w), min(fh, h)))
        fh, fw = framed.shape[:2]
    y = int(rng.integers(0, h - fh + 1))
    x = int(rng.integers(0, w - fw + 1))
    background[y:y + fh, x:x + fw] = framed
    # the artefact is seldom held perfectly parallel to the sensor: a mild perspective warp
    jitter = 0.04 * w
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    dst = src + rng.uniform(-jitter, jitter, src.shape).astype(np.float32)
    return cv2.warpPerspective(background, cv2.getPerspectiveTransform(src, dst), (w, h),
                               borderMode=cv2.BORDER_REFLECT)


def simulate(rgb: np.ndarray, kind: str, rng: np.random.Generator) -> np.ndarray:
    """One simulated recapture of a real photo (RGB uint8 in, RGB uint8 out)."""
    if kind not in KINDS:
        raise BadInputError(f"attack kind must be one of {KINDS}, not {kind!r}")
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise BadInputError("simulate expects an H×W×3 uint8 RGB image")
    x = _jpeg(rgb, int(rng.integers(55, 92))).astype(np.float32)
    x = _resample(x.astype(np.uint8), rng.uniform(0.35, 0.7)).astype(np.float32)
    if kind == "print":
        grey = x.mean(axis=2, keepdims=True)
        x = grey + rng.uniform(0.55, 0.9) * (x - grey)  # ink gamut: less saturated
        x = 20 + x * rng.uniform(0.7, 0.9)  # paper white and ink black: lower contrast
        x = _gamma(x, rng.uniform(0.8, 1.3))
        if rng.random() < 0.5:
            x = _moire(x, rng, rng.uniform(0.02, 0.06))  # half-tone beating
        x = _present(np.clip(x, 0, 255), rng, (int(rng.integers(215, 250)),) * 3, rng.uniform(0.02, 0.12))
    else:
        x = x * np.array([rng.uniform(0.9, 1.0), rng.uniform(0.95, 1.02), rng.uniform(1.0, 1.12)], np.float32)
        x = _gamma(x, rng.uniform(0.7, 1.2)) * rng.uniform(1.0, 1.15)  # emissive, often over-bright
        x = _moire(x, rng, rng.uniform(0.04, 0.14))
        x = _present(np.clip(x, 0, 255), rng, tuple(int(v) for v in rng.integers(0, 30, 3)), rng.uniform(0.03, 0.1))
    sigma = rng.uniform(0.4, 1.4)
    x = cv2.GaussianBlur(np.clip(x, 0, 255), (0, 0), sigma)
    x = x + rng.normal(0, rng.uniform(1, 4), x.shape)  # sensor noise of the re-capturing camera
    return _jpeg(np.clip(x, 0, 255).astype(np.uint8), int(rng.integers(70, 95)))


def camera_jitter(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Mild capture effects for bona fide images (the same camera JPEG/noise the attacks get)."""
    x = np.asarray(rgb, np.float32)
    if rng.random() < 0.5:
        x = cv2.GaussianBlur(x, (0, 0), rng.uniform(0.3, 1.0))
    x = x + rng.normal(0, rng.uniform(1, 4), x.shape)
    return _jpeg(np.clip(x, 0, 255).astype(np.uint8), int(rng.integers(70, 95)))


# ------------------------------------------------------------------ photo-swap sequences

FRAME_ASPECT = 9 / 16  # rendered frames are 16:9, as webcams deliver them
# capture sizes evaluated: frame width → range of face widths (px) drawn for it
CAPTURE_BANDS = {320: (60, 90), 640: (100, 160), 1280: (160, 280), 1920: (260, 400)}


def place_photos(photos: list[np.ndarray], width: int, face_width: float, rng: np.random.Generator,
                 aligned: bool = True) -> list[np.ndarray]:
    """Each photo resampled into a width × 9/16·width frame so that the first photo's face is
    ``face_width`` pixels wide. ``aligned``: every later photo's eyes land where the first photo's
    eyes are (the careful attacker lines the new photo up with the old one); otherwise each is
    centred on its own face with its own scale (a careless swap).

    The photos must show one clear face each (BlazeFace); the space around a photo is filled by
    replicating its border, as a large print or a screen would show more of the scene."""
    from ..alignment import similarity_transform
    from ..errors import NoFaceError
    from ..pipeline import detect_rgb

    height = int(round(width * FRAME_ASPECT))
    centre = np.array([width / 2 + rng.uniform(-0.1, 0.1) * width, height / 2 + rng.uniform(-0.08, 0.08) * height])
    placed, target_eyes = [], None
    for index, photo in enumerate(photos):
        faces = detect_rgb(np.asarray(photo))
        if not faces:
            raise NoFaceError(f"photo {index} of the swap shows no face")
        face = max(faces, key=lambda f: f.area)
        eyes = np.array([face.keypoints["right_eye"], face.keypoints["left_eye"]], np.float64)
        if target_eyes is None or not aligned:
            scale = face_width / face.width
            offset = centre - scale * np.array(face.center)
            matrix = np.array([[scale, 0, offset[0]], [0, scale, offset[1]]])
            if target_eyes is None:
                target_eyes = eyes * scale + offset
        else:
            matrix = similarity_transform(eyes, target_eyes)
        interpolation = cv2.INTER_AREA if matrix[0, 0] < 1 else cv2.INTER_CUBIC
        placed.append(cv2.warpAffine(np.asarray(photo), matrix, (width, height), flags=interpolation,
                                     borderMode=cv2.BORDER_REPLICATE))
    return placed


def hand_motion(frames: int, width: int, height: int, rng: np.random.Generator, amount: float = 1.0) -> list[np.ndarray]:
    """Homographies of a photo or phone held in the hand: a slow random walk of shift, roll,
    scale and tilt (a few pixels per frame at 640 px), one 3×3 matrix per frame."""
    src = np.float32([[0, 0], [width, 0], [width, height], [0, height]])
    corners = np.zeros((4, 2), np.float32)
    shift, angle, scale = np.zeros(2), 0.0, 1.0
    out = []
    for _ in range(frames):
        shift = 0.8 * shift + rng.normal(0, 0.003 * width * amount, 2)
        angle = 0.8 * angle + rng.normal(0, 0.4 * amount)
        scale = 1.0 + 0.8 * (scale - 1.0) + rng.normal(0, 0.004 * amount)
        corners = 0.8 * corners + rng.normal(0, 0.002 * width * amount, (4, 2)).astype(np.float32)
        rotation = cv2.getRotationMatrix2D((width / 2, height / 2), angle, scale)
        rotation[:, 2] += shift
        dst = cv2.transform(src[None], rotation)[0] + corners
        out.append(cv2.getPerspectiveTransform(src, dst.astype(np.float32)))
    return out


def swap_sequence(photos: list[np.ndarray], schedule: list[int | tuple[int, int, float]], width: int,
                  face_width: float, kind: str, seed: int, simulator=None, aligned: bool = True) -> list[np.ndarray]:
    """Frames of a photo-swap attack: the photos of one person printed (or shown on a screen) with
    one set of recapture artefacts, held in the hand, and swapped in front of the camera.

    ``schedule``: per frame, the index of the photo shown, ``-1`` for a frame with no face (the
    attacker's hand covers the camera while swapping) or ``(a, b, w)`` for a screen slideshow's
    cross-fade ((1 − w)·a + w·b). ``simulator``: a module with ``simulate(rgb, kind, rng)``
    (default: this one; ``attacks_holdout`` for the held-out one). Deterministic in ``seed``."""
    recapture = simulator.simulate if simulator is not None else simulate
    rng = np.random.default_rng(seed)
    placed = place_photos(photos, width, face_width, rng, aligned=aligned)
    recaptured = [recapture(p, kind, np.random.default_rng([seed, 1])) for p in placed]  # same artefacts
    height = placed[0].shape[0]
    motion = hand_motion(len(schedule), width, height, rng)
    covered = np.full_like(placed[0], int(rng.integers(20, 90)))
    frames = []
    for shown, matrix in zip(schedule, motion):
        if isinstance(shown, tuple):
            a, b, weight = shown
            image = cv2.addWeighted(recaptured[a], 1.0 - weight, recaptured[b], weight, 0.0)
        else:
            image = covered if shown < 0 else recaptured[shown]
        moved = cv2.warpPerspective(image, matrix, (width, height), borderMode=cv2.BORDER_REPLICATE)
        frames.append(_camera_frame(moved, rng))
    return frames


def replay_sequence(frames: list[np.ndarray], kind: str, seed: int, simulator=None) -> list[np.ndarray]:
    """A recorded video of the real person (``frames``) replayed on a screen (or, ``kind``
    'print', a flip-book of prints) held in the hand in front of the camera: every frame gets the
    same recapture artefacts, the hand's motion and the camera's noise. Deterministic in ``seed``."""
    recapture = simulator.simulate if simulator is not None else simulate
    rng = np.random.default_rng(seed)
    height, width = frames[0].shape[:2]
    motion = hand_motion(len(frames), width, height, rng)
    out = []
    for frame, matrix in zip(frames, motion):
        shown = recapture(np.asarray(frame), kind, np.random.default_rng([seed, 1]))  # one screen, one set of artefacts
        moved = cv2.warpPerspective(shown, matrix, (width, height), borderMode=cv2.BORDER_REPLICATE)
        out.append(_camera_frame(moved, rng))
    return out


def _camera_frame(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``camera_jitter`` for video frames (float32 noise: the same effect, a third of the time on
    1920-px frames)."""
    x = rgb.astype(np.float32)
    if rng.random() < 0.5:
        x = cv2.GaussianBlur(x, (0, 0), rng.uniform(0.3, 1.0))
    x += rng.standard_normal(x.shape, dtype=np.float32) * np.float32(rng.uniform(1, 4))
    return _jpeg(np.clip(x, 0, 255).astype(np.uint8), int(rng.integers(70, 95)))
