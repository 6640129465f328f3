"""The decision threshold of the periocular gender model: chosen for equal error, written into
spec.json as ``logit_bias``, and applied by the attribute code on real LFW faces."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from facelens.errors import BadInputError
from facelens.train.threshold import balanced_accuracy_ci, equal_error_bias, predict_with_bias

LFW_FACES = Path(__file__).resolve().parent.parent / "data" / "attributes" / "lfw"


def test_equal_error_bias_equalises_the_two_recalls():
    """1 positive in 4 whose scores sit lower than the negatives' (what an imbalanced training
    set does): argmax under-calls the positives; the bias evens the recalls out."""
    rng = np.random.default_rng(0)
    labels = np.r_[np.zeros(500, int), np.ones(1500, int)]
    margin = np.r_[rng.normal(0.5, 1.0, 500), rng.normal(-2.0, 1.0, 1500)]  # logit0 − logit1
    logits = np.c_[margin, np.zeros_like(margin)]
    argmax = predict_with_bias(logits, 0.0)
    assert np.mean(argmax[labels == 0] == 0) < 0.75  # positives under-called
    bias = equal_error_bias(labels, logits, positive=0)
    assert 0.5 < bias < 1.0  # the midpoint of the two score means is −0.75
    chosen = predict_with_bias(logits, bias)
    recall = [np.mean(chosen[labels == c] == c) for c in (0, 1)]
    assert abs(recall[0] - recall[1]) < 0.01
    low, high = balanced_accuracy_ci(labels, chosen)
    assert low < np.mean(recall) < high and high - low < 0.05
    with pytest.raises(BadInputError):
        equal_error_bias(np.zeros(4, int), logits[:4])


def test_bootstrap_by_person_is_wider_than_by_image():
    rng = np.random.default_rng(1)
    people = np.repeat(np.arange(100), 10)  # ten images of each person, right or wrong together
    labels = np.repeat(np.arange(100) % 2, 10)
    correct = np.repeat(rng.random(100) < 0.9, 10)
    predictions = np.where(correct, labels, 1 - labels)
    by_image = balanced_accuracy_ci(labels, predictions, rounds=500)
    by_person = balanced_accuracy_ci(labels, predictions, people, rounds=500)
    assert by_person[1] - by_person[0] > 2 * (by_image[1] - by_image[0])


@pytest.fixture
def eyes_copies(tmp_path):
    """The shipped periocular model in user folders: as shipped (same spec.json), without its
    logit_bias, and with an extreme bias either way."""
    from facelens.models import registry

    shipped = registry.MODELS["gender_eyes_facelens"]
    doc = json.loads((shipped.folder / "spec.json").read_text())
    folders = {}
    for name, bias in (("as_shipped", doc.get("logit_bias")), ("no_bias", None),
                       ("to_female", {"female": 30.0}), ("to_male", {"female": -30.0})):
        folder = tmp_path / name
        folder.mkdir()
        shutil.copy(shipped.path, folder / shipped.filename)
        copy = {k: v for k, v in doc.items() if k != "logit_bias"}
        if bias is not None:
            copy["logit_bias"] = bias
        (folder / "spec.json").write_text(json.dumps(copy))
        folders[name] = folder
    yield doc, folders
    registry.clear_cache()


def _gender(path, model) -> dict:
    from facelens.attributes.analyze import analyze

    faces = analyze(path, ("gender", "gender_eyes"), gender_model=str(model))
    return max(faces, key=lambda f: f.area).attributes


def test_the_spec_json_threshold_decides_on_real_eye_crops(eyes_copies):
    doc, folders = eyes_copies
    bias = doc["logit_bias"]["female"]  # the shipped model carries its validation threshold
    assert doc["labels"] == ["female", "male"]
    face = LFW_FACES / "female" / "Aileen_Riggin_Soule_0001.jpg"  # the borderline one of the 12
    raw = _gender(face, folders["no_bias"])["gender_eyes"]["probs"]
    shipped = _gender(face, folders["as_shipped"])
    for record in (shipped["gender"], shipped["gender_eyes"]):  # both actions apply the bias
        weighted = np.array([raw["female"] * np.exp(bias), raw["male"]])
        assert record["probs"]["female"] == pytest.approx(weighted[0] / weighted.sum(), abs=2e-4)
        assert record["label"] == ("female" if raw["female"] > 1 / (1 + np.exp(bias)) else "male")
    # the borderline face of the 12: argmax says female (P 0.57), the validation threshold
    # (female when P ≥ 0.585, bias −0.34: the class-weighted model over-calls women) says male
    assert raw["female"] > 0.5 and shipped["gender_eyes"]["label"] == "male"
    assert _gender(face, folders["to_female"])["gender_eyes"]["label"] == "female"
    clear_female = LFW_FACES / "female" / "Aishwarya_Rai_0001.jpg"
    clear_male = LFW_FACES / "male" / "Aaron_Eckhart_0001.jpg"
    assert _gender(clear_female, folders["as_shipped"])["gender_eyes"]["label"] == "female"
    assert _gender(clear_male, folders["as_shipped"])["gender_eyes"]["label"] == "male"
    assert _gender(clear_male, folders["to_female"])["gender_eyes"]["label"] == "female"
    assert _gender(clear_female, folders["to_male"])["gender_eyes"]["label"] == "male"


def test_a_malformed_logit_bias_names_the_field(eyes_copies):
    _, folders = eyes_copies
    spec_path = folders["to_male"] / "spec.json"
    doc = json.loads(spec_path.read_text())
    doc["logit_bias"] = {"woman": 1.0}
    spec_path.write_text(json.dumps(doc))
    with pytest.raises(BadInputError, match="logit_bias"):
        _gender(LFW_FACES / "male" / "Aaron_Eckhart_0001.jpg", folders["to_male"])


def test_a_bootstrap_with_one_class_is_a_typed_error():
    """Every resample of one person (or of one class) holds one class: no interval, a clear error."""
    labels = np.zeros(10, int)
    with pytest.raises(BadInputError, match="both classes"):
        balanced_accuracy_ci(labels, labels, rounds=50)
    with pytest.raises(BadInputError, match="both classes"):
        balanced_accuracy_ci(np.r_[1, 1, 1], np.r_[1, 0, 1], np.r_[7, 7, 7], rounds=50)  # one person


def _run_folder(path: Path, **config) -> Path:
    path.mkdir()
    (path / "config.json").write_text(json.dumps({"task": "gender_eyes", "arch": "inception_small",
                                                  "data": "lfw", **config}))
    return path


def test_the_split_comes_from_the_model_s_own_run(eyes_copies, tmp_path):
    """The threshold's validation split is rebuilt from the config of the run the model was
    exported from (spec.json ``source``), never from flags; another run's folder is refused."""
    pytest.importorskip("torch")
    from facelens.errors import NotFoundError
    from facelens.train.threshold import calibrate_model, run_config

    doc, folders = eyes_copies
    model = folders["as_shipped"]
    run_name = doc["source"]["version"]
    own = _run_folder(tmp_path / run_name, seed=3, split="70/30", val_fraction=0.2, max_train=50)
    cfg = run_config(model, own)
    assert (cfg.seed, cfg.split, cfg.val_fraction, cfg.max_train) == (3, "70/30", 0.2, 50)
    other = _run_folder(tmp_path / "eyes-inception-16ep-cos", seed=0, split="80/20")
    with pytest.raises(BadInputError, match=f"exported from run '{run_name}'"):
        calibrate_model(model, run=other)
    spec_path = model / "spec.json"
    moved = json.loads(spec_path.read_text())
    moved["source"]["path"] = str(tmp_path / "gone" / run_name)  # the run folder is not here
    spec_path.write_text(json.dumps(moved))
    with pytest.raises(NotFoundError, match="pass --run"):
        calibrate_model(model)
    (tmp_path / "elsewhere").mkdir()
    emotion = _run_folder(tmp_path / "elsewhere" / run_name, task="emotion")
    with pytest.raises(BadInputError, match="emotion run"):
        run_config(model, emotion)
