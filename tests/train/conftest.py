"""Fixtures for the training tests: the small real FER2013 and LFW subsets in tests/data/train."""

from __future__ import annotations

from pathlib import Path

import pytest

TRAIN_DATA = Path(__file__).resolve().parent.parent / "data" / "train"


@pytest.fixture(scope="session")
def fer_small() -> Path:
    return TRAIN_DATA / "fer_small"


@pytest.fixture(scope="session")
def lfw_small() -> Path:
    return TRAIN_DATA / "lfw_small"


@pytest.fixture(scope="session")
def fer_set(fer_small):
    from facelens.train.datasets import load_folder

    return load_folder(fer_small)


@pytest.fixture(scope="session")
def eye_set(lfw_small):
    from facelens.train.datasets import load_lfw_eyes

    return load_lfw_eyes(lfw_small / "images", lfw_small / "female_names.txt", lfw_small / "male_names.txt")


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread():
    """One thread: the tests' models are tiny, and on shared cores extra threads only wait."""
    try:
        import torch
    except ImportError:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture()
def one_facelens_thread(monkeypatch):
    """FACELENS_THREADS=1 for a test that trains (the trainer sets torch's threads from it)."""
    monkeypatch.setenv("FACELENS_THREADS", "1")
