"""A model trained here by the research toolkit and exported the way a user brings one: a
3-class expression CNN (happy, sad, surprise) trained on the real FER2013 faces of
tests/data/train/fer_small, exported with `train/export.py` into a models folder."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

USER_CLASSES = ("happy", "sad", "surprise")


@pytest.fixture(scope="session")
def trained_emotion_model(data_dir, tmp_path_factory) -> Path:
    """FACELENS_MODELS_DIR-style folder holding ``emotion_mine/`` (spec.json, .onnx, README.md).

    Three epochs of the seed-002 CNN on 30 faces (~15 s on one core): the point is a model that
    is not one of the shipped ones, with its own label set, not an accurate one."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnx")
    from facelens.train.export import export_run
    from facelens.train.pipeline import run
    from facelens.train.trainer import TrainConfig

    root = tmp_path_factory.mktemp("user-model")
    data = root / "fer3"
    for name in USER_CLASSES:
        shutil.copytree(data_dir / "train" / "fer_small" / name, data / name)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    try:
        cfg = TrainConfig(task="emotion", arch="seed002_cnn", data=str(data), epochs=3, batch_size=16,
                          val_fraction=0.2, split="80/20")
        run(cfg, root / "run", progress=False)
        models = root / "models"
        export_run(root / "run", models / "emotion_mine")
    finally:
        torch.set_num_threads(threads)
    return models
