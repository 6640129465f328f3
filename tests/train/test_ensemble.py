"""Ensembles of runs (train.ensemble): one model whose probabilities are the members' mean, scored
by `facelens train evaluate` and exported as one ONNX graph, on the real FER2013 test crops."""

from __future__ import annotations

import json
import shutil
from types import SimpleNamespace

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from facelens.cli.app import run_cli  # noqa: E402
from facelens.constants import EMOTIONS  # noqa: E402
from facelens.errors import BadInputError  # noqa: E402
from facelens.models.classifier import InputSpec  # noqa: E402
from facelens.train.architectures import build  # noqa: E402
from facelens.train.ensemble import load_ensemble  # noqa: E402
from facelens.train.evaluate import evaluate_run  # noqa: E402
from facelens.train.export import export_run  # noqa: E402
from facelens.train.trainer import TrainConfig, load_run_model, predict, save_model  # noqa: E402


def _run_folder(path, seed, spec, classes=EMOTIONS):
    """A run folder holding model.pt written by the trainer's own ``save_model`` (an untrained
    net of its own seed: the ensemble arithmetic does not depend on how good the members are)."""
    torch.manual_seed(seed)
    model = build("seed002_cnn", len(classes), 1)
    path.mkdir(parents=True)
    cfg = TrainConfig(task="emotion", arch="seed002_cnn", data=str(path))
    save_model(path / "model.pt", cfg, model, SimpleNamespace(classes=tuple(classes), channels=1), spec)
    return path


def _probs(model, spec, images):
    return torch.softmax(torch.from_numpy(predict(model, spec, images)), 1).numpy()


@pytest.fixture()
def spec(fer_set):
    return InputSpec.fit(fer_set.images, "grey")


def test_ensemble_gives_the_weighted_mean_of_member_probabilities(tmp_path, fer_set, spec):
    runs = [_run_folder(tmp_path / f"run{seed}", seed, spec) for seed in (1, 2)]
    members = [_probs(load_run_model(run)[0], spec, fer_set.images) for run in runs]
    model, ensemble_spec, payload = load_ensemble(runs, weights=[3, 1])
    assert ensemble_spec == spec and payload["weights"] == pytest.approx([0.75, 0.25])
    assert [m["run"] for m in payload["members"]] == [str(r) for r in runs]
    got = _probs(model, spec, fer_set.images)
    np.testing.assert_allclose(got, 0.75 * members[0] + 0.25 * members[1], atol=1e-5)
    assert not np.allclose(members[0], members[1], atol=1e-3)  # two different members, not one twice


def test_member_with_other_pixel_statistics_gets_its_own_normalisation(tmp_path, fer_set, spec):
    other = InputSpec(spec.size, "grey", (0.3,), (0.4,))
    run = _run_folder(tmp_path / "other", 5, other)
    alone = _probs(load_run_model(run)[0], other, fer_set.images)
    first = _run_folder(tmp_path / "first", 6, spec)
    model, shared, _ = load_ensemble([first, run], weights=[0, 1])  # only the second member counts
    assert shared == spec
    np.testing.assert_allclose(_probs(model, spec, fer_set.images), alone, atol=1e-5)


def test_members_with_other_classes_are_refused(tmp_path, spec):
    runs = [_run_folder(tmp_path / "seven", 1, spec),
            _run_folder(tmp_path / "three", 2, spec, classes=("happy", "sad", "neutral"))]
    with pytest.raises(BadInputError, match="classes"):
        load_ensemble(runs)
    big = _run_folder(tmp_path / "big", 3, InputSpec((64, 64), "grey", spec.mean, spec.std))
    with pytest.raises(BadInputError, match="must share it"):
        load_ensemble([runs[0], big])
    with pytest.raises(BadInputError, match="one non-negative weight per member"):
        load_ensemble(runs[:1] * 2, weights=[1, 2, 3])


def test_ensemble_evaluates_and_exports_as_one_registered_model(tmp_path, fer_small, fer_set, spec, monkeypatch):
    runs = [_run_folder(tmp_path / f"run{seed}", seed, spec) for seed in (1, 2)]
    scored = evaluate_run(runs, fer_small)
    whole = scored[fer_small.name]
    expected = _probs(load_ensemble(runs)[0], spec, fer_set.images).argmax(1)
    assert whole["n"] == len(fer_set.labels)
    assert whole["accuracy"] == pytest.approx(float(np.mean(expected == fer_set.labels)))
    assert (runs[0] / f"confusion_eval_ensemble_{fer_small.name}.png").is_file()

    info = export_run(runs, tmp_path / "emotion_pair", data=fer_small)
    folder = tmp_path / "emotion_pair"
    doc = json.loads((folder / "spec.json").read_text())
    assert doc["output"] == "logits" and doc["labels"] == list(EMOTIONS)
    assert [m["run"] for m in doc["ensemble"]["members"]] == [str(r) for r in runs]
    assert doc["source"]["version"] == "run1 + run2"
    assert info["max_abs_diff_vs_torch"] <= 1e-4
    assert info["evaluations"][fer_small.name]["accuracy"] == pytest.approx(whole["accuracy"])
    readme = (folder / "README.md").read_text()
    assert "Member 1: `run1`" in readme and "Member 2: `run2`" in readme and "## Measured on" in readme

    from facelens.attributes.emotion import get_emotion_model
    from facelens.models.registry import check, read_spec

    registered = read_spec(folder)
    monkeypatch.setattr("facelens.models.registry.WEIGHTS_DIR", tmp_path)
    assert check(registered) == "ok"
    # loaded by path like any user model, it gives the ensemble's mean probabilities (what analyze runs)
    crops = [np.repeat(image, 3, axis=2) for image in fer_set.images[:5]]
    np.testing.assert_allclose(get_emotion_model(str(folder)).predict_crops(crops),
                               _probs(load_ensemble(runs)[0], spec, fer_set.images[:5]), atol=1e-4)


