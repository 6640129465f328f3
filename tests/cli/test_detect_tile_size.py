"""`facelens detect --tile-size`, run as a user runs it: auto, a number of pixels, bad values."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "facelens", *args], capture_output=True, text=True, timeout=120)


def assert_clean_error(result: subprocess.CompletedProcess, code: int, fragment: str) -> None:
    assert result.returncode == code, result.stderr
    lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("facelens: error:") and fragment in lines[0], result.stderr


def test_tile_size_auto_finds_the_faces_of_a_group_photo(data_dir):
    result = run("detect", str(data_dir / "faces" / "bbt1.jpg"), "--json", "--tile-size", "auto")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert len(payload["faces"]) == 4  # counted by eye (tests/detection/test_detectors.py)
    for face in payload["faces"]:
        x1, y1, x2, y2 = face["box"]
        assert 0 <= x1 < x2 <= payload["width"] and 0 <= y1 < y2 <= payload["height"]
        assert "quality" in face


def test_tile_size_in_pixels_still_works(data_dir):
    result = run("detect", str(data_dir / "faces" / "bbt4.jpg"), "--json", "--tile-size", "640")
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)["faces"]) == 6


@pytest.mark.parametrize("value, fragment", [("-5", "tile_size must be a whole number of pixels"),
                                             ("big", "tile_size must be 'auto' or a whole number"),
                                             ("10000000", "tile_size must be a whole number of pixels")])
def test_bad_tile_size_is_one_line_and_exit_2(data_dir, value, fragment):
    result = run("detect", str(data_dir / "faces" / "bbt4.jpg"), "--tile-size", value)
    assert_clean_error(result, 2, fragment)


def test_help_says_what_auto_does():
    result = run("detect", "--help")
    assert result.returncode == 0
    text = " ".join(result.stdout.replace("│", " ").split())
    assert "--tile-size" in text and "'auto': tiles only when the image is large enough" in text
