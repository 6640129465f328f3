from __future__ import annotations

import numpy as np
import pytest

from facelens.errors import BadInputError
from facelens.train.splits import (balanced_indices, class_weights, kfold, parse_split,
                                   stratified_split)

LABELS = np.array([0] * 70 + [1] * 20 + [2] * 10)


@pytest.mark.parametrize("text, fraction", [("80/20", 0.2), ("70/30", 0.3), ("0.25", 0.25)])
def test_parse_split(text, fraction):
    assert parse_split(text) == pytest.approx(fraction)


def test_parse_split_rejects_nonsense():
    with pytest.raises(BadInputError):
        parse_split("banana")
    with pytest.raises(BadInputError):
        parse_split("1.5")


@pytest.mark.parametrize("fraction", [0.2, 0.3])
def test_stratified_split_keeps_proportions(fraction):
    train, test = stratified_split(LABELS, fraction, seed=1)
    assert len(set(train) & set(test)) == 0 and len(train) + len(test) == len(LABELS)
    assert np.bincount(LABELS[test]).tolist() == [round(70 * fraction), round(20 * fraction), round(10 * fraction)]
    again = stratified_split(LABELS, fraction, seed=1)
    assert np.array_equal(train, again[0])  # deterministic by seed


def test_split_by_person_never_shares_a_person():
    people = np.repeat(np.arange(50), 2)  # 50 people, 2 images each
    labels = (people % 4 == 0).astype(int)  # one gender per person, imbalanced 1 : 3
    train, test = stratified_split(labels, 0.2, seed=0, groups=people)
    assert not set(people[train]) & set(people[test])
    assert len(set(people[test])) == 10
    for tr, te in kfold(labels, 5, seed=0, groups=people):
        assert not set(people[tr]) & set(people[te])


def test_kfold_covers_every_example_once():
    seen = np.concatenate([test for _, test in kfold(LABELS, 5, seed=0)])
    assert sorted(seen.tolist()) == list(range(len(LABELS)))
    with pytest.raises(BadInputError, match="at least 2"):
        kfold(LABELS, 1)


def test_class_weights_balanced_formula():
    w = class_weights(LABELS, 3)
    assert w.tolist() == pytest.approx([100 / (3 * 70), 100 / (3 * 20), 100 / (3 * 10)])
    with pytest.raises(BadInputError):
        class_weights(np.array([0, 0, 2]), 3)


def test_balanced_indices_equalise_classes():
    idx = balanced_indices(LABELS, np.random.default_rng(0), size=300)
    counts = np.bincount(LABELS[idx])
    assert counts.tolist() == [100, 100, 100]
