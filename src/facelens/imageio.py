"""Every way an image arrives (path, bytes, PIL image, numpy array) → one RGB uint8 array.

The guards live here so no model ever sees a malformed array:
- missing paths, folders, empty files, truncated or non-image data → BadInputError;
- CMYK, palette, alpha, 16-bit and grey images are converted to 8-bit RGB (alpha dropped);
- EXIF orientation is applied, so phone photos are upright;
- images above MAX_PIXELS are refused from the header, before decoding (decompression bombs).

Numpy arrays follow the OpenCV convention: H×W×3 is **BGR** (what cv2.imread and
cv2.VideoCapture return), H×W×4 is BGRA, H×W is grey. Pass ``channels="rgb"`` for RGB arrays.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path
from typing import Any, Literal, Union

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import BadInputError

MAX_PIXELS = 80_000_000  # ~ 10k × 8k; a 20000×20000 image (400 MP) is refused
MIN_SIDE = 8

ImageLike = Union[str, os.PathLike, bytes, bytearray, memoryview, np.ndarray, Image.Image]
Channels = Literal["bgr", "rgb"]


def load_image(source: ImageLike | Any, channels: Channels = "bgr") -> np.ndarray:
    """Return ``source`` as a contiguous H×W×3 RGB uint8 array, or raise BadInputError."""
    if isinstance(source, np.ndarray):
        rgb = _from_array(source, channels)
    elif isinstance(source, Image.Image):
        rgb = _from_pil(source, "PIL image")
    elif isinstance(source, (bytes, bytearray, memoryview)):
        rgb = _decode(bytes(source), "image bytes")
    elif isinstance(source, (str, os.PathLike)):
        rgb = _decode(_read_file(Path(source)), str(source))
    else:
        raise BadInputError(
            f"unsupported image type {type(source).__name__}: "
            "pass a path, bytes, a PIL image or a numpy array"
        )
    _check_size(rgb.shape[1], rgb.shape[0], "image")
    return np.ascontiguousarray(rgb)


def _read_file(path: Path) -> bytes:
    if not path.exists():
        raise BadInputError(f"{path}: no such file")
    if path.is_dir():
        raise BadInputError(f"{path}: is a directory, not an image file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BadInputError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    if not data:
        raise BadInputError(f"{path}: file is empty (0 bytes)")
    return data


def _check_size(width: int, height: int, name: str) -> None:
    if width * height > MAX_PIXELS:
        raise BadInputError(
            f"{name}: {width}×{height} pixels exceeds the limit of {MAX_PIXELS:,} "
            "(decompression-bomb guard); downscale it first"
        )
    if min(width, height) < MIN_SIDE:
        raise BadInputError(f"{name}: {width}×{height} pixels is too small to hold a face")


def _decode(data: bytes, name: str) -> np.ndarray:
    if not data:
        raise BadInputError(f"{name}: empty (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            _check_size(image.width, image.height, name)  # header only: nothing decoded yet
            image.load()
    except BadInputError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise BadInputError(
            f"{name}: too many pixels (decompression-bomb guard, limit {MAX_PIXELS:,}); downscale it first"
        ) from exc
    except UnidentifiedImageError as exc:
        raise BadInputError(f"{name}: not a readable image ({_short(exc)})") from exc
    except (OSError, ValueError, SyntaxError) as exc:
        # PIL reports truncated JPEG/PNG data as OSError("image file is truncated ...").
        raise BadInputError(f"{name}: corrupt or truncated image data ({_short(exc)})") from exc
    return _from_pil(image, name)


def _from_pil(image: Image.Image, name: str) -> np.ndarray:
    try:
        image = ImageOps.exif_transpose(image)
    except Exception:  # a broken EXIF block must not make a readable image unreadable
        pass
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        image = _sixteen_bit_to_8bit(image)
    if image.mode != "RGB":
        try:
            image = image.convert("RGB")  # CMYK, P, LA, RGBA (alpha dropped), L, 1
        except (OSError, ValueError) as exc:
            raise BadInputError(f"{name}: cannot convert mode {image.mode} to RGB") from exc
    return np.asarray(image, dtype=np.uint8)


def _sixteen_bit_to_8bit(image: Image.Image) -> Image.Image:
    values = np.asarray(image, dtype=np.float64)
    top = values.max() if values.size else 0.0
    scale = 255.0 / (65535.0 if top > 255 else max(top, 1.0))
    return Image.fromarray(np.clip(values * scale, 0, 255).astype(np.uint8), mode="L")


def _from_array(array: np.ndarray, channels: Channels) -> np.ndarray:
    if channels not in ("bgr", "rgb"):
        raise BadInputError(f"channels must be 'bgr' or 'rgb', not {channels!r}")
    if array.size == 0:
        raise BadInputError("numpy image is empty")
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim == 2:
        array = np.repeat(array[:, :, None], 3, axis=2)
    elif array.ndim != 3 or array.shape[2] not in (3, 4):
        raise BadInputError(
            f"numpy image must be H×W, H×W×3 or H×W×4, not shape {tuple(array.shape)}"
        )
    array = array[:, :, :3]
    array = _to_uint8(array)
    return array[:, :, ::-1] if channels == "bgr" else array


def _to_uint8(array: np.ndarray) -> np.ndarray:
    if array.dtype == np.uint8:
        return array
    if array.dtype == np.uint16:
        return (array >> 8).astype(np.uint8)
    if np.issubdtype(array.dtype, np.floating):
        if not np.isfinite(array).all():
            raise BadInputError("numpy image holds NaN or infinite values")
        # floats in [0, 1] are the usual convention; anything larger is taken as 0–255.
        scale = 255.0 if array.max(initial=0.0) <= 1.0 else 1.0
        return np.clip(array * scale, 0, 255).astype(np.uint8)
    if np.issubdtype(array.dtype, np.integer) or array.dtype == np.bool_:
        return np.clip(array, 0, 255).astype(np.uint8)
    raise BadInputError(f"numpy image dtype {array.dtype} is not supported")


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:160]


def rgb_to_bgr(rgb: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(rgb[:, :, ::-1])
