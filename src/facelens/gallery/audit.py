"""Append-only, hash-chained audit log kept in the gallery database, sealed with a keyed MAC.

Keys: both come from the gallery's template key by HKDF (crypto.Cipher), so the audit needs no
key file of its own and no key ever sits in the database. One key makes the chain and the seal
(HMAC-SHA256), the other the pseudonyms (keyed BLAKE2b-128 of personal values).

Chain (format 2): each entry stores ``prev_hash`` and its own ``hash`` =
HMAC(prev_hash | seq | at | event | c(subject) | c(details)), where c() replaces every string
— the subject and each string value inside details — by its pseudonym. The chain therefore
covers *keyed hashes* of names, never the names, and erasure can swap a name for
``pseudonym:<hex>`` in place without breaking it (see ``pseudonymise``).

Seal: the meta row ``audit_head`` holds the log's length (``seq`` of the last entry; entries are
numbered 1..seq without gaps) and its head hash, MAC'ed together with the gallery id. Each
append updates it in the same transaction. An attacker who can write the database but has no
key cannot produce a seal, so ``verify`` notices:
  - an edited, inserted, reordered or removed entry (chain),
  - entries cut off the end, or the whole log emptied (length and head against the seal),
  - an emptied log whose seal was deleted too, while the gallery holds identities or templates,
  - a seal copied from another gallery (it is bound to the gallery id).
A writer that finds the seal missing or altered records that in every later seal
(``broken``), so appending new entries never hides earlier tampering.

Not detectable from inside the database: a gallery reset to entirely empty (no identities,
no log, no seal) looks like a new one, and a full rollback of the database file to an older
copy looks like that older copy.

Upgrade of an existing gallery (format 1: the chain covered the names themselves): on the
first open with the key, if the old chain and its old seal verify, every entry is re-chained
in format 2 in one transaction; if they do not, nothing is rewritten (that would launder the
tampering) and ``verify`` keeps reporting it, while new entries are written in format 2.
A gallery whose log never had an entry gets its first seal on that open.

Who did it: a caller that acts for someone (the server, for an API key) wraps its work in
``acting_as({"key": name, "role": role})``; every entry written meanwhile, in whatever
transaction, carries that as ``details["actor"]``: the library's own entries name their author.

Lookups by name after erasure: ``entries(subject=name)`` also returns the pseudonymised entries
of an erased ``name`` — but only while nobody of that name is enrolled, so a person enrolled
later under the same name never sees (or exports) the erased person's entries.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, or_, select, text
from sqlalchemy.orm import Session

from ..errors import BadInputError, StorageError
from .crypto import Cipher
from .store import AuditRow, IdentityRow, Store, TemplateRow, UnknownRow, sql_now_text

GENESIS = "0" * 64
HEAD_KEY = "audit_head"
FORMAT = 2
PSEUDONYM_PREFIX = "pseudonym:"
_PSEUDONYM = re.compile(r"pseudonym:[0-9a-f]{32}")
PERSONAL_KEYS = frozenset({"claim", "identity", "face_image", "source", "sources", "name", "names"})
"""Details fields that describe the subject of an entry: pseudonymised too when that subject is
erased (values equal to the erased name are pseudonymised wherever they appear)."""


_ACTOR: ContextVar[dict[str, Any] | None] = ContextVar("facelens_audit_actor", default=None)


@contextlib.contextmanager
def acting_as(actor: dict[str, Any] | None) -> Iterator[None]:
    """Entries appended inside (this thread or task, and what copies its context) record
    ``actor`` (e.g. ``{"key": "ops-laptop", "role": "operator"}``) as ``details["actor"]``."""
    token = _ACTOR.set(dict(actor) if actor else None)
    try:
        yield
    finally:
        _ACTOR.reset(token)


def set_actor(actor: dict[str, Any] | None) -> None:
    """``acting_as`` for the rest of the current context (a request's task: it ends with it)."""
    _ACTOR.set(dict(actor) if actor else None)


def canonical(details: dict[str, Any]) -> str:
    return json.dumps(details, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def is_pseudonym(value: Any) -> bool:
    return isinstance(value, str) and _PSEUDONYM.fullmatch(value) is not None


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


@dataclass(frozen=True)
class _Head:
    """The sealed head as stored. ``v2_from``: first seq written in format 2 (older entries
    are format 1). ``broken``: tampering a writer found earlier, or None."""

    seq: int
    hash: str
    format: int = FORMAT
    v2_from: int = 1
    broken: str | None = None
    seal: str = ""


class AuditLog:
    def __init__(self, store: Store, cipher: Cipher):
        self._store = store
        self._cipher = cipher
        self._known: dict[str, str] = {}  # string → keyed hash, for strings that repeat
        with store.read() as session:
            self._gallery_id = store.get_meta(session, "gallery_id") or ""
            head = self._parse_head(store.get_meta(session, HEAD_KEY))
        if head is None or head.format != FORMAT:
            self._upgrade()

    # ------------------------------------------------------------------ keyed hashes

    def pseudonym_of(self, value: str) -> str:
        """What erasure writes in place of ``value``: ``pseudonym:<keyed hash>``."""
        return value if is_pseudonym(value) else PSEUDONYM_PREFIX + self._hash_of(value)

    def _hash_of(self, value: str) -> str:
        known = self._known.get(value)
        if known is None:
            if len(self._known) >= 4096:  # bounded: model names and doors repeat, names mostly do not
                self._known.clear()
            known = self._known[value] = (value[len(PSEUDONYM_PREFIX):] if is_pseudonym(value)
                                          else self._cipher.pseudonym(value))
        return known

    def _commit(self, value: Any) -> Any:
        """The value as the chain sees it: every string replaced by its keyed hash."""
        if isinstance(value, str):
            return self._hash_of(value)
        if isinstance(value, list):
            return [self._commit(item) for item in value]
        if isinstance(value, dict):
            return {key: self._commit(item) for key, item in value.items()}
        return value

    def _entry_hash(self, prev: str, seq: int, at: str, event: str, subject: str | None, details: str) -> str:
        subject_part = "\x00" if subject is None else self._commit(subject)
        details_part = canonical(self._commit(json.loads(details)))
        payload = "\x1f".join(("v2", prev, str(seq), at, event, subject_part, details_part))
        return self._cipher.mac(payload.encode("utf-8", "surrogatepass"))

    def _entry_hash_v1(self, prev: str, seq: int, at: str, event: str, subject: str | None, details: str) -> str:
        payload = "\x1f".join((prev, str(seq), at, event, subject if subject is not None else "\x00", details))
        return self._cipher.mac(payload.encode("utf-8", "surrogatepass"))

    def _row_hash_ok(self, row: AuditRow, v2_from: int) -> bool:
        args = (row.prev_hash, row.seq, row.at, row.event, row.subject, row.details)
        try:
            if self._entry_hash(*args) == row.hash:
                return True
        except ValueError:  # details that are not JSON: edited
            return False
        return row.seq < v2_from and self._entry_hash_v1(*args) == row.hash

    # ------------------------------------------------------------------ the sealed head

    def _seal_of(self, head: _Head) -> str:
        return self._cipher.mac(
            f"head-v2\x1f{self._gallery_id}\x1f{head.seq}\x1f{head.hash}\x1f{head.v2_from}\x1f{head.broken or ''}".encode()
        )

    def _seal_ok(self, head: _Head) -> bool:
        if head.format == FORMAT:
            return head.seal == self._seal_of(head)
        return head.seal == self._cipher.mac(f"head\x1f{head.seq}\x1f{head.hash}".encode())  # format 1

    @staticmethod
    def _parse_head(head_text: str | None) -> _Head | None:
        if not head_text:
            return None
        try:
            raw = json.loads(head_text)
            return _Head(seq=int(raw["seq"]), hash=str(raw["hash"]), format=int(raw.get("format", 1)),
                         v2_from=int(raw.get("v2_from", 1 if raw.get("format") == FORMAT else 1 << 62)),
                         broken=raw.get("broken"), seal=str(raw.get("seal", "")))
        except (ValueError, KeyError, TypeError, AttributeError):
            return _Head(seq=-1, hash="", format=-1, seal="")  # unreadable: its seal cannot match

    def _write_head(self, session: Session, seq: int, digest: str, v2_from: int, broken: str | None) -> None:
        head = _Head(seq, digest, FORMAT, v2_from, broken)
        body = {"format": FORMAT, "seq": seq, "hash": digest, "v2_from": v2_from, "broken": broken,
                "seal": self._seal_of(head)}
        self._store.set_meta(session, HEAD_KEY, json.dumps(body))

    @staticmethod
    def _gallery_holdings(session: Session) -> dict[str, int]:
        counts = {}
        for label, table in (("identities", IdentityRow), ("templates", TemplateRow), ("unknown faces", UnknownRow)):
            counts[label] = session.scalar(select(func.count()).select_from(table)) or 0
        return {label: n for label, n in counts.items() if n}

    @staticmethod
    def _last_row(session: Session) -> tuple[int, str] | None:
        row = session.execute(select(AuditRow.seq, AuditRow.hash).order_by(AuditRow.seq.desc()).limit(1)).first()
        return (int(row.seq), row.hash) if row else None

    def _upgrade(self) -> None:
        """Seal a log that has none yet, or re-chain an intact format-1 log (module docstring).
        A read-only database is left as it is: verify reads both formats."""
        try:
            with self._store.write() as session:
                head = self._parse_head(self._store.get_meta(session, HEAD_KEY, lock=True))
                if head is not None and head.format == FORMAT:
                    return  # another process did it meanwhile
                if head is None:
                    if self._last_row(session) is None and not self._gallery_holdings(session):
                        self._write_head(session, 0, GENESIS, 1, None)  # a new (or never used) log
                    return  # entries or data without a seal: verify reports it, append records it
                if head.format == 1 and self._seal_ok(head):
                    self._rechain_v1(session, head)
        except StorageError:
            return

    def _rechain_v1(self, session: Session, head: _Head) -> None:
        expected, prev = 1, GENESIS
        for row in self._rows(session):
            intact = (row.seq == expected and row.prev_hash == prev
                      and self._entry_hash_v1(row.prev_hash, row.seq, row.at, row.event, row.subject, row.details) == row.hash)
            if not intact:
                return  # a broken format-1 log stays as it is, so verify can still show where
            expected, prev = row.seq + 1, row.hash
        if (head.seq, head.hash) != (expected - 1, prev):
            return
        updates, prev = [], GENESIS
        for row in self._rows(session):
            digest = self._entry_hash(prev, row.seq, row.at, row.event, row.subject, row.details)
            updates.append({"seq": row.seq, "prev": prev, "hash": digest})
            prev = digest
        for start in range(0, len(updates), 5000):
            session.execute(text("UPDATE audit_log SET prev_hash = :prev, hash = :hash WHERE seq = :seq"),
                            updates[start:start + 5000])
        self._write_head(session, head.seq, prev, 1, None)

    def _continue_from(self, session: Session) -> tuple[int, str, int, str | None]:
        """(seq, hash, v2_from, broken) the next entry builds on. A missing or altered seal is
        tampering: the next seal says so for good (``broken``), and the chain continues from
        the last entry actually present."""
        head = self._parse_head(self._store.get_meta(session, HEAD_KEY, lock=True))  # orders concurrent writers
        if head is not None and self._seal_ok(head):
            v2_from = head.v2_from if head.format == FORMAT else head.seq + 1
            return head.seq, head.hash, v2_from, head.broken
        last = self._last_row(session)
        seq, prev = last if last else (0, GENESIS)
        if head is None:
            if last is None and not self._gallery_holdings(session):
                return 0, GENESIS, 1, None
            broken = f"before entry {seq + 1} was written the log's seal was missing (log emptied or seal deleted)"
        else:
            broken = f"before entry {seq + 1} was written the log's seal had been altered"
        return seq, prev, seq + 1, broken

    # ------------------------------------------------------------------ writing

    def append(
        self,
        event: str,
        subject: str | None = None,
        details: dict[str, Any] | None = None,
        *,
        session: Session | None = None,
    ) -> AuditEntry:
        """Add one entry. Pass ``session`` to make it part of the caller's transaction."""
        if session is None:
            with self._store.write() as own:
                return self.append_many([(event, subject, details or {})], session=own)[0]
        return self.append_many([(event, subject, details or {})], session=session)[0]

    def append_many(self, items: list[tuple[str, str | None, dict[str, Any]]], *,
                    session: Session) -> list[AuditEntry]:
        """Several entries in the caller's transaction (bulk enrolment: one seal update)."""
        for event, subject, details in items:
            if not event or not isinstance(event, str):
                raise BadInputError("audit event must be a non-empty string")
            if subject is not None and not isinstance(subject, str):
                raise BadInputError(f"audit subject must be a string or None, not {type(subject).__name__}")
            if details is not None and not isinstance(details, dict):
                raise BadInputError(f"audit details must be a dict, not {type(details).__name__}")
        if not items:
            return []
        actor = _ACTOR.get()
        if actor:
            items = [(event, subject, details if "actor" in (details or {}) else {**(details or {}), "actor": actor})
                     for event, subject, details in items]
        seq, prev, v2_from, broken = self._continue_from(session)
        at = sql_now_text()
        rows, made = [], []
        for event, subject, details in items:
            seq += 1
            body = canonical(details or {})
            digest = self._entry_hash(prev, seq, at, event, subject, body)
            rows.append((seq, at, event, subject, body, prev, digest))
            made.append(AuditEntry(seq, at, event, subject, dict(details or {}), digest))
            prev = digest
        self._store.bulk_insert(session, "audit_log",
                                ["seq", "at", "event", "subject", "details", "prev_hash", "hash"], rows)
        self._write_head(session, seq, prev, v2_from, broken)
        return made

    def pseudonymise(self, name: str, *, session: Session) -> int:
        """Erasure: replace ``name`` by its pseudonym in every entry, in the caller's transaction.

        In entries about ``name`` the subject and the PERSONAL_KEYS fields of details (claim,
        sources, face image …) become pseudonyms; elsewhere, values equal to ``name`` (e.g. in an
        identification's matches) do. The chain covers pseudonyms, so it still verifies.
        Returns the number of entries rewritten."""
        needle = json.dumps(name, ensure_ascii=False)  # how the name appears inside stored details
        query = select(AuditRow).where(or_(AuditRow.subject == name,
                                           AuditRow.details.contains(needle, autoescape=True)))
        changed = 0
        for row in session.scalars(query):
            about = row.subject == name
            try:
                details = self._redacted(json.loads(row.details), name, about, None)
            except ValueError:
                details = None  # not JSON (edited): left for verify to report
            new_details = canonical(details) if details is not None else row.details
            new_subject = self.pseudonym_of(name) if about else row.subject
            if (new_subject, new_details) != (row.subject, row.details):
                row.subject, row.details = new_subject, new_details
                changed += 1
        session.flush()
        return changed

    def _redacted(self, value: Any, name: str, about: bool, key: str | None) -> Any:
        if isinstance(value, str):
            personal = about and key in PERSONAL_KEYS
            return self.pseudonym_of(value) if value == name or personal else value
        if isinstance(value, list):
            return [self._redacted(item, name, about, key) for item in value]
        if isinstance(value, dict):
            return {k: self._redacted(v, name, about, k) for k, v in value.items()}
        return value

    # ------------------------------------------------------------------ reading

    def entries(self, subject: str | None = None, event: str | None = None) -> list[AuditEntry]:
        """Entries in order. ``subject``: about this name, including the entries of an erased
        ``subject`` (found by its pseudonym) unless someone of that name is enrolled now: an
        erasure pseudonymises every entry about the name, so the entries naming it in clear are
        the current person's, and the erased person's are never theirs (module docstring)."""
        with self._store.read() as session:
            query = select(AuditRow).order_by(AuditRow.seq)
            if subject is not None:
                names = [subject]
                enrolled = session.scalar(select(func.count()).select_from(IdentityRow)
                                          .where(IdentityRow.name == subject))
                if not enrolled and not is_pseudonym(subject):
                    names.append(self.pseudonym_of(subject))
                query = query.where(AuditRow.subject.in_(names))
            if event is not None:
                query = query.where(AuditRow.event == event)
            return [
                AuditEntry(r.seq, r.at, r.event, r.subject, _details(r.details), r.hash)
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
        """Walk the chain and check it against the seal; every problem found, in order."""
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
            head = self._parse_head(self._store.get_meta(session, HEAD_KEY))
            v2_from = head.v2_from if head is not None and self._seal_ok(head) else 1 << 62
            for row in self._rows(session):
                count += 1
                if row.seq != expected_seq:
                    kind = "removed" if row.seq > expected_seq else "duplicated/reordered"
                    bad(row.seq, f"entry {row.seq}: expected seq {expected_seq} (entries {kind})")
                if row.prev_hash != prev_hash:
                    bad(row.seq, f"entry {row.seq}: chain broken (previous hash does not match: entry removed or inserted before it)")
                if not self._row_hash_ok(row, v2_from):
                    bad(row.seq, f"entry {row.seq}: content does not match its hash (entry edited or forged)")
                prev_hash, expected_seq = row.hash, row.seq + 1
            holdings = self._gallery_holdings(session) if head is None or count == 0 else {}
        last_seq = expected_seq - 1
        held = ", ".join(f"{n} {label}" for label, n in holdings.items())
        if head is None:
            if count or holdings:
                bad(1, f"the log's seal is missing while the log has {count} entries and the gallery holds "
                       f"{held or 'no data'} (log emptied or seal deleted)")
        elif not self._seal_ok(head):
            bad(max(head.seq, 1), "the log's seal was altered (or copied from another gallery)")
        else:
            if head.broken:
                bad(max(head.seq, 1), f"tampering found earlier: {head.broken}")
            if head.seq != last_seq or head.hash != prev_hash or head.seq != count:
                bad(min(last_seq + 1, max(head.seq, 1)),
                    f"log ends at entry {last_seq} ({count} entries) but the seal says {head.seq} "
                    "(entries removed from or added to the end)")
            elif count == 0 and holdings:
                bad(1, f"the log is empty but the gallery holds {held} (every enrolment is logged)")
        return AuditReport(ok=not problems, entries=count, problems=problems, first_bad_seq=first_bad)


def _details(stored: str) -> dict[str, Any]:
    try:
        value = json.loads(stored)
    except ValueError:
        return {"unreadable": stored[:200]}
    return value if isinstance(value, dict) else {"value": value}
