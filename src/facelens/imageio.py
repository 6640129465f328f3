"""Every way an image arrives (path, bytes, PIL image, numpy array) → one RGB uint8 array.

The guards live here so no model ever sees a malformed array:
- missing paths, folders, empty files, truncated or non-image data → BadInputError;
- a path is read only if it is a regular file (not /dev/zero, a FIFO, a socket), and only up
  to MAX_FILE_BYTES, before anything is decoded; too-long paths are refused with a message;
- arrays of unsupported dtypes (complex, object, structured, str) or shapes, np.matrix, and
  closed or truncated PIL images → BadInputError;
- CMYK, palette, alpha, 16-bit and grey images are converted to 8-bit RGB (alpha dropped);
- EXIF orientation is applied, so phone photos are upright;
- images above MAX_PIXELS are refused from the header, before decoding (decompression bombs).

Numpy arrays follow the OpenCV convention: H×W×3 is **BGR** (what cv2.imread and
cv2.VideoCapture return), H×W×4 is BGRA, H×W is grey. Pass ``channels="rgb"`` for RGB arrays.
"""

from __future__ import annotations

import errno
import io
import os
import stat
import struct
import warnings
from typing import Any, Literal, Union

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import BadInputError

MAX_PIXELS = 80_000_000  # ~ 10k × 8k; a 20000×20000 image (400 MP) is refused
MIN_SIDE = 8
MAX_FILE_BYTES = 256 * 1024 * 1024  # read no more than this from a path or bytes (a 80 MP PNG is ~200 MB)
ARRAY_KINDS = "biuf"  # bool, signed, unsigned, float; not complex, object, str, structured

ImageLike = Union[str, os.PathLike, bytes, bytearray, memoryview, np.ndarray, Image.Image]
Channels = Literal["bgr", "rgb"]


def load_image(source: ImageLike | Any, channels: Channels = "bgr") -> np.ndarray:
    """Return ``source`` as a contiguous H×W×3 RGB uint8 array, or raise BadInputError."""
    if channels not in ("bgr", "rgb"):
        raise BadInputError(f"channels must be 'bgr' or 'rgb', not {channels!r}")
    if isinstance(source, np.ndarray):
        rgb = _from_array(source, channels)
    elif isinstance(source, Image.Image):
        rgb = _from_pil(source, "PIL image")
    elif isinstance(source, (bytes, bytearray, memoryview)):
        rgb = _decode(_capped_bytes(source), "image bytes")
    elif isinstance(source, (str, os.PathLike)):
        rgb = _decode(_read_file(source), _shown(source))
    else:
        raise BadInputError(
            f"unsupported image type {type(source).__name__}: "
            "pass a path, bytes, a PIL image or a numpy array"
        )
    _check_size(rgb.shape[1], rgb.shape[0], "image")
    return np.ascontiguousarray(rgb)


def _shown(path: Any) -> str:
    """The path for a message: a 5,000-character path must not become a 5,000-character error."""
    text = os.fsdecode(os.fspath(path))
    return text if len(text) <= 160 else f"{text[:80]}…{text[-40:]} ({len(text)} characters)"


def _capped_bytes(data: bytes | bytearray | memoryview) -> bytes:
    if len(data) > MAX_FILE_BYTES:
        raise BadInputError(f"image bytes: {len(data):,} bytes exceeds the limit of {MAX_FILE_BYTES:,}")
    return bytes(data)


