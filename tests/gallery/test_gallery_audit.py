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


def test_a_name_enrolled_again_after_erasure_never_gets_the_erased_persons_entries(db_url, fixture_embeddings):
    with Gallery(db_url) as gallery:
        gallery.enrol("raj", embeddings=fixture_embeddings["raj1"])
        gallery.audit.append("door.open", "raj", {"door": "A", "identity": "raj", "granted": True})
        gallery.delete("raj")
        erased = gallery.audit.entries(subject="raj")  # nobody is called raj now: the key holder finds them
        assert [e.event for e in erased] == ["enrol", "door.open", "delete"]
        assert {e.subject for e in erased} == {gallery.audit.pseudonym_of("raj")}

        gallery.enrol("raj", embeddings=fixture_embeddings["amy1"])  # another person, the same name
        export = gallery.export("raj")
        assert [e["event"] for e in export["audit"]] == ["enrol", "export"]
        assert all(e["subject"] == "raj" for e in export["audit"])
        assert [e.event for e in gallery.audit.entries(subject="raj")] == ["enrol", "export"]
        # the erased person's entries are still there, under their pseudonym, and the chain holds
        assert len(gallery.audit.entries(subject=gallery.audit.pseudonym_of("raj"))) == 3
        assert gallery.audit.verify().ok

        gallery.delete("raj")  # both erased: the key holder finds both again, nothing in clear
        assert len(gallery.audit.entries(subject="raj")) == 3 + 3
        assert all(e.subject.startswith("pseudonym:") for e in gallery.audit.entries(subject="raj"))
        assert gallery.audit.verify().ok


def test_the_actor_is_written_into_every_entry_of_its_change(db_url, fixture_embeddings):
    from facelens.gallery.audit import acting_as

    with Gallery(db_url) as gallery:
        with acting_as({"key": "ops-laptop", "role": "operator"}):
            gallery.enrol("amy", embeddings=fixture_embeddings["amy1"])
            gallery.export("amy")
            with gallery.change() as change:
                change.audit("camera.start", None, {"camera": "door"})
        gallery.enrol("raj", embeddings=fixture_embeddings["raj1"])  # outside: no actor
        entries = gallery.audit.entries()
        assert [e.event for e in entries] == ["enrol", "export", "camera.start", "enrol"]
        assert [e.details.get("actor") for e in entries] == [{"key": "ops-laptop", "role": "operator"}] * 3 + [None]
        assert gallery.audit.verify().ok
        _sql(gallery, "UPDATE audit_log SET details = replace(details, 'ops-laptop', 'someone') WHERE seq = 1")
        assert not gallery.audit.verify().ok  # the actor is covered by the chain
