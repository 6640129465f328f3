"""The CLI contract, run as a user runs it (a subprocess): JSON shapes, exit codes, no tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from PIL import Image


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "facelens", *args], capture_output=True, text=True,
                          timeout=120)


def assert_clean_error(result: subprocess.CompletedProcess, code: int, fragment: str) -> None:
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    lines = [l for l in result.stderr.strip().splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith("facelens: error:"), result.stderr
    assert fragment in lines[0]


def test_detect_json_contract(data_dir, tmp_path):
    drawn = tmp_path / "drawn.png"
    result = run("detect", str(data_dir / "faces" / "bbt4.jpg"), "--json", "--draw", str(drawn))
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert len(payload["faces"]) == 6
    for face in payload["faces"]:
        x1, y1, x2, y2 = face["box"]
        assert 0 <= x1 < x2 <= payload["width"] and 0 <= y1 < y2 <= payload["height"]
        assert 0 < face["score"] <= 1
        assert {"right_eye", "left_eye", "nose", "mouth"} <= set(face["keypoints"])
        assert {"face_size", "sharpness", "brightness", "yaw", "pitch", "roll"} <= set(face["quality"])
    assert Image.open(drawn).size == (payload["width"], payload["height"])


def test_verify_json_contract_same_and_different(data_dir):
    faces = data_dir / "faces"
    same = run("verify", str(faces / "obama.jpg"), str(faces / "obama2.jpg"), "--json")
    different = run("verify", str(faces / "obama.jpg"), str(faces / "biden.jpg"), "--json")
    for result in (same, different):
        assert result.returncode == 0, result.stderr  # 0 = the command ran, whatever it decided
        payload = json.loads(result.stdout)
        assert isinstance(payload["verified"], bool) and isinstance(payload["similarity"], float)
        assert isinstance(payload["threshold"], float) and payload["model"] == "mobilefacenet"
    assert json.loads(same.stdout)["verified"] is True
    assert json.loads(different.stdout)["verified"] is False


def test_verify_group_photo_says_which_face(data_dir):
    faces = data_dir / "faces"
    result = run("verify", str(faces / "two_people.jpg"), str(faces / "obama.jpg"), "--json")
    assert result.returncode == 0
    assert "2 faces; comparing the largest" in result.stderr
    strict = run("verify", str(faces / "two_people.jpg"), str(faces / "obama.jpg"), "--face", "only")
    assert_clean_error(strict, 4, "2 faces found where exactly one is required")


def test_embed_json(data_dir):
    result = run("embed", str(data_dir / "faces" / "obama.jpg"), "--json")
    assert result.returncode == 0, result.stderr
    (face,) = json.loads(result.stdout)["faces"]
    assert len(face["embedding"]) == 192 and face["embedding_model"] == "mobilefacenet"
    assert abs(sum(v * v for v in face["embedding"]) - 1.0) < 1e-3


@pytest.mark.parametrize(
    "make, code, fragment",
    [
        (lambda tmp, src: tmp / "missing.jpg", 2, "no such file"),
        (lambda tmp, src: tmp, 2, "is a directory"),
        (lambda tmp, src: _write(tmp / "empty.jpg", b""), 2, "empty"),
        (lambda tmp, src: _write(tmp / "cut.jpg", src.read_bytes()[:4000]), 2, "truncated"),
        (lambda tmp, src: _write(tmp / "a.jpg", b"GIF89a? no, just text"), 2, "not a readable image"),
        (lambda tmp, src: _bomb(tmp / "bomb.png"), 2, "decompression-bomb"),
        (lambda tmp, src: _faceless(tmp / "table.png", src), 3, "no face found"),
    ],
)
def test_bad_input_gets_one_line_and_exit_code(data_dir, tmp_path, make, code, fragment):
    source = data_dir / "faces" / "bbt1.jpg"
    result = run("verify", str(make(tmp_path, source)), str(data_dir / "faces" / "obama.jpg"))
    assert_clean_error(result, code, fragment)


@pytest.mark.parametrize("mode", ["CMYK", "I;16", "L"])
def test_odd_image_modes_work_end_to_end(data_dir, tmp_path, mode):
    image = Image.open(data_dir / "faces" / "obama.jpg")
    if mode == "I;16":
        import numpy as np

        image = Image.fromarray(np.asarray(image.convert("L"), dtype=np.uint16) * 257)
        path = tmp_path / "face16.png"
    else:
        image = image.convert(mode)
        path = tmp_path / f"face_{mode}.jpg"
    image.save(path)
    result = run("detect", str(path), "--json")
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)["faces"]) == 1


def test_models_verify_passes():
    result = run("models", "verify", "--json")
    assert result.returncode == 0, result.stderr
    states = json.loads(result.stdout)["models"]
    assert states["mobilefacenet"] == "ok" and states["blazeface"] == "ok"


def test_unknown_option_is_a_usage_error():
    result = run("detect", "--no-such-flag")
    assert result.returncode == 2 and "Traceback" not in result.stderr


def _write(path, data):
    path.write_bytes(data)
    return path


def _bomb(path):
    Image.new("1", (20000, 20000)).save(path)
    return path


def _faceless(path, source):
    Image.open(source).crop((0, 450, 1366, 768)).save(path)  # table and hands, no heads
    return path
