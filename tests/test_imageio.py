"""Every way an image arrives, and every bad input the issue lists, on real photos."""

from __future__ import annotations


import numpy as np
import pytest
from PIL import Image

from facelens.errors import BadInputError
from facelens.imageio import MAX_PIXELS, load_image


@pytest.fixture(scope="module")
def photo(data_dir):
    return data_dir / "faces" / "obama.jpg"


def test_path_bytes_pil_and_arrays_agree(photo):
    from_path = load_image(photo)
    assert from_path.dtype == np.uint8 and from_path.shape[2] == 3
    assert np.array_equal(load_image(photo.read_bytes()), from_path)
    assert np.array_equal(load_image(Image.open(photo)), from_path)
    bgr = np.ascontiguousarray(from_path[:, :, ::-1])
    assert np.array_equal(load_image(bgr), from_path)  # numpy arrays are BGR by default
    assert np.array_equal(load_image(from_path, channels="rgb"), from_path)


@pytest.mark.parametrize("mode", ["CMYK", "L", "LA", "P", "RGBA"])
def test_modes_become_rgb(photo, tmp_path, mode):
    path = tmp_path / f"photo_{mode}.{'jpg' if mode in ('CMYK', 'L') else 'png'}"
    Image.open(photo).convert(mode).save(path)
    rgb = load_image(path)
    assert rgb.shape[2] == 3 and rgb.dtype == np.uint8


def test_sixteen_bit_png(photo, tmp_path):
    grey = np.asarray(Image.open(photo).convert("L"), dtype=np.uint16) * 257
    path = tmp_path / "grey16.png"
    Image.fromarray(grey).save(path)
    assert Image.open(path).mode.startswith("I")
    rgb = load_image(path)
    assert rgb.shape[2] == 3 and 50 < rgb.mean() < 200


def test_alpha_png_is_read(data_dir):
    assert load_image(data_dir / "faces" / "32bit.png").shape[2] == 3


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda tmp, photo: tmp / "missing.jpg", "no such file"),
        (lambda tmp, photo: tmp, "directory"),
        (lambda tmp, photo: _write(tmp / "empty.jpg", b""), "empty"),
        (lambda tmp, photo: _write(tmp / "cut.jpg", photo.read_bytes()[:5000]), "truncated"),
        (lambda tmp, photo: _write(tmp / "notes.jpg", b"this is not an image\n" * 20), "not a readable image"),
    ],
)
def test_bad_files_raise_bad_input(tmp_path, photo, make, message):
    with pytest.raises(BadInputError, match=message):
        load_image(make(tmp_path, photo))


def test_decompression_bomb_refused_before_decoding(tmp_path):
    path = tmp_path / "bomb.png"
    Image.new("1", (20000, 20000)).save(path)  # 400 MP, a few KB on disk
    assert 20000 * 20000 > MAX_PIXELS
    with pytest.raises(BadInputError, match="decompression-bomb"):
        load_image(path)


def test_bad_arrays():
    with pytest.raises(BadInputError):
        load_image(np.zeros((0, 0, 3), dtype=np.uint8))
    with pytest.raises(BadInputError):
        load_image(np.zeros((10, 10, 7), dtype=np.uint8))
    with pytest.raises(BadInputError):
        load_image(np.full((64, 64, 3), np.nan))
    with pytest.raises(BadInputError, match="unsupported image type"):
        load_image(12345)


def _write(path, data: bytes):
    path.write_bytes(data)
    return path
