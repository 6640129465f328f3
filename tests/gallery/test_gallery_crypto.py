"""Key handling: env key, key file, first-run key creation, wrong/missing key, key beside data."""

from __future__ import annotations

import base64
import os
import stat

import numpy as np
import pytest

from facelens import config
from facelens.errors import KeyMaterialError
from facelens.gallery import Gallery
from facelens.gallery.crypto import Cipher, generate_key, load_key


def test_templates_are_encrypted_at_rest(tmp_path, rng):
    vector = rng.normal(size=192).astype(np.float32)
    vector /= np.linalg.norm(vector)
    db = tmp_path / "g.db"
    with Gallery(db) as gallery:
        gallery.enrol("alice", embeddings=vector)
        assert gallery.identify(vector)[0].identity == "alice"  # builds and saves the index
    raw = vector.astype("<f4").tobytes()
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.suffix == ".idx" for p in files)
    for path in files:
        assert raw[:16] not in path.read_bytes(), path


def test_wrong_key_is_refused(tmp_path, monkeypatch, rng):
    db = tmp_path / "g.db"
    with Gallery(db) as gallery:
        gallery.enrol("alice", embeddings=rng.normal(size=192))
    monkeypatch.setenv("FACELENS_KEY", generate_key())
    with pytest.raises(KeyMaterialError, match="does not match"):
        Gallery(db)


def test_missing_key_is_refused_and_bad_key_text(tmp_path, monkeypatch):
    monkeypatch.delenv("FACELENS_KEY")
    with pytest.raises(KeyMaterialError, match="no encryption key"):
        Gallery(tmp_path / "g.db")
    monkeypatch.setenv("FACELENS_KEY", "not base64!")
    with pytest.raises(KeyMaterialError, match="base64"):
        load_key()
    monkeypatch.setenv("FACELENS_KEY", base64.b64encode(b"short").decode())
    with pytest.raises(KeyMaterialError, match="32 bytes"):
        load_key()


def test_first_run_creates_key_file_in_config_dir(tmp_path, monkeypatch, capsys, rng):
    monkeypatch.delenv("FACELENS_KEY")
    db = tmp_path / "g.db"
    with Gallery(db, create_key=True) as gallery:
        gallery.enrol("alice", embeddings=rng.normal(size=192))
    key_path = config.config_dir() / "gallery.key"
    assert key_path.exists() and stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert "created a new gallery encryption key" in capsys.readouterr().err
    assert not key_path.resolve().is_relative_to(config.data_dir().resolve())
    with Gallery(db) as again:  # found again without creating
        assert "alice" in again
    assert "created" not in capsys.readouterr().err


def test_key_file_variable_and_key_beside_data_refused(tmp_path, monkeypatch):
    monkeypatch.delenv("FACELENS_KEY")
    key_file = tmp_path / "keys" / "k"
    key_file.parent.mkdir()
    key_file.write_text(generate_key())
    monkeypatch.setenv("FACELENS_KEY_FILE", str(key_file))
    with Gallery(tmp_path / "data" / "g.db"):
        pass
    beside = tmp_path / "data" / "k"
    beside.write_text(generate_key())
    monkeypatch.setenv("FACELENS_KEY_FILE", str(beside))
    with pytest.raises(KeyMaterialError, match="data directory"):
        Gallery(tmp_path / "data" / "g.db")


def test_ciphertext_is_bound_to_its_place():
    cipher = Cipher(os.urandom(32))
    sealed = cipher.encrypt(b"template", b"identity-a")
    assert cipher.decrypt(sealed, b"identity-a") == b"template"
    with pytest.raises(KeyMaterialError):
        cipher.decrypt(sealed, b"identity-b")
    with pytest.raises(KeyMaterialError):
        cipher.decrypt(sealed[:-1] + bytes([sealed[-1] ^ 1]), b"identity-a")
