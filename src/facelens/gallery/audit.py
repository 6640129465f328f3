"""Append-only, hash-chained audit log kept in the gallery database.

Each entry stores ``prev_hash`` (the previous entry's hash) and its own ``hash`` =
HMAC-SHA256(audit key, prev_hash | seq | at | event | subject | details). The audit key is
derived from the gallery encryption key (HKDF), so somebody with write access to the database
but without the key cannot re-compute a consistent chain after editing it. The newest
(seq, hash) is also kept, sealed with the same key, in the meta table: that catches the one
change a chain alone cannot, cutting entries off the end.

``verify()`` walks the whole chain and reports every edited, inserted, reordered or removed
entry it can see. Other subsystems (access control) append through the same object:
``gallery.audit.append("door.open", "alice", {"door": "A"})``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .crypto import Cipher
from .store import AuditRow, Store, sql_now_text

GENESIS = "0" * 64
HEAD_KEY = "audit_head"


def canonical(details: dict[str, Any]) -> str:
    return json.dumps(details, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: str
    event: str
    subject: str | None
    details: dict[str, Any]
    hash: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "at": self.at,
            "event": self.event,
            "subject": self.subject,
            "details": self.details,
            "hash": self.hash,
        }


@dataclass
class AuditReport:
    ok: bool
    entries: int
    problems: list[str] = field(default_factory=list)
    first_bad_seq: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "entries": self.entries,
            "problems": self.problems,
            "first_bad_seq": self.first_bad_seq,
        }


class AuditLog:
    def __init__(self, store: Store, cipher: Cipher):
        self._store = store
        self._cipher = cipher

    def _entry_hash(self, prev: str, seq: int, at: str, event: str, subject: str | None, details: str) -> str:
        payload = "\x1f".join((prev, str(seq), at, event, subject if subject is not None else "\x00", details))
        return self._cipher.mac(payload.encode("utf-8"))

    def _head_seal(self, seq: int, digest: str) -> str:
        return self._cipher.mac(f"head\x1f{seq}\x1f{digest}".encode())

    def append(
        self,
        event: str,
        subject: str | None = None,
        details: dict[str, Any] | None = None,
        *,
        session: Session | None = None,
    ) -> AuditEntry:
        """Add one entry. Pass ``session`` to make it part of the caller's transaction."""
        if not event or not isinstance(event, str):
            raise ValueError("audit event must be a non-empty string")
        if session is None:
            with self._store.write() as own:
                return self._append(own, event, subject, details or {})
        return self._append(session, event, subject, details or {})

    def _append(self, session: Session, event: str, subject: str | None, details: dict[str, Any]) -> AuditEntry:
        return self.append_many([(event, subject, details)], session=session)[0]

    def append_many(self, items: list[tuple[str, str | None, dict[str, Any]]], *,
                    session: Session) -> list[AuditEntry]:
        """Several entries in the caller's transaction (bulk enrolment: one head update)."""
        head_text = self._store.get_meta(session, HEAD_KEY, lock=True)  # orders concurrent writers
        if head_text:
            head = json.loads(head_text)
            seq, prev = int(head["seq"]), head["hash"]
        else:
            seq, prev = 0, GENESIS
        at = sql_now_text()
        rows, made = [], []
        for event, subject, details in items:
            if not event or not isinstance(event, str):
                raise ValueError("audit event must be a non-empty string")
            seq += 1
            body = canonical(details or {})
            digest = self._entry_hash(prev, seq, at, event, subject, body)
            rows.append((seq, at, event, subject, body, prev, digest))
            made.append(AuditEntry(seq, at, event, subject, dict(details or {}), digest))
            prev = digest
        if rows:
            self._store.bulk_insert(session, "audit_log",
                                    ["seq", "at", "event", "subject", "details", "prev_hash", "hash"], rows)
            self._store.set_meta(
                session, HEAD_KEY, json.dumps({"seq": seq, "hash": prev, "seal": self._head_seal(seq, prev)})
            )
        return made

    def entries(self, subject: str | None = None, event: str | None = None) -> list[AuditEntry]:
        with self._store.read() as session:
            query = select(AuditRow).order_by(AuditRow.seq)
            if subject is not None:
                query = query.where(AuditRow.subject == subject)
            if event is not None:
                query = query.where(AuditRow.event == event)
            return [
                AuditEntry(r.seq, r.at, r.event, r.subject, json.loads(r.details), r.hash)
                for r in session.scalars(query)
            ]

    def count(self) -> int:
        with self._store.read() as session:
            return session.scalar(select(func.count()).select_from(AuditRow)) or 0

    def _rows(self, session: Session, batch: int = 5000) -> Iterator[AuditRow]:
        last = None
        while True:
            query = select(AuditRow).order_by(AuditRow.seq).limit(batch)
            if last is not None:
                query = query.where(AuditRow.seq > last)
            rows = list(session.scalars(query))
            if not rows:
                return
            yield from rows
            last = rows[-1].seq

    def verify(self) -> AuditReport:
        problems: list[str] = []
        first_bad: int | None = None

        def bad(seq: int, message: str) -> None:
            nonlocal first_bad
            problems.append(message)
            if first_bad is None:
                first_bad = seq

        count = 0
        prev_hash, expected_seq = GENESIS, 1
        with self._store.read() as session:
            head_text = self._store.get_meta(session, HEAD_KEY)
            for row in self._rows(session):
                count += 1
                if row.seq != expected_seq:
                    kind = "removed" if row.seq > expected_seq else "duplicated/reordered"
                    bad(row.seq, f"entry {row.seq}: expected seq {expected_seq} (entries {kind})")
                if row.prev_hash != prev_hash:
                    bad(row.seq, f"entry {row.seq}: chain broken (previous hash does not match: entry removed or inserted before it)")
                recomputed = self._entry_hash(row.prev_hash, row.seq, row.at, row.event, row.subject, row.details)
                if recomputed != row.hash:
                    bad(row.seq, f"entry {row.seq}: content does not match its hash (entry edited or forged)")
                prev_hash, expected_seq = row.hash, row.seq + 1
        if head_text:
            head = json.loads(head_text)
            if head.get("seal") != self._head_seal(int(head["seq"]), head["hash"]):
                bad(int(head["seq"]), "the sealed head of the log was altered")
            elif int(head["seq"]) != expected_seq - 1 or head["hash"] != prev_hash:
                bad(
                    int(head["seq"]),
                    f"log ends at entry {expected_seq - 1} but the sealed head says {head['seq']} (entries removed from or added to the end)",
                )
        elif count:
            bad(1, "log has entries but no sealed head (head removed)")
        return AuditReport(ok=not problems, entries=count, problems=problems, first_bad_seq=first_bad)