def test_an_exported_ensemble_takes_new_members_without_its_run_folders(tmp_path, fer_small, fer_set, spec):
    runs = [_run_folder(tmp_path / f"run{seed}", seed, spec) for seed in (1, 2, 3)]
    alone = [_probs(load_run_model(run)[0], spec, fer_set.images) for run in runs]
    for run in runs[:2]:  # the first two chose their kept epoch on the set scored below
        (run / "config.json").write_text(json.dumps({"validation": fer_small.name}))
    pair = tmp_path / "pair"
    export_run(runs[:2], pair, data=fer_small)
    for run in runs[:2]:
        shutil.rmtree(run)  # the exported folder is all a user of the package has
    files_before = sorted(p.name for p in pair.iterdir())

    model, shared, payload = load_ensemble([pair, runs[2]], weights=[2, 1])
    expected = sum(alone) / 3  # 2:1 over a two-net mean and one net: each net a third
    assert shared == spec
    np.testing.assert_allclose(_probs(model, spec, fer_set.images), expected, atol=1e-5)

    three = tmp_path / "three"
    info = export_run([pair, runs[2]], three, weights=[2, 1], data=fer_small)
    assert info["max_abs_diff_vs_torch"] <= 1e-4
    assert "selection_set" in info["evaluations"][fer_small.name]  # inherited from the exported members
    doc = json.loads((three / "spec.json").read_text())
    inner = doc["ensemble"]["members"][0]
    assert inner["sha256"] == json.loads((pair / "spec.json").read_text())["sha256"]
    assert [m["run"] for m in inner["members"]] == [str(r) for r in runs[:2]]
    readme = (three / "README.md").read_text()
    assert "An ensemble of 3 networks" in readme and "### Member 1: `run1`" in readme
    assert f"- alone on {fer_small.name}: accuracy" in readme and "(selection set)" in readme
    # the pair's own accuracy sits under its heading, before its nested members (not under run2's)
    assert readme.index(f"- alone on {fer_small.name}: accuracy") < readme.index("### Member 1: `run1`")
    from facelens.attributes.emotion import get_emotion_model

    crops = [np.repeat(image, 3, axis=2) for image in fer_set.images[:5]]
    np.testing.assert_allclose(get_emotion_model(str(three)).predict_crops(crops), expected[:5], atol=1e-4)
    assert sorted(p.name for p in pair.iterdir()) == files_before  # nothing written into it
    with pytest.raises(BadInputError, match="exported model already"):
        export_run([pair], tmp_path / "again")
    with pytest.raises(BadInputError, match="is one of the members"):
        export_run([pair, runs[2]], pair)
    assert sorted(p.name for p in pair.iterdir()) == files_before


def test_a_folder_that_is_not_an_exported_classifier_is_refused(tmp_path, spec):
    folder = tmp_path / "detector"
    folder.mkdir()
    (folder / "spec.json").write_text(json.dumps({"task": "detection", "filename": "x.onnx", "output": "boxes"}))
    run = _run_folder(tmp_path / "run", 1, spec)
    with pytest.raises(BadInputError, match="not an exported classifier"):
        load_ensemble([run, folder])
    (folder / "spec.json").write_text("{not json")
    with pytest.raises(BadInputError, match="unreadable spec.json"):
        load_ensemble([run, folder])


def test_cli_weights_must_match_the_runs(tmp_path, fer_small, spec, capsys):
    runs = [str(_run_folder(tmp_path / f"run{seed}", seed, spec)) for seed in (1, 2)]
    assert run_cli(["train", "evaluate", *runs, "--data", str(fer_small), "--weights", "1,2,3"]) == 2
    assert "--weights gives 3 number(s) for 2 run folder(s)" in capsys.readouterr().err
    assert run_cli(["train", "evaluate", *runs, "--data", str(fer_small), "--weights", "1,x"]) == 2
    assert "comma-separated numbers" in capsys.readouterr().err
    assert run_cli(["train", "evaluate", *runs]) == 2
    assert "pass --data" in capsys.readouterr().err
    assert run_cli(["train", "evaluate", runs[0], "--tta", "flip"]) == 2
    assert "--tta changes the model: pass --data" in capsys.readouterr().err
    assert run_cli(["train", "evaluate", *runs, "--data", str(fer_small), "--weights", "1,1"]) == 0
    assert json.loads(capsys.readouterr().out)[fer_small.name]["n"] > 0
