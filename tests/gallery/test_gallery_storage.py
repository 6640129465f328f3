"""Storage faults: corrupt/foreign files, schema revisions, a gallery made by an older version."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from facelens.errors import StorageError
from facelens.gallery import Gallery
from facelens.gallery.store import Store

OLD_GALLERY = Path(__file__).resolve().parent.parent / "data" / "gallery" / "gallery-rev0001.db"
OLD_GALLERY_KEY = "ZmFjZWxlbnMtdGVzdC1maXh0dXJlLWtleS0zMmJ5dGU="  # test fixture key, not a secret


def test_corrupt_file_is_a_storage_error(tmp_path):
    bad = tmp_path / "g.db"
    bad.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StorageError, match="not an SQLite"):
        Gallery(bad)
    assert bad.read_bytes() == b"this is not a database" * 100  # untouched


def test_truncated_database_is_a_storage_error(tmp_path, rng):
    db = tmp_path / "g.db"
    with Gallery(db) as gallery:
        gallery.enrol("a", embeddings=rng.normal(size=192))
    con = sqlite3.connect(db)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    data = db.read_bytes()
    db.write_bytes(data[:100] + b"\xff" * (len(data) - 100))  # header kept, pages destroyed
    with pytest.raises(StorageError):
        with Gallery(db) as broken:
            broken.list()


def test_foreign_database_is_refused(tmp_path):
    other = tmp_path / "other.db"
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    con.commit()
    con.close()
    with pytest.raises(StorageError, match="foreign"):
        Gallery(other)
    con = sqlite3.connect(other)
    assert [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")] == ["customers"]


def test_newer_schema_is_refused(tmp_path):
    db = tmp_path / "g.db"
    Store(db).dispose()
    con = sqlite3.connect(db)
    con.execute("UPDATE facelens_alembic_version SET version_num='9999'")
    con.commit()
    con.close()
    with pytest.raises(StorageError, match="newer facelens"):
        Store(db)


def test_directory_and_bad_url(tmp_path):
    with pytest.raises(StorageError):
        Gallery(tmp_path)
    with pytest.raises(StorageError):
        Gallery("postgresql://nobody@127.0.0.1:1/none")


def test_sqlite_uses_wal_and_readers_run_beside_a_writer(tmp_path, rng):
    db = tmp_path / "g.db"
    with Gallery(db) as writer, Gallery(db) as reader:
        with writer.repository.store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        writer.enrol("a", embeddings=rng.normal(size=192))
        with writer.repository.store.write() as session:  # a write transaction held open …
            writer.audit.append("test.hold", None, {}, session=session)
            assert [p["name"] for p in reader.list()] == ["a"]  # … does not block readers


def test_gallery_made_by_revision_0001_still_opens(tmp_path, monkeypatch):
    """A gallery file written by the first release (committed fixture) opens and answers."""
    db = tmp_path / "old.db"
    shutil.copy(OLD_GALLERY, db)
    monkeypatch.setenv("FACELENS_KEY", OLD_GALLERY_KEY)
    with Gallery(db) as gallery:
        assert [p["name"] for p in gallery.list()] == ["alpha", "beta"]
        probe = np.zeros(192, np.float32)
        probe[0] = 1.0
        assert gallery.identify(probe, threshold=0.9)[0].identity == "alpha"
        assert gallery.audit.verify().ok


def test_opening_a_second_gallery_keeps_the_first_ones_locks(tmp_path, rng):
    """Opening the same database twice in one process must not drop the first gallery's SQLite
    locks (closing any descriptor of a file releases all of a process's POSIX locks on it): with
    them gone, another process closing its connection believes it is the last one and removes the
    write-ahead log under the first gallery — the server's "database disk image is malformed"."""
    import subprocess
    import sys

    db = tmp_path / "g.db"
    with Gallery(db) as first:
        first.enrol("a", embeddings=rng.normal(size=192))
        assert Path(f"{db}-wal").exists()
        with Gallery(db) as second:  # the header check of a second open
            assert "a" in second
            subprocess.run([sys.executable, "-c", f"import sqlite3; sqlite3.connect({str(db)!r}).execute("
                            "'select count(*) from facelens_meta').fetchone()"], check=True)
            assert Path(f"{db}-wal").exists(), "another process removed the WAL: this process's locks were dropped"
            first.enrol("b", embeddings=rng.normal(size=192))
            assert "b" in second
