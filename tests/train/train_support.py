"""Helpers shared by the training tests (imported by name: tests/ has no packages)."""

from __future__ import annotations

import csv

from facelens.train.trainer import TrainConfig


def small_config(data, **overrides) -> TrainConfig:
    """A 3-epoch seed002_cnn emotion run on ``data`` (80/20 split, seed 7), with ``overrides``."""
    base = dict(task="emotion", arch="seed002_cnn", data=str(data), epochs=3, batch_size=16,
                lr=3e-3, val_fraction=0.2, split="80/20", seed=7)
    base.update(overrides)
    return TrainConfig(**base)


def csv_rows(path) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))
