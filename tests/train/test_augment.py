from __future__ import annotations

import numpy as np

from facelens.train.augment import NONE, Augment


def test_augment_keeps_shape_and_is_seeded(fer_set, eye_set):
    for data in (fer_set, eye_set):
        batch = data.images[:8]
        a = Augment()(batch, np.random.default_rng(3))
        b = Augment()(batch, np.random.default_rng(3))
        assert a.shape == batch.shape and a.dtype == np.uint8
        assert np.array_equal(a, b)
        assert not np.array_equal(a, batch)


def test_no_augment_is_identity(fer_set):
    batch = fer_set.images[:4]
    assert np.array_equal(NONE(batch, np.random.default_rng(0)), batch)


def test_flip_only_mirrors(fer_set):
    batch = fer_set.images[:16]
    out = Augment(True, 0, 0, 0, 0, 0)(batch, np.random.default_rng(0))
    for before, after in zip(batch, out):
        assert np.array_equal(after, before) or np.array_equal(after, before[:, ::-1])
