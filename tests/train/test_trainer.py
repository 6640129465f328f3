from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from train_support import csv_rows, small_config  # noqa: E402

from facelens.errors import BadInputError, NotFoundError  # noqa: E402
from facelens.train.pipeline import run  # noqa: E402


pytestmark = pytest.mark.usefixtures("one_facelens_thread")


def test_run_folder_holds_everything(tmp_path, fer_small):
    out = tmp_path / "run"
    summary = run(small_config(fer_small, epochs=2), out, progress=False)
    for name in ("config.json", "checkpoint.pt", "model.pt", "metrics.csv", "summary.json",
                 "report.md", "confusion_test.png", "curves.png"):
        assert (out / name).is_file(), name
    rows = csv_rows(out / "metrics.csv")
    assert [r["epoch"] for r in rows] == ["1", "2"]
    assert {"train_loss", "val_loss", "val_acc", "seconds"} <= set(rows[0])
    assert summary["params"] == 363_655 and summary["train_seconds"] > 0
    test = summary["evaluations"]["test"]
    assert test["n"] == 14  # 80/20 of 70 images, stratified
    report = (out / "report.md").read_text()
    assert "precision" in report and "disgust" in report and "training time" in report
    assert json.loads((out / "config.json").read_text())["arch"] == "seed002_cnn"


def test_resume_continues_from_the_checkpoint(tmp_path, fer_small):
    whole = tmp_path / "whole"
    run(small_config(fer_small), whole, progress=False)

    cut = tmp_path / "cut"
    assert run(small_config(fer_small), cut, progress=False, stop_after=1) == {"interrupted_after_epoch": 1}
    assert len(csv_rows(cut / "metrics.csv")) == 1
    state = torch.load(cut / "checkpoint.pt", weights_only=False)["state"]
    assert state["epoch"] == 1

    run(small_config(fer_small, epochs=99), cut, resume=True, progress=False)  # the stored config wins
    rows_whole, rows_cut = csv_rows(whole / "metrics.csv"), csv_rows(cut / "metrics.csv")
    assert [r["epoch"] for r in rows_cut] == ["1", "2", "3"]
    for a, b in zip(rows_whole, rows_cut):  # same losses: epoch 2-3 continued, not restarted
        assert float(a["train_loss"]) == pytest.approx(float(b["train_loss"]), abs=1e-4)
    w = torch.load(whole / "model.pt", weights_only=False)["state_dict"]
    c = torch.load(cut / "model.pt", weights_only=False)["state_dict"]
    assert all(torch.allclose(w[k].float(), c[k].float(), atol=1e-5) for k in w)


def test_resume_needs_a_run_and_a_run_is_not_overwritten(tmp_path, fer_small):
    with pytest.raises(NotFoundError):
        run(small_config(fer_small), tmp_path / "nothing", resume=True, progress=False)
    out = tmp_path / "run"
    run(small_config(fer_small, epochs=1), out, progress=False, stop_after=1)
    with pytest.raises(BadInputError, match="--resume"):
        run(small_config(fer_small, epochs=1), out, progress=False)


def test_cross_validation_folds(tmp_path, fer_small):
    cv = run(small_config(fer_small, epochs=1, folds=2), tmp_path / "cv", progress=False)
    assert cv["folds"] == 2 and len(cv["fold_accuracy"]) == 2
    assert (tmp_path / "cv" / "fold2" / "report.md").is_file()
    assert 0.0 <= cv["mean_accuracy"] <= 1.0


def test_resampling_and_class_weights_run(tmp_path, fer_small):
    for balance in ("weights", "resample"):
        summary = run(small_config(fer_small, epochs=1, balance=balance), tmp_path / balance, progress=False)
        assert summary["epochs_done"] == 1
    with pytest.raises(BadInputError, match="--balance"):
        run(small_config(fer_small, epochs=1, balance="magic"), tmp_path / "bad", progress=False)


def test_gender_eyes_split_by_person(tmp_path, lfw_small):
    cfg = small_config(lfw_small, task="gender_eyes", arch="inception_small", epochs=1, batch_size=4,
               size=(40, 80), channels="rgb", split="70/30", val_fraction=0.3)
    summary = run(cfg, tmp_path / "eyes", progress=False, cache_dir=tmp_path)
    assert "by person" in summary["split"]
    assert summary["evaluations"]["test"]["classes"] == ["female", "male"]
    assert np.isfinite(summary["evaluations"]["test"]["accuracy"])


def test_resume_with_new_epochs_replans_the_schedule(tmp_path, fer_small):
    out = tmp_path / "short"
    run(small_config(fer_small, epochs=4), out, progress=False, stop_after=1)
    summary = run(small_config(fer_small), out, resume=True, progress=False, epochs=2)
    rows = csv_rows(out / "metrics.csv")
    assert [r["epoch"] for r in rows] == ["1", "2"] and summary["epochs_done"] == 2
    assert float(rows[1]["lr"]) < 0.05 * float(rows[0]["lr"])  # annealed to the new end
    assert json.loads((out / "config.json").read_text())["epochs"] == 2


def test_extending_a_finished_run_says_its_rate_is_at_the_floor(tmp_path, fer_small, capsys):
    out = tmp_path / "done"
    run(small_config(fer_small, epochs=1), out, progress=False)
    capsys.readouterr()
    run(small_config(fer_small), out, resume=True, progress=False, epochs=2)
    assert "already at its floor" in capsys.readouterr().err
    rows = csv_rows(out / "metrics.csv")
    assert float(rows[1]["lr"]) < 1e-3 * small_config(fer_small).lr  # extended at the floor, as said


def test_schedule_is_torchs_one_cycle():
    from facelens.train.trainer import Schedule

    model = torch.nn.Linear(2, 2)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    reference = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=2e-3, total_steps=50, pct_start=0.15)
    ours = Schedule(2e-3, 50)
    for step in range(50):
        assert ours.lr(step) == pytest.approx(optimizer.param_groups[0]["lr"], rel=1e-9)
        optimizer.step()
        reference.step()


def test_finish_an_interrupted_run_from_its_checkpoint(tmp_path, fer_small):
    from facelens.train.pipeline import finish_from_checkpoint

    out = tmp_path / "cut"
    run(small_config(fer_small, epochs=3), out, progress=False, stop_after=1)
    (out / "model.pt").unlink()
    summary = finish_from_checkpoint(out)
    assert summary["epochs_done"] == 1 and "INTERRUPTED" in summary["split"]
    assert (out / "model.pt").is_file() and "after epoch 1 of 3" in (out / "report.md").read_text()