def _read_file(source: str | os.PathLike) -> bytes:
    """The file's bytes, read only if it is a regular file and only up to MAX_FILE_BYTES.

    /dev/zero or /dev/urandom never end and a FIFO blocks until a writer comes: all are refused
    from their file type (stat before opening, fstat of the opened descriptor so a swap in
    between changes nothing), and the read itself is capped in case a file grows meanwhile."""
    name = _shown(source)
    try:
        _check_regular(os.stat(source), name)
        # O_NONBLOCK: opening a FIFO that appeared after the stat returns at once instead of
        # waiting for a writer; on a regular file it changes nothing.
        fd = os.open(source, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except BadInputError:
        raise
    except OSError as exc:
        raise BadInputError(f"{name}: {_os_reason(exc)}") from None
    except ValueError as exc:  # e.g. "embedded null byte"
        raise BadInputError(f"{name}: not a usable path ({exc})") from None
    try:
        info = os.fstat(fd)
        _check_regular(info, name)
        with os.fdopen(fd, "rb", closefd=False) as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise BadInputError(f"{name}: cannot read ({_os_reason(exc)})") from None
    finally:
        os.close(fd)
    if len(data) > MAX_FILE_BYTES:
        raise BadInputError(f"{name}: file is larger than the limit of {MAX_FILE_BYTES:,} bytes")
    if not data:
        raise BadInputError(f"{name}: file is empty (0 bytes)")
    return data


def _check_regular(info: os.stat_result, name: str) -> None:
    if stat.S_ISDIR(info.st_mode):
        raise BadInputError(f"{name}: is a directory, not an image file")
    if not stat.S_ISREG(info.st_mode):
        raise BadInputError(f"{name}: not a regular file (a device, FIFO or socket); refusing to read it")
    if info.st_size > MAX_FILE_BYTES:
        raise BadInputError(f"{name}: {info.st_size:,} bytes exceeds the limit of {MAX_FILE_BYTES:,}")


def _os_reason(exc: OSError) -> str:
    if exc.errno == errno.ENOENT:
        return "no such file"
    if exc.errno == errno.ENAMETOOLONG:
        return "path is longer than the operating system allows"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if exc.errno == errno.ELOOP:
        return "too many levels of symbolic links"
    if exc.errno == errno.ENOTDIR:
        return "a part of the path is not a directory"
    return exc.strerror or type(exc).__name__


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
    except (OSError, ValueError, SyntaxError, EOFError, struct.error) as exc:
        # PIL reports truncated JPEG/PNG data as OSError("image file is truncated ...").
        raise BadInputError(f"{name}: corrupt or truncated image data ({_short(exc)})") from exc
    return _from_pil(image, name)


def _from_pil(image: Image.Image, name: str) -> np.ndarray:
    """A caller's PIL image may be closed, or opened lazily from a file that is truncated: its
    pixels are only read here, so every way that fails is a BadInputError."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            _check_size(image.width, image.height, name)  # before the pixels are decoded
            image.load()
            return _pil_to_rgb(image, name)
    except BadInputError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise BadInputError(f"{name}: too many pixels (decompression-bomb guard)") from exc
    except (OSError, ValueError, SyntaxError, EOFError, AttributeError, struct.error) as exc:
        raise BadInputError(f"{name}: cannot read its pixels: closed, truncated or corrupt ({_short(exc)})") from exc


def _pil_to_rgb(image: Image.Image, name: str) -> np.ndarray:
    try:
        image = ImageOps.exif_transpose(image)
    except Exception:  # a broken EXIF block must not make a readable image unreadable
        pass
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        image = _sixteen_bit_to_8bit(image)
    if image.mode != "RGB":
        image = image.convert("RGB")  # CMYK, P, LA, RGBA (alpha dropped), L, 1
    return np.asarray(image, dtype=np.uint8)


def _sixteen_bit_to_8bit(image: Image.Image) -> Image.Image:
    values = np.asarray(image, dtype=np.float64)
    finite = values[np.isfinite(values)]
    top = finite.max() if finite.size else 0.0
    scale = 255.0 / (65535.0 if top > 255 else max(top, 1.0))
    return Image.fromarray(np.clip(np.nan_to_num(values) * scale, 0, 255).astype(np.uint8), mode="L")


def _from_array(array: np.ndarray, channels: Channels) -> np.ndarray:
    # np.matrix, masked arrays, memmaps …: a plain ndarray view (np.matrix cannot hold 3 axes).
    array = np.asarray(array)
    if array.dtype.kind not in ARRAY_KINDS:
        raise BadInputError(
            f"numpy image dtype {array.dtype} is not supported: use uint8 (0–255), uint16, "
            "another integer type, float (0–1 or 0–255) or bool"
        )
    if array.size == 0:
        raise BadInputError(f"numpy image is empty (shape {tuple(array.shape)})")
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[2] in (3, 4))):
        raise BadInputError(
            f"numpy image must be H×W, H×W×1, H×W×3 or H×W×4, not shape {tuple(array.shape)}"
        )
    # Refused from the shape, before any conversion allocates H×W×3 of anything.
    _check_size(array.shape[1], array.shape[0], "numpy image")
    if array.ndim == 2:
        array = np.repeat(array[:, :, None], 3, axis=2)
    array = _to_uint8(array[:, :, :3])
    return array[:, :, ::-1] if channels == "bgr" else array


def _to_uint8(array: np.ndarray) -> np.ndarray:
    if array.dtype == np.uint8:
        return array
    if array.dtype == np.bool_:
        return array.astype(np.uint8) * np.uint8(255)  # a mask: True is white
    if array.dtype == np.uint16:
        return (array >> 8).astype(np.uint8)
    if array.dtype.kind == "f":
        if not np.isfinite(array).all():
            raise BadInputError("numpy image holds NaN or infinite values")
        # floats in [0, 1] are the usual convention; anything larger is taken as 0–255.
        scale = 255.0 if array.max(initial=0.0) <= 1.0 else 1.0
        return np.clip(array * scale, 0, 255).astype(np.uint8)
    return np.clip(array, 0, 255).astype(np.uint8)  # other integer types


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:160]


def rgb_to_bgr(rgb: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(rgb[:, :, ::-1])
