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
