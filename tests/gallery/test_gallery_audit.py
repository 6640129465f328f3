"""The audit chain catches edited, inserted, removed and truncated entries (both back ends)."""

from __future__ import annotations

import numpy as np
from sqlalchemy import text

from facelens.gallery import Gallery


def _filled(db_url, fixture_embeddings) -> Gallery:
    gallery = Gallery(db_url)
    gallery.enrol("amy", embeddings=fixture_embeddings["amy1"])
    gallery.enrol("raj", embeddings=fixture_embeddings["raj1"])
    gallery.identify(fixture_embeddings["amy2"])
    gallery.export("amy")
    gallery.delete("raj")
    gallery.audit.append("door.open", "amy", {"door": "A", "granted": True})
    return gallery


def _sql(gallery: Gallery, statement: str, **params) -> None:
    with gallery.repository.store.engine.begin() as conn:
        conn.execute(text(statement), params)


def test_every_operation_is_logged_and_verifies(db_url, fixture_embeddings):
    with _filled(db_url, fixture_embeddings) as gallery:
        events = [e.event for e in gallery.audit.entries()]
        assert events == ["enrol", "enrol", "identify", "export", "delete", "door.open"]
        report = gallery.audit.verify()
        assert report.ok and report.entries == 6 and report.problems == []


def test_edited_entry_is_detected(db_url, fixture_embeddings):
    with _filled(db_url, fixture_embeddings) as gallery:
        _sql(gallery, "UPDATE audit_log SET subject = 'someone-else' WHERE seq = 2")
        report = gallery.audit.verify()
        assert not report.ok and report.first_bad_seq == 2 and "edited" in report.problems[0]


def test_edit_with_recomputed_plain_hash_is_detected(db_url, fixture_embeddings):
    import hashlib

    with _filled(db_url, fixture_embeddings) as gallery:
        forged = hashlib.sha256(b"forged").hexdigest()  # no key: cannot make a valid HMAC
        _sql(gallery, "UPDATE audit_log SET details = '{}', hash = :h WHERE seq = 3", h=forged)
        _sql(gallery, "UPDATE audit_log SET prev_hash = :h WHERE seq = 4", h=forged)
        report = gallery.audit.verify()
        assert not report.ok and report.first_bad_seq == 3


def test_removed_entry_is_detected(db_url, fixture_embeddings):
    with _filled(db_url, fixture_embeddings) as gallery:
        _sql(gallery, "DELETE FROM audit_log WHERE seq = 3")
        report = gallery.audit.verify()
        assert not report.ok and report.first_bad_seq == 4 and any("removed" in p for p in report.problems)


def test_inserted_entry_is_detected(db_url, fixture_embeddings):
    with _filled(db_url, fixture_embeddings) as gallery:
        _sql(gallery, "UPDATE audit_log SET seq = seq + 100 WHERE seq >= 4")
        _sql(gallery, "UPDATE audit_log SET seq = seq - 99 WHERE seq >= 100")
        rows = gallery.audit.entries()
        _sql(gallery, "INSERT INTO audit_log (seq, at, event, subject, details, prev_hash, hash) "
                      "VALUES (4, :at, 'delete', 'amy', '{}', :prev, :h)",
             at=rows[2].at, prev=rows[2].hash, h="0" * 64)
        report = gallery.audit.verify()
        assert not report.ok and report.first_bad_seq == 4


def test_truncated_tail_is_detected(db_url, fixture_embeddings):
    with _filled(db_url, fixture_embeddings) as gallery:
        _sql(gallery, "DELETE FROM audit_log WHERE seq >= 5")
        report = gallery.audit.verify()
        assert not report.ok and any("end" in p for p in report.problems)


def test_appends_from_two_galleries_keep_one_chain(db_url, fixture_embeddings):
    with Gallery(db_url) as first, Gallery(db_url) as second:
        for i in range(5):
            first.audit.append("a", str(i), {})
            second.audit.append("b", str(i), {"n": np.int64(i).item()})
        assert first.audit.verify().ok and second.audit.count() == 10
