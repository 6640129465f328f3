"""Every way an image arrives, and every bad input the issue lists, on real photos."""

from __future__ import annotations


import io
import os

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


@pytest.mark.timeout(30)
@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom", "/dev/null"])
def test_devices_are_refused_without_reading(device):
    """/dev/zero used to grow the process to 7.6 GB; /dev/urandom never ended."""
    with pytest.raises(BadInputError, match="not a regular file"):
        load_image(device)


@pytest.mark.timeout(30)
def test_fifo_and_links_to_devices_are_refused_at_once(tmp_path):
    fifo = tmp_path / "camera.jpg"
    os.mkfifo(fifo)  # nobody writes: reading it would block forever
    with pytest.raises(BadInputError, match="not a regular file"):
        load_image(fifo)
    link = tmp_path / "zero.jpg"
    link.symlink_to("/dev/zero")
    with pytest.raises(BadInputError, match="not a regular file"):
        load_image(link)
    loop = tmp_path / "loop.jpg"
    loop.symlink_to(loop)
    with pytest.raises(BadInputError, match="symbolic links"):
        load_image(loop)


def test_paths_too_long_or_with_nul_are_bad_input(tmp_path):
    with pytest.raises(BadInputError, match="longer than the operating system allows") as caught:
        load_image("a" * 5000)
    assert len(str(caught.value)) < 300  # the path is shortened in the message
    with pytest.raises(BadInputError, match="longer than the operating system allows"):
        load_image(tmp_path / ("b" * 300 + ".jpg"))
    with pytest.raises(BadInputError, match="not a usable path"):
        load_image(str(tmp_path / "nul\x00.jpg"))


def test_file_over_the_size_cap_is_refused_from_its_size(tmp_path, monkeypatch, photo):
    import facelens.imageio as imageio

    monkeypatch.setattr(imageio, "MAX_FILE_BYTES", 1000)
    with pytest.raises(BadInputError, match="exceeds the limit of 1,000"):
        load_image(photo)
    with pytest.raises(BadInputError, match="exceeds the limit"):
        load_image(photo.read_bytes())


def test_closed_and_lazily_truncated_pil_images(photo):
    closed = Image.open(photo)
    closed.load()
    closed.close()
    with pytest.raises(BadInputError, match="closed"):
        load_image(closed)
    data = photo.read_bytes()
    lazy = Image.open(io.BytesIO(data[: len(data) // 2]))  # header fine, pixels missing
    with pytest.raises(BadInputError, match="truncated"):
        load_image(lazy)


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")  # np.matrix itself warns
def test_array_kinds(photo):
    rgb = load_image(photo, channels="rgb")
    grey = rgb[:, :, 0]
    assert np.array_equal(load_image(np.matrix(grey)), load_image(grey))  # np.matrix used to kill the process
    flipped = rgb[::2, ::-1]  # non-contiguous, negative stride
    out = load_image(flipped, channels="rgb")
    assert out.flags["C_CONTIGUOUS"] and np.array_equal(out, flipped)
    mask = np.zeros((32, 32), bool)
    mask[8:, :] = True
    assert set(np.unique(load_image(mask))) == {0, 255}  # a mask: True is white
    for dtype in ([("a", "u1")], object, np.complex64, "U1", "datetime64[s]"):
        with pytest.raises(BadInputError, match="dtype"):
            load_image(np.zeros((32, 32, 3), dtype=dtype))
    for shape in [(32,), (32, 32, 2), (32, 32, 3, 1), (0, 32, 3), (32, 0)]:
        with pytest.raises(BadInputError):
            load_image(np.zeros(shape, np.uint8))
    huge = np.lib.stride_tricks.as_strided(np.zeros(1, np.float64), shape=(50000, 50000), strides=(0, 0))
    with pytest.raises(BadInputError, match="exceeds the limit"):
        load_image(huge)  # refused from the shape: converting it would need 60 GB
    with pytest.raises(BadInputError, match="channels"):
        load_image(photo, channels="xyz")


def _write(path, data: bytes):
    path.write_bytes(data)
    return path
