"""Gender and age on real LFW faces with published gender labels (first 6 people of each list)."""

from __future__ import annotations

import numpy as np

from facelens.attributes.gender_age import chips, predict_gender_age
from facelens.pipeline import detect_rgb


def _largest(faces):
    return max(faces, key=lambda f: f.area)


def test_gender_of_labelled_lfw_faces(attr_data, load):
    results = {}
    for truth in ("female", "male"):
        for path in sorted((attr_data / "lfw" / truth).glob("*.jpg")):
            rgb = load(path)
            record = predict_gender_age(rgb, [_largest(detect_rgb(rgb))])[0]
            probs = record["gender"]["probs"]
            assert set(probs) == {"female", "male"} and abs(sum(probs.values()) - 1) < 1e-3
            assert 10 < record["age"] < 90
            results[path.name] = (truth, record["gender"]["label"])
    assert len(results) == 12
    wrong = {k: v for k, v in results.items() if v[0] != v[1]}
    assert len(wrong) <= 1, wrong  # all 12 correct when measured


def test_chips_follow_the_package_preprocessing(attr_data, load):
    rgb = load(attr_data / "lfw" / "male" / "Aaron_Eckhart_0001.jpg")
    face = _largest(detect_rgb(rgb))
    small, large = chips(rgb, [face], (32, 64))[0]
    assert small.shape == (32, 32, 3) and large.shape == (64, 64, 3)
    assert small.dtype == np.uint8


def test_only_the_asked_parts_run(attr_data, load):
    rgb = load(attr_data / "lfw" / "female" / "Afton_Smith_0001.jpg")
    face = _largest(detect_rgb(rgb))
    assert set(predict_gender_age(rgb, [face], gender=False)[0]) == {"age"}
    assert set(predict_gender_age(rgb, [face], age=False)[0]) == {"gender"}
    assert predict_gender_age(rgb, []) == []
