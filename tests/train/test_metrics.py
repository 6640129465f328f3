from __future__ import annotations

import pytest

from facelens.train.metrics import classification_metrics

# Hand-checked example, 3 classes, 10 samples:
#             predicted  a  b  c
#   true a               3  1  0     recall a = 3/4
#   true b               1  2  0     recall b = 2/3
#   true c               1  0  2     recall c = 2/3
# column sums 5, 3, 2 → precision a = 3/5, b = 2/3, c = 2/2; accuracy = 7/10
Y_TRUE = [0, 0, 0, 0, 1, 1, 1, 2, 2, 2]
Y_PRED = [0, 0, 0, 1, 0, 1, 1, 0, 2, 2]


def test_metrics_match_a_hand_checked_confusion_matrix():
    m = classification_metrics(Y_TRUE, Y_PRED, ["a", "b", "c"])
    assert m["confusion_matrix"] == [[3, 1, 0], [1, 2, 0], [1, 0, 2]]
    assert m["accuracy"] == pytest.approx(0.7)
    pc = m["per_class"]
    assert pc["a"]["precision"] == pytest.approx(3 / 5) and pc["a"]["recall"] == pytest.approx(3 / 4)
    assert pc["b"]["precision"] == pytest.approx(2 / 3) and pc["b"]["recall"] == pytest.approx(2 / 3)
    assert pc["c"]["precision"] == pytest.approx(1.0) and pc["c"]["recall"] == pytest.approx(2 / 3)
    f1_a = 2 * (3 / 5) * (3 / 4) / (3 / 5 + 3 / 4)
    assert pc["a"]["f1"] == pytest.approx(f1_a)
    assert m["balanced_accuracy"] == pytest.approx((3 / 4 + 2 / 3 + 2 / 3) / 3)
    assert m["macro_f1"] == pytest.approx((f1_a + 2 / 3 + 0.8) / 3)
    assert [pc[c]["support"] for c in "abc"] == [4, 3, 3]


def test_absent_class_is_reported_with_zero_support():
    m = classification_metrics([0, 1, 1], [0, 1, 0], ["x", "y", "never"])
    assert m["per_class"]["never"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert m["confusion_matrix"][2] == [0, 0, 0]
    # macro F1 is over the classes present in the truth
    assert m["macro_f1"] == pytest.approx((2 / 3 + 2 / 3) / 2)
