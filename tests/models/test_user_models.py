"""Bring your own model: a model folder (ONNX + spec.json) in FACELENS_MODELS_DIR or given by
path is checked, loaded and used by `facelens analyze`, `facelens eval` and `facelens models`,
on real faces, with no edit to the package."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from facelens.errors import BadInputError
from facelens.models import registry

USER_CLASSES = ("happy", "sad", "surprise")  # what conftest's trained_emotion_model was trained on
FER = Path(__file__).resolve().parent.parent / "data" / "attributes" / "fer2013"
SURPRISED = sorted((FER / "surprise").glob("*.jpg"))[0]  # a 48×48 FER2013 test face (not trained on)


def facelens(*args: str, models: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "FACELENS_THREADS": "1", "FACELENS_MODELS_DIR": str(models or "/nonexistent"),
           "COLUMNS": "300"}  # the `facelens models` table unfolded
    return subprocess.run([sys.executable, "-m", "facelens", *args], capture_output=True, text=True,
                          timeout=300, env=env)


def error_line(result: subprocess.CompletedProcess, code: int) -> str:
    assert result.returncode == code, (result.returncode, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("facelens: error: ") and "Traceback" not in result.stderr
    return lines[0]


def expected_probabilities(folder: Path, image: Path) -> dict[str, float]:
    """The exported model run by hand from its spec.json on a 48×48 grey face (what
    `--detector skip` feeds it: the whole image, already 48×48)."""
    import onnxruntime as ort

    spec = json.loads((folder / "spec.json").read_text())
    grey = np.asarray(Image.open(image).convert("L"), np.float32)
    x = (grey * spec["input"]["scale"] - spec["input"]["mean"][0]) / spec["input"]["std"][0]
    session = ort.InferenceSession(str(folder / spec["filename"]), providers=["CPUExecutionProvider"])
    logits = session.run(None, {"input": x[None, None].astype(np.float32)})[0][0]
    probs = np.exp(logits - logits.max())
    return dict(zip(spec["labels"], probs / probs.sum()))


@pytest.fixture
def models(trained_emotion_model, tmp_path) -> Path:
    """A private copy of the models folder (tests alter files in it)."""
    copy = tmp_path / "models"
    shutil.copytree(trained_emotion_model, copy)
    yield copy
    registry.clear_cache()


def test_exported_model_is_used_by_name_and_by_path(trained_emotion_model):
    folder = trained_emotion_model / "emotion_mine"
    want = expected_probabilities(folder, SURPRISED)
    runs = {
        "name": facelens("analyze", str(SURPRISED), "--detector", "skip", "--actions", "emotion", "--json",
                         "--emotion-model", "emotion_mine", models=trained_emotion_model),
        "folder": facelens("analyze", str(SURPRISED), "--detector", "skip", "--actions", "emotion", "--json",
                           "--emotion-model", str(folder)),
        "spec.json": facelens("analyze", str(SURPRISED), "--detector", "skip", "--actions", "emotion", "--json",
                              "--emotion-model", str(folder / "spec.json")),
    }
    for how, result in runs.items():
        assert result.returncode == 0, (how, result.stderr)
        emotion = json.loads(result.stdout)["faces"][0]["emotion"]
        assert emotion["model"] == "emotion_mine", how
        assert tuple(emotion["probs"]) == USER_CLASSES, how  # its 3 labels, in its order, not the shipped 7
        for label, p in want.items():
            assert emotion["probs"][label] == pytest.approx(p, abs=1e-3), (how, label)
        assert emotion["label"] == max(want, key=want.get)


def test_models_lists_the_user_folder_with_its_origin(trained_emotion_model):
    result = facelens("models", "--json", models=trained_emotion_model)
    assert result.returncode == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)["models"]}
    mine = rows["emotion_mine"]
    assert (mine["origin"], mine["state"], mine["task"]) == ("user folder", "ok", "emotion")
    assert tuple(mine["labels"]) == USER_CLASSES and mine["folder"] == str(trained_emotion_model / "emotion_mine")
    assert rows["emotion_mini_xception"]["origin"] == "bundled" and rows["dlib"]["origin"] == "fetched"
    table = facelens("models", models=trained_emotion_model)
    assert table.returncode == 0 and "emotion_mine" in table.stdout and "user folder" in table.stdout


def test_altered_or_missing_model_file_is_exit_5_naming_it(models):
    onnx = models / "emotion_mine" / "emotion_mine.onnx"
    data = bytearray(onnx.read_bytes())
    data[len(data) // 2] ^= 0xFF
    onnx.write_bytes(bytes(data))
    line = error_line(facelens("analyze", str(SURPRISED), "--detector", "skip", "--emotion-model", "emotion_mine",
                               models=models), 5)
    assert f"model file altered: {onnx}" in line
    listed = facelens("models", "--json", models=models)
    assert listed.returncode == 5 and '"state": "altered"' in listed.stdout
    onnx.unlink()
    line = error_line(facelens("analyze", str(SURPRISED), "--emotion-model", str(onnx.parent), models=models), 5)
    assert f"model file missing: {onnx}" in line


@pytest.mark.parametrize("change, field", [
    (lambda s: s.update(sha256="abc"), "sha256"),
    (lambda s: s.update(labels="happy,sad"), "labels"),
    (lambda s: s.pop("input"), "input"),
    (lambda s: s["input"].update(channels="cmyk"), "input.channels"),
    (lambda s: s.update(task="detector"), "task"),
    (lambda s: s.update(filename="../../etc/passwd"), "filename"),
])
def test_malformed_spec_json_is_bad_input_naming_the_field(models, change, field):
    spec_path = models / "emotion_mine" / "spec.json"
    spec = json.loads(spec_path.read_text())
    change(spec)
    spec_path.write_text(json.dumps(spec))
    registry.clear_cache()
    with pytest.raises(BadInputError, match=rf"{spec_path}: field '{field}' "):
        registry.build_model("emotion", str(spec_path.parent))


def test_malformed_spec_json_on_the_command_line(models):
    spec_path = models / "emotion_mine" / "spec.json"
    spec_path.write_text(spec_path.read_text().replace('"sha256": "', '"sha256": "zz'))
    line = error_line(facelens("analyze", str(SURPRISED), "--emotion-model", "emotion_mine", models=models), 2)
    assert f"{spec_path}: field 'sha256' must be 64 hex digits" in line
    listed = json.loads(facelens("models", "--json", models=models).stdout)["models"]
    (row,) = [r for r in listed if r["name"] == "emotion_mine"]
    assert row["state"] == "invalid" and "field 'sha256'" in row["note"]


def test_labels_that_do_not_match_the_model_output_are_refused(models):
    spec_path = models / "emotion_mine" / "spec.json"
    spec = json.loads(spec_path.read_text())
    spec["labels"] = ["happy", "sad"]
    spec_path.write_text(json.dumps(spec))
    with pytest.raises(BadInputError, match=r"field 'labels' lists 2 classes but emotion_mine\.onnx outputs 3"):
        registry.build_model("emotion", str(spec_path.parent))
    spec["labels"], spec["input"]["size"] = list(USER_CLASSES), [64, 64]
    spec_path.write_text(json.dumps(spec))
    registry.clear_cache()
    with pytest.raises(BadInputError,
                       match=r"field 'input' describes NCHW 1×64×64 but emotion_mine\.onnx takes 1×48×48"):
        registry.build_model("emotion", str(spec_path.parent))


def test_a_user_folder_named_like_a_bundled_model_does_not_replace_it(models):
    shutil.move(models / "emotion_mine", models / "emotion_mini_xception")
    by_name = facelens("analyze", str(SURPRISED), "--detector", "skip", "--actions", "emotion", "--json",
                       "--emotion-model", "emotion_mini_xception", models=models)
    assert by_name.returncode == 0, by_name.stderr
    assert len(json.loads(by_name.stdout)["faces"][0]["emotion"]["probs"]) == 7  # the bundled model
    assert "the bundled model of that name is used" in by_name.stderr
    by_path = facelens("analyze", str(SURPRISED), "--detector", "skip", "--actions", "emotion", "--json",
                       "--emotion-model", str(models / "emotion_mini_xception"), models=models)
    assert tuple(json.loads(by_path.stdout)["faces"][0]["emotion"]["probs"]) == USER_CLASSES
    listed = json.loads(facelens("models", "--json", models=models).stdout)["models"]
    user = [r for r in listed if r["name"] == "emotion_mini_xception" and r["origin"] == "user folder"]
    assert len(user) == 1 and "the bundled emotion_mini_xception wins" in user[0]["note"]


def test_eval_emotion_reports_the_folders_it_cannot_map(trained_emotion_model, tmp_path):
    """A folder tree with two classes of the user model, one alias and two folders the model has
    no class for: the unmapped ones are named with their image counts, never silently dropped."""
    data = tmp_path / "faces"
    shutil.copytree(FER / "happy", data / "happiness")  # alias of happy
    shutil.copytree(FER / "sad", data / "sad")
    shutil.copytree(FER / "angry", data / "contempt")  # FER+ has contempt; this model has not
    (data / "xyz").mkdir()
    shutil.copy(SURPRISED, data / "xyz" / "a.jpg")
    result = facelens("eval", "emotion", str(data), "--detector", "skip", "--json", "--out", str(tmp_path / "out"),
                      "--model", str(trained_emotion_model / "emotion_mine"))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["model"] == "emotion_mine" and report["model_origin"] == "user folder"
    assert report["unmapped_folders"] == {"contempt": 3, "xyz": 1}
    assert report["scored"] == 6 and set(report["per_class"]) == {"happy", "sad"}
    assert "2 folder(s) match no class of emotion_mine and were not scored: contempt/ (3 images), xyz/ (1 image)" \
        in result.stderr


def test_unknown_name_lists_user_models_and_suggests_a_path(trained_emotion_model, monkeypatch):
    monkeypatch.setenv("FACELENS_MODELS_DIR", str(trained_emotion_model))
    assert "emotion_mine" in registry.names("emotion")
    with pytest.raises(BadInputError, match=r"unknown emotion model 'nope'; choose one of .*emotion_mine, "
                                            r"or give a model folder's path"):
        registry.build_model("emotion", "nope")
    with pytest.raises(BadInputError, match=r"a model for emotion cannot be used as the gender model"):
        registry.build_model("gender", str(trained_emotion_model / "emotion_mine"))
    with pytest.raises(BadInputError, match="no model there"):
        registry.build_model("emotion", str(trained_emotion_model / "absent"))


def _user_copy(bundled: str, folder: Path, **changes) -> Path:
    """A shipped model's file in a user folder, described by a user's spec.json."""
    source = registry.MODELS[bundled]
    folder.mkdir(parents=True)
    shutil.copy(source.path, folder / source.filename)
    spec = {"task": source.task, "filename": source.filename, "sha256": source.sha256,
            "labels": list(source.labels), "input": dict(source.model_input or {}), "output": source.output}
    spec.update(changes)
    (folder / "spec.json").write_text(json.dumps(spec))
    return folder


def test_gender_model_by_path_face_chip_and_eye_band(data_dir, tmp_path):
    """Two user gender models on real faces: Cydral's network described only by a user's spec.json
    (task gender: a 32×32 dlib chip) reproduces the shipped gender exactly, and the periocular
    model (task gender_eyes) fills both gender and gender_eyes."""
    from facelens.attributes.analyze import analyze
    from facelens.attributes.gender_age import manifest

    means = manifest()["models"]["gender"]["input"]["normalization"]["means"]
    chip = _user_copy("gender_cydral", tmp_path / "my_gender", labels=["female", "male"], output="probabilities",
                      input={"layout": "NCHW", "size": [32, 32], "channels": "rgb", "scale": 1.0,
                             "mean": means, "std": [256.0, 256.0, 256.0]})
    eyes = _user_copy("gender_eyes_facelens", tmp_path / "my_eyes",  # with the shipped threshold
                      logit_bias=json.loads((registry.MODELS["gender_eyes_facelens"].folder / "spec.json")
                                            .read_text())["logit_bias"])
    try:
        for name in ("obama.jpg", "biden.jpg"):
            image = data_dir / "faces" / name
            shipped = analyze(image, ("gender", "gender_eyes"))[0].attributes
            mine = analyze(image, ("gender",), gender_model=str(chip))[0].attributes["gender"]
            assert mine["model"] == "my_gender" and shipped["gender"]["model"] == "gender_cydral"
            assert mine["probs"] == pytest.approx(shipped["gender"]["probs"], abs=1e-4) and mine["label"] == "male"
            both = analyze(image, ("gender", "gender_eyes"), gender_model=str(eyes))[0].attributes
            assert both["gender"]["model"] == both["gender_eyes"]["model"] == "my_eyes"
            assert both["gender"]["probs"] == pytest.approx(shipped["gender_eyes"]["probs"], abs=1e-4)
    finally:
        registry.clear_cache()


def test_gender_model_on_the_command_line_and_a_wrong_task(data_dir, tmp_path):
    eyes = _user_copy("gender_eyes_facelens", tmp_path / "models" / "my_eyes")
    result = facelens("analyze", str(data_dir / "faces" / "obama.jpg"), "--actions", "gender", "--json",
                      "--gender-model", "my_eyes", models=eyes.parent)
    assert result.returncode == 0, result.stderr
    gender = json.loads(result.stdout)["faces"][0]["gender"]
    assert gender["model"] == "my_eyes" and gender["label"] == "male"
    line = error_line(facelens("analyze", str(data_dir / "faces" / "obama.jpg"), "--gender-model",
                               "emotion_mini_xception"), 2)
    assert "unknown gender model 'emotion_mini_xception'" in line and "is a model for emotion" in line
