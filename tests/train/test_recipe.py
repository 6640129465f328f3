"""The stronger-training recipe on real faces: the VGG-style nets, random crops and ten-crop
evaluation, mixup / cutmix, label smoothing, the cosine schedule with warm-up, FER2013's
PrivateTest as validation, and resuming a run that uses all of them."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from train_support import csv_rows, small_config  # noqa: E402

from facelens.errors import BadInputError  # noqa: E402
from facelens.train.architectures import TenCrop, build, count_parameters, ten_crop_boxes  # noqa: E402
from facelens.train.augment import mix_batch, random_crop  # noqa: E402
from facelens.train.pipeline import run  # noqa: E402
from facelens.train.trainer import InputSpec, Schedule, TrainConfig, load_run_model, predict  # noqa: E402


pytestmark = pytest.mark.usefixtures("one_facelens_thread")


def _input(fer_set, count=14):
    spec = InputSpec.fit(fer_set.images, "grey")
    return spec, spec.array(fer_set.images[:count])


# ---------------------------------------------------------------- architectures


@pytest.mark.parametrize("name, low, high", [("fer_vgg", 1.0e6, 1.5e6), ("fer_vgg_wide", 2.4e6, 2.9e6),
                                             ("fer_resnet", 2.5e6, 3.0e6)])
def test_fer_nets_are_a_few_million_parameters_and_take_crops_or_whole_faces(name, low, high, fer_set):
    model = build(name, 7, 1).eval()
    assert low < count_parameters(model) < high
    spec, x = _input(fer_set, 4)
    with torch.no_grad():
        assert model(torch.from_numpy(x)).shape == (4, 7)  # 48×48 faces
        assert model(torch.from_numpy(x[:, :, 4:44, 4:44])).shape == (4, 7)  # 40×40 crops


def test_ten_crop_views_are_the_corners_centre_and_their_mirrors(fer_set):
    _, x = _input(fer_set, 3)
    x = torch.from_numpy(x)
    wrapper = TenCrop(torch.nn.Identity(), 40)
    views = wrapper.views(x)
    assert views.shape == (30, 1, 40, 40)
    boxes = ten_crop_boxes(48, 48, 40)
    assert boxes == [(0, 0), (0, 8), (8, 0), (8, 8), (4, 4)]
    for v, (top, left) in enumerate(boxes):
        crop = x[:, :, top:top + 40, left:left + 40]
        assert torch.equal(views[3 * v:3 * v + 3], crop)
        assert torch.equal(views[3 * (v + 5):3 * (v + 5) + 3], torch.flip(crop, dims=[3]))


def test_ten_crop_output_is_the_log_of_the_mean_softmax(fer_set):
    torch.manual_seed(0)
    net = build("fer_vgg", 7, 1).eval()
    _, x = _input(fer_set, 5)
    x = torch.from_numpy(x)
    with torch.no_grad():
        out = TenCrop(net, 40)(x)
        each = torch.softmax(net(TenCrop(net, 40).views(x)), dim=1).reshape(10, 5, 7)
        centre = TenCrop(net, 40, crops=1)(x)
    assert out.shape == (5, 7)
    assert torch.allclose(torch.softmax(out, dim=1), each.mean(0), atol=1e-6)
    assert torch.allclose(centre, net(x[:, :, 4:44, 4:44]), atol=1e-6)
    assert not torch.allclose(torch.softmax(out, 1), torch.softmax(centre, 1))  # the views differ


# ---------------------------------------------------------------- augmentation


def test_random_crop_cuts_windows_of_the_image(fer_set):
    batch = fer_set.images[:6]
    crops = random_crop(batch, 40, np.random.default_rng(0))
    assert crops.shape == (6, 40, 40, 1)
    for image, crop in zip(batch, crops):  # each crop is some 40×40 window of its own face
        assert any(np.array_equal(image[t:t + 40, s:s + 40], crop) for t in range(9) for s in range(9))
    assert np.array_equal(crops, random_crop(batch, 40, np.random.default_rng(0)))


def test_mixup_blends_each_face_with_its_partner(fer_set):
    _, x = _input(fer_set, 8)
    mixed, partner, lam = mix_batch(x, "mixup", 0.4, np.random.default_rng(3))
    assert 0.0 < lam < 1.0 and sorted(partner) == list(range(8))
    np.testing.assert_allclose(mixed, lam * x + (1 - lam) * x[partner], rtol=1e-5, atol=1e-5)


def test_cutmix_pastes_a_box_and_lambda_is_the_share_left(fer_set):
    _, x = _input(fer_set, 8)
    mixed, partner, lam = mix_batch(x, "cutmix", 1.0, np.random.default_rng(5))
    rows, cols = np.nonzero((mixed != x).any(axis=(0, 1)))  # where any face changed
    top, bottom, left, right = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    inside = np.zeros((48, 48), bool)
    inside[top:bottom, left:right] = True
    assert np.array_equal(mixed[:, :, inside], x[partner][:, :, inside])  # the partner's box
    assert np.array_equal(mixed[:, :, ~inside], x[:, :, ~inside])  # the rest untouched
    assert 1 - lam == pytest.approx(inside.mean())
    with pytest.raises(ValueError):
        mix_batch(x, "none", 1.0, np.random.default_rng(0))


# ---------------------------------------------------------------- schedule


def test_cosine_schedule_warms_up_linearly_then_decays_to_zero():
    schedule = Schedule(1e-3, 100, kind="cosine", warmup=10)
    assert schedule.lr(0) == pytest.approx(1e-4)
    assert schedule.lr(4) == pytest.approx(5e-4)
    assert schedule.lr(9) == pytest.approx(1e-3) and schedule.lr(10) == pytest.approx(1e-3)
    assert schedule.lr(10 + 89 // 2) == pytest.approx(5e-4, rel=0.02)  # half-way down the cosine
    assert schedule.lr(99) < 1e-7
    rates = [schedule.lr(s) for s in range(10, 100)]
    assert all(a >= b for a, b in zip(rates, rates[1:]))
    again = Schedule.from_json(json.loads(json.dumps(schedule.to_json())))
    assert [again.lr(s) for s in range(100)] == [schedule.lr(s) for s in range(100)]
    assert Schedule.from_json({"max_lr": 1e-3, "total": 100, "pct_start": 0.15, "restart": None}).kind == "onecycle"


def test_a_cosine_run_records_the_warm_up_and_decay(tmp_path, fer_small):
    out = tmp_path / "cos"
    run(small_config(fer_small, epochs=4, schedule="cosine", warmup=1), out, progress=False)
    rates = [float(r["lr"]) for r in csv_rows(out / "metrics.csv")]  # the rate of each epoch's last step
    assert rates[0] == pytest.approx(3e-3)  # warm-up ends with the first epoch
    assert rates[0] > rates[1] > rates[2] > rates[3] and rates[3] < 1e-6


# ---------------------------------------------------------------- the recipe changes training


def _confidence(run_dir, data) -> float:
    from facelens.train.datasets import load_folder

    model, spec, _ = load_run_model(run_dir)
    images = load_folder(data).images
    return float(torch.softmax(torch.from_numpy(predict(model, spec, images)), 1).max(1).values.mean())


def test_label_smoothing_and_mixup_change_training_as_documented(tmp_path, fer_small):
    """On the same 56 real faces and seeds (six epochs, seconds): label smoothing keeps the training
    loss above the smoothed targets' entropy and above plain training's, and makes the model less
    sure; mixup's blended targets keep the training loss above plain training's."""
    common = dict(epochs=6, lr=3e-3, augment=False)
    plain = run(small_config(fer_small, **common), tmp_path / "plain", progress=False)
    smooth = run(small_config(fer_small, label_smoothing=0.3, **common), tmp_path / "smooth", progress=False)
    mixup = run(small_config(fer_small, mix="mixup", mix_alpha=1.0, **common), tmp_path / "mixup", progress=False)
    last = {name: float(csv_rows(tmp_path / name / "metrics.csv")[-1]["train_loss"])
            for name in ("plain", "smooth", "mixup")}
    eps, k = 0.3, 7
    floor = -((1 - eps + eps / k) * np.log(1 - eps + eps / k) + (k - 1) * (eps / k) * np.log(eps / k))
    assert last["smooth"] > floor  # the loss against smoothed targets cannot fall below their entropy
    assert last["smooth"] > last["plain"] and last["mixup"] > last["plain"]
    assert _confidence(tmp_path / "smooth", fer_small) < _confidence(tmp_path / "plain", fer_small)
    for summary in (plain, smooth, mixup):
        assert np.isfinite(summary["evaluations"]["test"]["accuracy"])
    assert json.loads((tmp_path / "mixup" / "config.json").read_text())["mix"] == "mixup"


def test_a_crop_trained_run_is_evaluated_and_exported_with_ten_crops(tmp_path, fer_small):
    out = tmp_path / "tta"
    summary = run(small_config(fer_small, arch="fer_vgg", epochs=1, crop=40, tta="ten_crop", mix="cutmix",
                       schedule="cosine"), out, progress=False)
    assert summary["single_view_evaluations"]["test"]["n"] == summary["evaluations"]["test"]["n"] == 14
    model, spec, payload = load_run_model(out)
    assert isinstance(model, TenCrop) and model.crops == 10 and payload["crop"] == 40
    assert spec.size == (48, 48)  # the deployed model takes the whole face

    from facelens.train.export import export_run

    info = export_run(out, tmp_path / "emotion_vgg")
    assert info["max_abs_diff_vs_torch"] < 1e-4
    import onnxruntime as ort

    session = ort.InferenceSession(info["onnx"], providers=["CPUExecutionProvider"])
    assert session.get_inputs()[0].shape[1:] == [1, 48, 48]


def test_bad_recipe_settings_are_clear_errors(tmp_path, fer_small):
    for kw, message in ((dict(mix="mixdown"), "--mix"), (dict(schedule="step"), "--schedule"),
                        (dict(tta="ten_crop"), "needs --crop"), (dict(crop=48), "--crop 48"),
                        (dict(label_smoothing=1.0), "--label-smoothing"), (dict(warmup=5.0), "--warmup")):
        with pytest.raises(BadInputError, match=message):
            run(small_config(fer_small, **kw), tmp_path / "bad", progress=False)


# ---------------------------------------------------------------- FER2013 parts and resuming


@pytest.fixture
def fer_with_usage(tmp_path, fer_small):
    """fer_small as the Kaggle release lays FER2013 out: train/, and test/ holding PublicTest_*
    and PrivateTest_* files (the same real faces, renamed by a fixed rule: alternate files)."""
    root = tmp_path / "fer_usage"
    for folder in sorted(p for p in fer_small.iterdir() if p.is_dir()):
        files = sorted(folder.iterdir())
        for i, path in enumerate(files):
            if i < len(files) // 2:
                target = root / "train" / folder.name / path.name
            else:
                prefix = "PublicTest" if i % 2 else "PrivateTest"
                target = root / "test" / folder.name / f"{prefix}_{path.stem.split('_')[1]}.jpg"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, target)
    return root


def test_private_test_is_the_validation_and_public_test_the_report(tmp_path, fer_with_usage):
    out = tmp_path / "fer"
    summary = run(small_config(fer_with_usage, epochs=1, split="", validation="private-test"), out, progress=False)
    assert list(summary["evaluations"]) == ["public-test"]
    assert "validation: private-test" in summary["split"]
    from facelens.train.evaluate import evaluate_run

    scored = evaluate_run(out, fer_with_usage / "test")  # the whole folder and its two parts
    assert list(scored) == ["test", "public-test", "private-test"]
    assert scored["public-test"]["accuracy"] == summary["evaluations"]["public-test"]["accuracy"]
    assert scored["public-test"]["n"] + scored["private-test"]["n"] == scored["test"]["n"]
    with pytest.raises(BadInputError, match="no such part"):
        run(small_config(fer_with_usage, epochs=1, split="", validation="val"), tmp_path / "x", progress=False)


def test_resume_of_the_full_recipe_equals_an_uninterrupted_run(tmp_path, fer_small):
    """Optimiser moments, the schedule (a function of the step) and the per-epoch random streams
    (crops, mixing, augmentation, dropout) all survive the checkpoint: same weights either way."""
    recipe = dict(arch="fer_vgg", epochs=3, crop=40, tta="ten_crop", mix="mixup", label_smoothing=0.1,
                  schedule="cosine", warmup=1)
    run(small_config(fer_small, **recipe), tmp_path / "whole", progress=False)
    assert run(small_config(fer_small, **recipe), tmp_path / "cut", progress=False, stop_after=2) == {
        "interrupted_after_epoch": 2}
    run(small_config(fer_small, **recipe), tmp_path / "cut", resume=True, progress=False)
    whole = torch.load(tmp_path / "whole" / "checkpoint.pt", weights_only=False)
    cut = torch.load(tmp_path / "cut" / "checkpoint.pt", weights_only=False)
    for key, value in whole["model"].items():
        assert torch.equal(value, cut["model"][key]), key
    assert [r["train_loss"] for r in whole["state"]["history"]] == [r["train_loss"] for r in cut["state"]["history"]]


def test_the_kept_epoch_can_be_chosen_by_balanced_accuracy(tmp_path, lfw_small):
    """For the 1 : 3 eyes task: --select balanced_accuracy keeps the epoch with the best
    validation balanced accuracy (first of equals), not the best plain accuracy."""
    out = tmp_path / "eyes"
    summary = run(TrainConfig(task="gender_eyes", arch="inception_small", data=str(lfw_small), epochs=3,
                              batch_size=8, lr=3e-3, val_fraction=0.3, split="70/30", seed=1, size=(40, 80),
                              channels="rgb", select="balanced_accuracy"), out, progress=False)
    scores = [float(r["val_balanced_acc"]) for r in csv_rows(out / "metrics.csv")]
    assert summary["selected_epoch"] == 1 + int(np.argmax(scores))
    assert summary["best_val_acc"] == pytest.approx(max(scores), abs=1e-5)
    with pytest.raises(BadInputError, match="--select"):
        run(small_config(lfw_small, select="f1"), tmp_path / "bad", progress=False)


def test_flip_averaging_exports_inside_the_graph(tmp_path, lfw_small, eye_set):
    """An eyes run exported with --tta flip: the ONNX output is the log of the mean softmax of
    the eye band and its mirror image through the bare net."""
    out = tmp_path / "eyes"
    run(TrainConfig(task="gender_eyes", arch="inception_small", data=str(lfw_small), epochs=1, batch_size=8,
                    val_fraction=0.3, split="70/30", seed=1, size=(40, 80), channels="rgb"), out, progress=False)
    from facelens.train.architectures import FlipAverage
    from facelens.train.export import export_run

    info = export_run(out, tmp_path / "eyes_flip", tta="flip")
    assert info["tta"] == "flip" and info["max_abs_diff_vs_torch"] < 1e-4
    model, spec, _ = load_run_model(out, tta="flip")
    assert isinstance(model, FlipAverage)
    x = torch.from_numpy(spec.array(eye_set.images[:4]))
    with torch.no_grad():
        both = torch.softmax(model.model(torch.cat([x, torch.flip(x, dims=[3])])), 1).reshape(2, 4, 2).mean(0)
        assert torch.allclose(torch.softmax(model(x), 1), both, atol=1e-6)
    import onnxruntime as ort

    session = ort.InferenceSession(info["onnx"], providers=["CPUExecutionProvider"])
    got = session.run(None, {"input": x.numpy()})[0]
    np.testing.assert_allclose(np.exp(got), both.numpy(), atol=1e-5)
    assert "test-time augmentation inside the graph: flip" in (tmp_path / "eyes_flip" / "README.md").read_text()
    with pytest.raises(BadInputError, match="ten_crop"):
        load_run_model(out, tta="ten_crop")
