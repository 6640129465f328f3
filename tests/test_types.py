"""The Face record validates on construction and never mutates."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from facelens.types import Face, Quality


def test_face_validates_box_score_and_keypoints():
    with pytest.raises(ValueError):
        Face(box=(10, 10, 5, 20), score=0.9)
    with pytest.raises(ValueError):
        Face(box=(0, 0, 10, 10), score=1.5)
    with pytest.raises(ValueError):
        Face(box=(0, 0, 10, 10), score=0.5, keypoints={"third_eye": (1, 1)})
    with pytest.raises(ValueError):
        Face(box=(0, 0, 10, 10), score=0.5, embedding=np.array([np.nan, 1.0]))


def test_face_is_frozen_and_replace_returns_new():
    face = Face(box=(0, 0, 10, 10), score=0.5, embedding=np.ones(4, dtype=np.float32))
    with pytest.raises(dataclasses.FrozenInstanceError):
        face.score = 0.1
    with pytest.raises(ValueError):
        face.embedding[0] = 3.0  # read-only array
    other = face.with_attributes(age=31.0)
    assert other.attributes["age"] == 31.0 and "age" not in face.attributes


def test_to_dict_is_json():
    quality = Quality(face_size=40, sharpness=100, brightness=120, yaw=3, pitch=-2, roll=1)
    face = Face(box=(1, 2, 30, 40), score=0.9, keypoints={"nose": (10, 20)}, quality=quality,
                embedding=np.ones(3, dtype=np.float32), embedding_model="mobilefacenet")
    payload = json.loads(json.dumps(face.to_dict(include_embedding=True)))
    assert payload["box"] == [1, 2, 30, 40] and payload["keypoints"]["nose"] == [10, 20]
    assert payload["quality"]["face_size"] == 40 and len(payload["embedding"]) == 3
    assert quality.problems() == []
    assert Quality(5, 5, 10, 60, 0, 0).problems()  # tiny, blurred, dark, turned


def test_malformed_fields_are_bad_input_and_value_errors():
    from facelens.errors import BadInputError

    bad = [
        dict(box="abcd", score=0.5),
        dict(box=(0, 0, 10), score=0.5),
        dict(box=(0, 0, 10, 10), score="high"),
        dict(box=(0, 0, 10, 10), score=float("nan")),
        dict(box=(0, 0, 10, 10), score=0.5, keypoints={"nose": (1, 2, 3)}),
        dict(box=(0, 0, 10, 10), score=0.5, keypoints=[1, 2]),
        dict(box=(0, 0, 10, 10), score=0.5, attributes=5),
    ]
    for fields in bad:
        with pytest.raises(BadInputError):
            Face(**fields)
    with pytest.raises(ValueError):  # BadInputError is also a ValueError
        Face(box=(0, 0, 10, 10), score=2.0)


@pytest.mark.parametrize("vector, message", [
    (np.full(192, np.nan, np.float32), "NaN or infinite"),
    (np.array([1.0, np.inf]), "NaN or infinite"),
    (np.full(4, 1e39), "NaN or infinite"),  # overflows float32
    (np.zeros(192, np.float32), "all zeros"),
    (np.zeros(0, np.float32), "non-empty 1-D"),
    (np.ones((2, 192), np.float32), "non-empty 1-D"),
    (["a", "b"], "numbers"),
])
def test_embedding_checks(vector, message):
    from facelens.errors import BadInputError
    from facelens.types import checked_embedding

    with pytest.raises(BadInputError, match=message):
        Face(box=(0, 0, 10, 10), score=0.5, embedding=vector)
    with pytest.raises(BadInputError, match="has 10 values where 192 are expected"):
        checked_embedding(np.ones(10), dim=192)
