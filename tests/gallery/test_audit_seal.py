"""The audit log's keyed seal (length + head), pseudonymising erasure, the format-1 upgrade,
the `audit verify` exit code, 0600 exports and key files, and refused consents.

Real faces: the CLI cases enrol the photos in tests/data/gallery; the library cases use their
mobilefacenet embeddings (fixture_embeddings)."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import stat
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import text

from facelens.cli.app import run_cli
from facelens.errors import BadInputError
from facelens.gallery import Consent, Gallery
from facelens.gallery.audit import HEAD_KEY

DATA = Path(__file__).resolve().parent.parent / "data" / "gallery"
OLD_GALLERY = DATA / "gallery-rev0001.db"
OLD_GALLERY_KEY = "ZmFjZWxlbnMtdGVzdC1maXh0dXJlLWtleS0zMmJ5dGU="  # test fixture key, not a secret


def _sql(gallery: Gallery, statement: str, **params) -> None:
    with gallery.repository.store.engine.begin() as conn:
        conn.execute(text(statement), params)


def _head(gallery: Gallery) -> dict:
    return json.loads(gallery.repository.meta(HEAD_KEY))


def _cli(capsys, *args: str) -> tuple[int, str, str]:
    code = run_cli(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def _filled(db, fixture_embeddings) -> Gallery:
    gallery = Gallery(db)
    for name in ("amy", "raj", "penny"):
        gallery.enrol(name, embeddings=fixture_embeddings[f"{name}1"])
    gallery.identify(fixture_embeddings["raj2"])
    return gallery


# ---------------------------------------------------------------- seal: wiped and truncated logs


def test_a_new_gallery_is_sealed_from_the_start(db_url):
    with Gallery(db_url) as gallery:
        head = _head(gallery)
        assert head["format"] == 2 and head["seq"] == 0 and head["broken"] is None
        assert gallery.audit.verify().ok


def test_emptied_log_with_its_seal_deleted_is_detected(db_url, fixture_embeddings):
    with _filled(db_url, fixture_embeddings) as gallery:
        _sql(gallery, "DELETE FROM audit_log")
        _sql(gallery, "DELETE FROM facelens_meta WHERE key = :k", k=HEAD_KEY)
        report = gallery.audit.verify()
        assert not report.ok and report.entries == 0
        assert "seal is missing" in report.problems[0] and "3 identities" in report.problems[0]


def test_emptied_log_under_its_seal_is_detected(db_url, fixture_embeddings):
    with _filled(db_url, fixture_embeddings) as gallery:
        _sql(gallery, "DELETE FROM audit_log")
        report = gallery.audit.verify()
        assert not report.ok and "log ends at entry 0 (0 entries) but the seal says 4" in report.problems[0]


def test_truncated_log_is_detected_and_appending_does_not_hide_it(db_url, fixture_embeddings):
    with _filled(db_url, fixture_embeddings) as gallery:
        _sql(gallery, "DELETE FROM audit_log WHERE seq >= 3")
        report = gallery.audit.verify()
        assert not report.ok and report.first_bad_seq == 3 and "seal says 4" in report.problems[0]
        gallery.enrol("sheldon", embeddings=fixture_embeddings["sheldon1"])  # continues after the seal: a gap
        assert not gallery.audit.verify().ok


def test_wipe_then_new_entries_stays_detected(db_url, fixture_embeddings):
    """Deleting log and seal, then letting the gallery write again: the first writer finds no
    seal while identities exist and records that in every later seal."""
    with _filled(db_url, fixture_embeddings) as gallery:
        _sql(gallery, "DELETE FROM audit_log")
        _sql(gallery, "DELETE FROM facelens_meta WHERE key = :k", k=HEAD_KEY)
        gallery.enrol("sheldon", embeddings=fixture_embeddings["sheldon1"])
        gallery.identify(fixture_embeddings["amy2"])
        report = gallery.audit.verify()
        assert not report.ok and report.entries == 2
        assert any("seal was missing" in p for p in report.problems)
        assert _head(gallery)["broken"]


def test_altered_or_foreign_seal_is_detected(tmp_path, fixture_embeddings):
    with _filled(tmp_path / "a.db", fixture_embeddings) as first, Gallery(tmp_path / "b.db") as second:
        second.enrol("amy", embeddings=fixture_embeddings["amy1"])
        _sql(first, "DELETE FROM audit_log WHERE seq > 1")
        # the other gallery's seal for a 1-entry log, same key: bound to its gallery id, refused
        _sql(first, "UPDATE facelens_meta SET value = :v WHERE key = :k", v=second.repository.meta(HEAD_KEY), k=HEAD_KEY)
        assert any("seal was altered" in p for p in first.audit.verify().problems)
        forged = dict(_head(second), seq=1, seal="0" * 64)
        _sql(second, "UPDATE facelens_meta SET value = :v WHERE key = :k", v=json.dumps(forged), k=HEAD_KEY)
        assert not second.audit.verify().ok


def test_cli_exits_6_on_a_wiped_or_truncated_log_by_default(tmp_path, capsys):
    db = str(tmp_path / "g.db")
    for name in ("amy", "raj"):
        assert _cli(capsys, "gallery", "enrol", name, str(DATA / f"{name}1.png"), str(DATA / f"{name}2.png"), "--db", db)[0] == 0
    assert _cli(capsys, "gallery", "identify", str(DATA / "bbt4.jpg"), "--db", db)[0] == 0
    assert _cli(capsys, "audit", "verify", "--db", db)[:2] == (0, "audit log intact: 3 entries\n")
    truncated = tmp_path / "truncated.db"
    shutil.copy(db, truncated)
    with sqlite3.connect(db) as con:  # wiped: every entry and the seal
        con.execute("DELETE FROM audit_log")
        con.execute("DELETE FROM facelens_meta WHERE key = ?", (HEAD_KEY,))
    with sqlite3.connect(truncated) as con:  # truncated: the last entry
        con.execute("DELETE FROM audit_log WHERE seq = 3")
    for damaged in (db, str(truncated)):
        code, out, err = _cli(capsys, "audit", "verify", "--db", damaged)
        assert code == 6 and "TAMPERED" in out and err.startswith("facelens: error: audit log verification failed")
        code, out, _ = _cli(capsys, "audit", "verify", "--db", damaged, "--json")
        assert code == 6 and json.loads(out)["ok"] is False
        assert _cli(capsys, "audit", "verify", "--db", damaged, "--report-only")[0] == 0
        assert _cli(capsys, "audit", "verify", "--db", damaged, "--strict")[0] == 6


# ---------------------------------------------------------------- erasure: pseudonyms, chain intact


def test_erasure_pseudonymises_the_name_and_the_chain_still_verifies(db_url, fixture_embeddings):
    with _filled(db_url, fixture_embeddings) as gallery:
        assert gallery.identify(fixture_embeddings["raj2"])[0].identity == "raj"
        gallery.audit.append("access.decision", "raj", {"door": "lab", "claim": "raj", "identity": "raj",
                                                        "face_image": "c2VhbGVkIHBuZw==", "granted": True})
        gallery.delete("raj")
        with gallery.repository.store.read() as session:
            rows = session.execute(text("SELECT subject, details FROM audit_log")).all()
        assert rows and not any("raj" in (subject or "") or "raj" in details for subject, details in rows)
        pseudonym = gallery.audit.pseudonym_of("raj")
        mine = gallery.audit.entries(subject="raj")  # the key holder can still find them
        assert [e.event for e in mine] == ["enrol", "access.decision", "delete"]
        assert {e.subject for e in mine} == {pseudonym}
        decision = mine[1].details
        assert decision["door"] == "lab" and decision["granted"] is True  # not personal: kept
        assert decision["claim"] == pseudonym and decision["face_image"].startswith("pseudonym:")
        matches = [e.details["matches"] for e in gallery.audit.entries(event="identify")]
        assert [pseudonym] in matches
        assert [e.subject for e in gallery.audit.entries(subject="amy")] == ["amy"]  # others untouched
        report = gallery.audit.verify()
        assert report.ok, report.problems
        _sql(gallery, "UPDATE audit_log SET subject = :s WHERE event = 'delete'", s=gallery.audit.pseudonym_of("amy"))
        assert not gallery.audit.verify().ok  # a pseudonym swapped for another one is an edit


# ---------------------------------------------------------------- upgrade of a format-1 gallery


def test_format_1_gallery_is_resealed_on_first_open_and_erasure_works(tmp_path, monkeypatch):
    db = tmp_path / "old.db"
    shutil.copy(OLD_GALLERY, db)
    monkeypatch.setenv("FACELENS_KEY", OLD_GALLERY_KEY)
    with sqlite3.connect(db) as con:
        old_head = json.loads(con.execute("SELECT value FROM facelens_meta WHERE key = ?", (HEAD_KEY,)).fetchone()[0])
    assert "format" not in old_head and old_head["seq"] == 2
    with Gallery(db) as gallery:
        head = _head(gallery)
        assert head["format"] == 2 and head["seq"] == 2 and head["hash"] != old_head["hash"]  # re-chained
        assert gallery.audit.verify().ok
        gallery.delete("alpha")
        assert gallery.audit.verify().ok and gallery.audit.entries()[0].subject.startswith("pseudonym:")


def test_tampered_format_1_gallery_is_not_laundered_by_the_upgrade(tmp_path, monkeypatch, rng):
    db = tmp_path / "old.db"
    shutil.copy(OLD_GALLERY, db)
    monkeypatch.setenv("FACELENS_KEY", OLD_GALLERY_KEY)
    with sqlite3.connect(db) as con:
        con.execute("DELETE FROM audit_log WHERE seq = 2")  # truncated before the upgrade ran
    with Gallery(db) as gallery:
        assert "format" not in _head(gallery)  # left as it was
        assert not gallery.audit.verify().ok
        gallery.audit.append("test.after", None, {})
        assert _head(gallery)["format"] == 2 and not gallery.audit.verify().ok


# ---------------------------------------------------------------- files written 0600


def test_export_is_written_0600_and_never_through_a_symlink(tmp_path, capsys):
    db = str(tmp_path / "g.db")
    assert _cli(capsys, "gallery", "enrol", "penny", str(DATA / "penny1.png"), "--db", db)[0] == 0
    out = tmp_path / "penny.json"
    out.write_text("old, world-readable\n")
    out.chmod(0o644)
    code, _, err = _cli(capsys, "gallery", "export", "penny", "--db", db, "--out", str(out))
    assert code == 0 and "0600" in err
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert len(json.loads(out.read_text())["templates"][0]["embedding"]) == 192
    target = tmp_path / "elsewhere.json"
    link = tmp_path / "link.json"
    link.symlink_to(target)
    code, _, err = _cli(capsys, "gallery", "export", "penny", "--db", db, "--out", str(link))
    assert code == 2 and "symbolic link" in err and not target.exists()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no temp file left


def test_a_new_key_file_is_0600(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("FACELENS_KEY")
    os.umask(0o022)
    code, _, err = _cli(capsys, "gallery", "enrol", "amy", str(DATA / "amy1.png"), "--db", str(tmp_path / "g.db"))
    assert code == 0 and "created a new gallery encryption key" in err
    key_file = Path(os.environ["XDG_CONFIG_HOME"]) / "facelens" / "gallery.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


# ---------------------------------------------------------------- consent


def test_consent_already_expired_or_not_a_consent_is_refused(tmp_path, capsys, fixture_embeddings):
    past = datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(minutes=1)
    with Gallery(tmp_path / "g.db") as gallery:
        with pytest.raises(BadInputError, match="in the past"):
            gallery.enrol("amy", embeddings=fixture_embeddings["amy1"], consent=Consent(by="amy", expires=past))
        with pytest.raises(BadInputError, match="Consent record"):
            gallery.enrol("amy", embeddings=fixture_embeddings["amy1"], consent="yes")
        with pytest.raises(BadInputError):
            Consent(by="amy", expires="2030-01-01")
        aware = Consent(by="amy", expires=datetime(2099, 1, 1, 12, tzinfo=timezone(timedelta(hours=2))))
        assert aware.expires == datetime(2099, 1, 1, 10)  # stored as naive UTC
        assert "amy" not in gallery and gallery.audit.count() == 0
    code, _, err = _cli(capsys, "gallery", "enrol", "amy", str(DATA / "amy1.png"), "--db", str(tmp_path / "g.db"),
                        "--consent-by", "amy", "--consent-expires", "2020-01-01")
    assert code == 2 and "in the past" in err and len(err.strip().splitlines()) == 1
