"""Stratified hold-out splits, k-fold cross-validation, and class-imbalance remedies.

With ``groups`` (a person id per image) every split is made *by group*: all images of one person
land on the same side, so a test score never rewards recognising a person seen in training.
Numpy/scikit-learn only.
"""

from __future__ import annotations

import math

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold, train_test_split

from ..errors import BadInputError

PAPER_SPLITS = {"70/30": 0.30, "80/20": 0.20}


def parse_split(text: str) -> float:
    """'80/20' → 0.2 (the test fraction); also accepts '0.2'."""
    text = text.strip()
    if text in PAPER_SPLITS:
        return PAPER_SPLITS[text]
    try:
        if "/" in text:
            a, b = (float(v) for v in text.split("/"))
            value = b / (a + b)
        else:
            value = float(text)
    except ValueError:
        raise BadInputError(f"split {text!r}: use e.g. 80/20, 70/30 or a test fraction like 0.2") from None
    if not 0.0 < value < 1.0:
        raise BadInputError(f"split {text!r}: the test fraction must be between 0 and 1")
    return value


def stratified_split(labels: np.ndarray, test_fraction: float, seed: int = 0,
                     groups: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(train_index, test_index), class proportions kept; by group when ``groups`` is given."""
    labels = np.asarray(labels)
    index = np.arange(len(labels))
    if groups is None:
        _check_per_class(labels, 2, "a stratified split")
        train, test = train_test_split(index, test_size=_test_count(labels, test_fraction),
                                       random_state=seed, stratify=labels)
        return np.sort(train), np.sort(test)
    # Split the *people*, stratified by each person's majority label, then expand to images.
    groups = np.asarray(groups)
    people, inverse = np.unique(groups, return_inverse=True)
    person_label = np.array([np.bincount(labels[inverse == i]).argmax() for i in range(len(people))])
    _check_per_class(person_label, 2, "a split by person")
    p_train, p_test = train_test_split(np.arange(len(people)),
                                       test_size=_test_count(person_label, test_fraction),
                                       random_state=seed, stratify=person_label)
    in_test = np.isin(inverse, p_test)
    return index[~in_test], index[in_test]


def kfold(labels: np.ndarray, folds: int, seed: int = 0,
          groups: np.ndarray | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified k-fold (train_index, test_index) pairs; StratifiedGroupKFold with groups."""
    if folds < 2:
        raise BadInputError(f"--folds must be at least 2 for cross-validation, not {folds}")
    labels = np.asarray(labels)
    _check_per_class(labels, folds, f"{folds}-fold cross-validation")
    index = np.zeros(len(labels))
    if groups is None:
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
        return [(a, b) for a, b in splitter.split(index, labels)]
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    return [(a, b) for a, b in splitter.split(index, labels, groups)]


def class_weights(labels: np.ndarray, num_classes: int) -> np.ndarray:
    """'Balanced' weights n / (k · n_c): FER2013's disgust (≈1.5 %) weighs ~9× a mean class."""
    counts = np.bincount(np.asarray(labels), minlength=num_classes).astype(np.float64)
    if (counts == 0).any():
        raise BadInputError("class weights: a class has no training examples")
    return (counts.sum() / (num_classes * counts)).astype(np.float32)


def balanced_indices(labels: np.ndarray, rng: np.random.Generator, size: int | None = None) -> np.ndarray:
    """An epoch's worth of indices drawn so every class is equally frequent (over-sampling)."""
    labels = np.asarray(labels)
    classes = np.unique(labels)
    size = size or len(labels)
    per_class = int(np.ceil(size / len(classes)))
    picks = [rng.choice(np.flatnonzero(labels == c), per_class, replace=True) for c in classes]
    out = np.concatenate(picks)
    rng.shuffle(out)
    return out[:size]


def _test_count(labels: np.ndarray, fraction: float) -> int:
    """ceil(fraction · n) as scikit-learn counts it, but at least one per class and at least one
    left per class to train on (a 10 % validation split of 49 images in 7 classes is 7, not 5)."""
    classes = len(np.unique(labels))
    count = max(math.ceil(fraction * len(labels)), classes)
    if len(labels) - count < classes:
        raise BadInputError(f"too few examples ({len(labels)}) to hold out {count} and still train on every class")
    return count


def _check_per_class(labels: np.ndarray, needed: int, what: str) -> None:
    counts = np.bincount(labels)
    counts = counts[counts > 0]
    if len(counts) < 2:
        raise BadInputError(f"{what} needs at least two classes")
    if counts.min() < needed:
        raise BadInputError(f"{what} needs at least {needed} examples per class; the smallest has {counts.min()}")
