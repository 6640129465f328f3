from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from facelens.errors import BadInputError  # noqa: E402
from facelens.train.architectures import build  # noqa: E402
from facelens.constants import EMOTIONS  # noqa: E402
from facelens.train.export import check_onnx, export_run, to_onnx  # noqa: E402
from facelens.train.pipeline import run  # noqa: E402
from facelens.train.trainer import InputSpec, TrainConfig, to_tensor  # noqa: E402


@pytest.mark.parametrize("name", ["seed002_cnn", "cnn_bilstm_attn", "facelens_cnn", "mobilenetv2"])
def test_onnx_matches_pytorch_on_real_images(name, tmp_path, fer_set, eye_set):
    data, channels = (fer_set, "grey") if name != "mobilenetv2" else (eye_set, "rgb")
    torch.manual_seed(0)
    model = build(name, len(data.classes), data.channels).eval()
    spec = InputSpec.fit(data.images, channels)
    path = to_onnx(model, spec, tmp_path / f"{name}.onnx")
    batch = to_tensor(spec, data.images[:6]).numpy()  # batch 6: the batch axis is dynamic
    assert check_onnx(model, path, batch, atol=1e-4) <= 1e-4


def test_opset_below_17_is_refused(tmp_path, fer_set):
    model = build("seed002_cnn", 7, 1)
    with pytest.raises(BadInputError, match="opset"):
        to_onnx(model, InputSpec.fit(fer_set.images, "grey"), tmp_path / "m.onnx", opset=13)


def test_export_run_writes_model_folder(tmp_path, fer_small, monkeypatch):
    monkeypatch.setenv("FACELENS_THREADS", "1")
    cfg = TrainConfig(task="emotion", arch="seed002_cnn", data=str(fer_small), epochs=1, batch_size=16,
                      val_fraction=0.2, split="80/20")
    run(cfg, tmp_path / "run", progress=False)
    info = export_run(tmp_path / "run", tmp_path / "emotion_test")
    folder = tmp_path / "emotion_test"
    assert (folder / "emotion_test.onnx").is_file() and (folder / "README.md").is_file()
    spec = json.loads((folder / "spec.json").read_text())
    assert spec["task"] == "emotion" and spec["output"] == "logits"
    assert spec["labels"] == list(EMOTIONS)
    assert spec["input"]["layout"] == "NCHW" and spec["input"]["size"] == [48, 48]
    assert spec["input"]["channels"] == "grey" and spec["input"]["scale"] == pytest.approx(1 / 255)
    assert len(spec["input"]["mean"]) == len(spec["input"]["std"]) == 1
    assert len(info["sha256"]) == 64 and info["max_abs_diff_vs_torch"] <= 1e-4
    # the folder is a registry entry as it stands: provenance and checksum in its spec.json
    from facelens.models.registry import check, read_spec

    registered = read_spec(folder)
    assert registered.name == "emotion_test" and registered.task == "emotion"
    assert registered.sha256 == info["sha256"] and registered.source.version == "run"
    assert registered.labels == tuple(EMOTIONS) and registered.output == "logits"
    monkeypatch.setattr("facelens.models.registry.WEIGHTS_DIR", tmp_path)
    assert check(registered) == "ok"
    # the spec alone is enough to run the ONNX file on raw pixels, as the attribute code will
    from PIL import Image

    session = ort.InferenceSession(info["onnx"], providers=["CPUExecutionProvider"])
    face = sorted((fer_small / "happy").glob("*.jpg"))[0]
    pixels = np.asarray(Image.open(face).convert("L"), np.float32)[None, None]
    x = (pixels * spec["input"]["scale"] - spec["input"]["mean"][0]) / spec["input"]["std"][0]
    logits = session.run(None, {"input": x.astype(np.float32)})[0]
    assert logits.shape == (1, 7) and np.isfinite(logits).all()
