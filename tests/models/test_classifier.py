"""Spec-driven classifiers: one InputSpec for training and inference, run on real faces."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from facelens.errors import BadInputError, ModelError
from facelens.imageio import load_image
from facelens.models import registry
from facelens.models.classifier import Classifier, InputSpec
from facelens.pipeline import detect_rgb


def test_grey_input_is_luma_scaled_and_normalised(data_dir):
    rgb = load_image(data_dir / "faces" / "obama.jpg", channels="rgb")
    crop = cv2.resize(rgb, (48, 48), interpolation=cv2.INTER_AREA)
    spec = InputSpec(size=(48, 48), channels="grey", mean=(0.5,), std=(0.25,))
    tensor = spec.array([crop, crop[:, ::-1]])
    assert tensor.shape == (2, 1, 48, 48) and tensor.dtype == np.float32
    grey = crop.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    np.testing.assert_allclose(tensor[0, 0], (grey / 255 - 0.5) / 0.25, rtol=1e-5, atol=1e-5)
    # an already-grey N×H×W×1 batch (the training toolkit's) gives the same numbers
    grey_u8 = np.round(grey).astype(np.uint8)[..., None]
    np.testing.assert_allclose(spec.array([grey_u8])[0, 0], (np.round(grey) / 255 - 0.5) / 0.25, atol=1e-5)


def test_fit_round_trips_through_json(data_dir):
    faces = np.stack([cv2.resize(load_image(data_dir / "faces" / n, channels="rgb"), (80, 40))
                      for n in ("obama.jpg", "biden.jpg")])
    spec = InputSpec.fit(faces, "rgb")
    assert spec.size == (40, 80) and len(spec.mean) == 3 and all(0 < m < 1 for m in spec.mean)
    assert InputSpec.from_json(spec.to_json()) == spec


@pytest.mark.parametrize("section, field", [
    (None, "input"), ({"channels": "grey"}, "input.size"), ({"size": "big"}, "input.size"),
    ({"size": [48, 48], "channels": "cmyk"}, "input.channels"), ({"size": [48, 48], "layout": "CHW"}, "input.layout"),
    ({"size": [48, 48], "std": [0.0]}, "input.std"),
    ({"size": [48, 48], "channels": "rgb", "mean": [1, 2]}, "input.mean"),
    ({"size": [48, 48], "scale": "1/255"}, "input.scale"), ({"size": [0, 48]}, "input.size"),
])
def test_malformed_input_section_is_bad_input_naming_the_field(section, field):
    with pytest.raises(BadInputError, match=rf"model 'tiny' spec.json: field '{field}' "):
        InputSpec.from_json(section, "tiny")


def test_shipped_emotion_models_agree_on_a_smiling_face(data_dir):
    """Both registered emotion classifiers (a .tflite with batch 1, an ONNX with any batch)
    through the same class: probabilities that sum to 1, "happy" on a smiling face."""
    rgb = load_image(data_dir / "attributes" / "faceapi" / "happy.jpg", channels="rgb")
    face = detect_rgb(rgb)[0]
    for name in registry.names("emotion"):
        model = registry.build_model("emotion", name)
        probs = model.predict(rgb, [face, face])
        assert probs.shape == (2, 7) and np.allclose(probs.sum(1), 1, atol=1e-4)
        assert model.labels[int(np.argmax(probs[0]))] == "happy", name


def test_spec_without_labels_is_refused():
    spec = registry.MODELS["gender_cydral"]  # an ONNX model whose spec.json has no class list
    with pytest.raises(ModelError, match="lists no labels"):
        Classifier(spec)
