"""`facelens analyze` and `facelens eval emotion|gender`, run as a user runs them (subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
from PIL import Image


def run(*args: str, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "facelens", *args], capture_output=True, text=True,
                          timeout=180, env=env)


def one_line_error(result, code: int, fragment: str) -> None:
    assert result.returncode == code, result.stderr
    lines = [l for l in result.stderr.strip().splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith("facelens: error:") and fragment in lines[0], result.stderr


def test_analyze_image_json_contract(attr_data, tmp_path):
    drawn = tmp_path / "drawn.jpg"
    result = run("analyze", str(attr_data / "faceapi" / "happy.jpg"), "--json", "--draw", str(drawn))
    assert result.returncode == 0, result.stderr
    faces = json.loads(result.stdout)["faces"]
    assert len(faces) == 1
    face = faces[0]
    assert len(face["box"]) == 4
    assert face["emotion"]["label"] == "happy"
    assert abs(sum(face["emotion"]["probs"].values()) - 1) < 1e-2
    assert face["gender"]["label"] in ("female", "male") and set(face["gender"]["probs"]) == {"female", "male"}
    assert isinstance(face["age"], float)
    assert Image.open(drawn).size == Image.open(attr_data / "faceapi" / "happy.jpg").size


def test_analyze_face_crop_with_skip(attr_data):
    path = sorted((attr_data / "fer2013" / "surprise").glob("*.jpg"))[0]
    result = run("analyze", str(path), "--detector", "skip", "--actions", "emotion", "--json")
    assert result.returncode == 0, result.stderr
    face = json.loads(result.stdout)["faces"][0]
    assert face["box"] == [0.0, 0.0, 48.0, 48.0] and face["emotion"]["label"] == "surprise"
    assert "gender" not in face


def test_analyze_errors(tmp_path):
    blank = tmp_path / "wall.png"
    Image.fromarray(np.full((120, 160, 3), 200, np.uint8)).save(blank)
    one_line_error(run("analyze", str(blank)), 3, "no face found")
    one_line_error(run("analyze", str(tmp_path / "missing.jpg")), 2, "no such file")
    one_line_error(run("analyze", str(blank), "--actions", "beauty"), 2, "unknown action")


def test_video_without_faces_stores_nothing(tmp_path, blank_video):
    import os

    env = {**os.environ, "FACELENS_DB": str(tmp_path / "site.db")}
    result = run("analyze", str(blank_video), "--location", "hall", env=env)
    one_line_error(result, 3, "no face found in 10 frame(s); nothing stored")
    assert not (tmp_path / "site.db").exists()


def test_eval_emotion_and_gender_on_labelled_folders(attr_data, tmp_path):
    result = run("eval", "emotion", str(attr_data / "fer2013"), "--detector", "skip", "--json",
                 "--out", str(tmp_path / "emo"))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["scored"] == 21 and report["accuracy"] >= 13 / 21 - 1e-9
    assert set(report["per_class"]) == {"angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"}
    assert report["per_class"]["happy"]["recall"] == 1.0
    assert sum(map(sum, report["confusion"])) == 21
    assert (tmp_path / "emo" / "confusion.png").stat().st_size > 1000

    result = run("eval", "gender", str(attr_data / "lfw"), "--limit", "3", "--json", "--out", str(tmp_path / "gen"))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["scored"] == 6 and report["balanced_accuracy"] == 1.0
    assert (tmp_path / "gen" / "confusion.png").is_file()
