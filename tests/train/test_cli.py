from __future__ import annotations

import json
import subprocess
import sys

import pytest

from facelens.cli.app import run_cli


def test_train_modules_do_not_import_torch_at_import_time():
    code = ("import sys, facelens.cli.train, facelens.train.datasets, facelens.train.splits, "
            "facelens.train.metrics, facelens.train.augment, facelens.train.report; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_missing_torch_gives_the_install_hint(monkeypatch, capsys, tmp_path, fer_small):
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch → ImportError
    code = run_cli(["train", "emotion", "--data", str(fer_small), "--out", str(tmp_path / "r")])
    assert code == 1
    assert "pip install -e '.[train]'" in capsys.readouterr().err


def test_cli_trains_evaluates_and_reports_json(tmp_path, fer_small, capsys, monkeypatch):
    pytest.importorskip("torch")
    monkeypatch.setenv("FACELENS_THREADS", "1")
    out = tmp_path / "run"
    code = run_cli(["train", "emotion", "--data", str(fer_small), "--arch", "seed002_cnn", "--epochs", "1",
                    "--batch-size", "16", "--split", "70/30", "--out", str(out), "--no-progress"])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["params"] == 363_655 and 0.0 <= result["test_accuracy"] <= 1.0
    code = run_cli(["train", "evaluate", str(out), "--data", str(fer_small)])
    assert code == 0
    scored = json.loads(capsys.readouterr().out)
    assert scored["fer_small"]["n"] == 70
    assert len(scored["fer_small"]["confusion_matrix"]) == 7


def test_cli_bad_csv_exits_2(tmp_path, capsys):
    pytest.importorskip("torch")
    bad = tmp_path / "fer.csv"
    bad.write_text("emotion,pixels,Usage\n3,1 2 3,Training\n")
    code = run_cli(["train", "emotion", "--data", str(bad), "--out", str(tmp_path / "r")])
    assert code == 2
    assert "expected 2304" in capsys.readouterr().err


def test_cli_trains_with_the_stronger_recipe(tmp_path, fer_small, capsys, monkeypatch):
    pytest.importorskip("torch")
    monkeypatch.setenv("FACELENS_THREADS", "1")
    out = tmp_path / "vgg"
    code = run_cli(["train", "emotion", "--data", str(fer_small), "--arch", "fer_vgg", "--epochs", "2",
                    "--batch-size", "16", "--split", "80/20", "--out", str(out), "--no-progress",
                    "--crop", "40", "--tta", "ten_crop", "--mix", "cutmix", "--label-smoothing", "0.1",
                    "--schedule", "cosine", "--warmup", "1", "--weight-decay", "0.01"])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert 0.0 <= result["test_accuracy"] <= 1.0
    stored = json.loads((out / "config.json").read_text())
    assert (stored["crop"], stored["tta"], stored["mix"], stored["schedule"], stored["warmup"],
            stored["label_smoothing"], stored["weight_decay"]) == (40, "ten_crop", "cutmix", "cosine", 1.0, 0.1, 0.01)
    code = run_cli(["train", "emotion", "--data", str(fer_small), "--out", str(tmp_path / "bad"),
                    "--tta", "ten_crop"])
    assert code == 2 and "needs --crop" in capsys.readouterr().err


def test_cli_threshold_needs_an_exported_model(tmp_path, capsys):
    pytest.importorskip("torch")
    code = run_cli(["train", "threshold", str(tmp_path), "--data", str(tmp_path)])
    assert code != 0 and "no spec.json" in capsys.readouterr().err
