"""The model store: every bundled file matches its recorded sha256; alteration is caught."""

from __future__ import annotations

import shutil

import pytest

from facelens.errors import ModelError
from facelens.models import registry


def test_every_bundled_model_matches_its_checksum():
    for spec in registry.MODELS.values():
        if spec.bundled:
            assert registry.check(spec) == "ok", spec.name
            assert spec.path.stat().st_size == spec.size_bytes
            assert (spec.path.parent / "README.md").is_file(), f"{spec.name} has no README"


def test_altered_file_fails_with_a_message_naming_it(tmp_path, monkeypatch):
    spec = registry.MODELS["blazeface_short_range"]
    copy_dir = tmp_path / "weights"
    shutil.copytree(registry.WEIGHTS_DIR, copy_dir)
    target = copy_dir / spec.name / spec.filename
    data = bytearray(target.read_bytes())
    data[1000] ^= 0xFF
    target.write_bytes(bytes(data))
    monkeypatch.setattr(registry, "WEIGHTS_DIR", copy_dir)
    registry.forget_verified()
    try:
        with pytest.raises(ModelError, match=r"altered: .*face_detection_short_range\.tflite"):
            registry.model_path(spec.name)
        target.unlink()
        with pytest.raises(ModelError, match="missing"):
            registry.model_path(spec.name)
    finally:
        registry.forget_verified()


def test_unknown_model_name():
    with pytest.raises(ModelError, match="unknown model"):
        registry.model_path("resnet-9000")
