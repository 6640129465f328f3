"""The gallery's repository: the only code that touches the database, the cipher and the audit log.

Every change is one database transaction that also appends its audit entry (and any entries the
caller adds, ``also_audit``), so either all of it happens or none. A change to templates bumps
the model's generation counter in the same transaction and returns an ``IndexChange`` so the
in-memory index (index_cache.py) can follow. Vectors, face crops, unknown faces, access images
and index files are encrypted here, each bound by associated data (AAD) to where it belongs.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import delete as sql_delete
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..errors import BadInputError, ConflictError, KeyMaterialError, NotFoundError
from . import crypto
from . import index as index_file
from .audit import AuditEntry, AuditLog
from .queries import GalleryQueries, image_aad, template_aad, unknown_aad
from .records import AuditItem, Consent, EnrolRecord, VectorBatch, model_version
from .store import IdentityRow, Store, TemplateRow, UnknownRow, utcnow

KEY_CHECK = b"facelens-key-check-v1"
IDENTITY_COLUMNS = ["id", "uid", "name", "info", "consent_by", "consent_at", "consent_purpose", "consent_expires",
                    "created_at"]
TEMPLATE_COLUMNS = ["id", "identity_id", "model", "model_version", "dim", "vector", "quality", "quality_detail",
                    "source", "created_at", "image"]


_image_aad = image_aad  # one definition, in queries.py, which reads the images back


def _context_aad(context: str) -> bytes:
    return f"facelens-{context}".encode()


@dataclass
class IndexChange:
    """What a committed change did to each model's templates: (before, after) generation, the
    templates added (ids, vectors, owners and the owners' names) and the template ids removed."""

    generations: dict[str, tuple[int, int]]
    added: dict[str, VectorBatch] = field(default_factory=dict)
    removed: dict[str, list[int]] = field(default_factory=dict)


@dataclass
class Change:
    """An open write transaction handed to another subsystem (access control) for its own tables;
    ``audit`` appends entries inside the same transaction."""

    session: Session
    log: AuditLog

    def audit(self, event: str, subject: str | None = None, details: dict[str, Any] | None = None) -> AuditEntry:
        return self.log.append(event, subject, details, session=self.session)


class GalleryRepository(GalleryQueries):
    """Store + cipher + audit log of one gallery database: opening, sealing and every write."""

    def __init__(self, db: str | Path | None = None, *, key: bytes | str | None = None, create_key: bool = False):
        self.store = Store(db)
        try:
            self.cipher = self._open_key(key, create_key)
        except BaseException:
            self.store.dispose()
            raise
        self.audit = AuditLog(self.store, self.cipher)

    def _open_key(self, key: bytes | str | None, create_key: bool) -> crypto.Cipher:
        with self.store.read() as session:
            check = self.store.get_meta(session, "key_check")
            self.gallery_id = self.store.get_meta(session, "gallery_id")
        if key is None:
            folder = (self.store.path.parent,) if self.store.path else ()
            raw = crypto.load_key(create=create_key and check is None, data_dirs=folder)
        elif isinstance(key, str):
            raw = crypto._decode(key, "key")
        else:
            raw = bytes(key)
        cipher = crypto.Cipher(raw)
        if check is None:
            with self.store.write() as session:
                if self.store.get_meta(session, "key_check", lock=True) is None:
                    self.store.set_meta(session, "key_check", cipher.encrypt(KEY_CHECK, b"key-check").hex())
                    return cipher
                check = self.store.get_meta(session, "key_check")
        try:
            ok = cipher.decrypt(bytes.fromhex(check), b"key-check") == KEY_CHECK
        except (ValueError, KeyMaterialError):
            ok = False
        if not ok:
            raise KeyMaterialError("the encryption key does not match this gallery (wrong FACELENS_KEY / key file)")
        return cipher

    @property
    def path(self) -> Path | None:
        return self.store.path

    def close(self) -> None:
        self.store.dispose()

    # ------------------------------------------------------------------ sealing

    def seal(self, data: bytes, context: str) -> bytes:
        """Encrypt another subsystem's data with the gallery key, bound to ``context``."""
        return self.cipher.encrypt(data, _context_aad(context))

    def unseal(self, blob: bytes, context: str) -> bytes:
        return self.cipher.decrypt(blob, _context_aad(context))

    def read_index_file(self, path: Path) -> tuple[Any, Any, dict] | None:
        return index_file.load(path, self.cipher)

    def write_index_file(self, path: Path, index: Any, names: Any, header: dict) -> None:
        index_file.save(path, index, names, header, self.cipher)

    # ------------------------------------------------------------------ transactions for other subsystems' tables

    @contextlib.contextmanager
    def reading(self) -> Iterator[Session]:
        with self.store.read() as session:
            yield session

    @contextlib.contextmanager
    def change(self) -> Iterator[Change]:
        with self.store.write() as session:
            yield Change(session, self.audit)

    # ------------------------------------------------------------------ writing identities

    def insert(self, prepared: Sequence[tuple[EnrolRecord, list[np.ndarray]]], *, add: bool, audit: bool,
               also_audit: Sequence[AuditItem] = ()) -> tuple[list[dict[str, Any]], IndexChange]:
        """Write checked records (new identities, or templates of existing ones with ``add``):
        one transaction, each table written with one ``executemany``."""
        models = sorted({t.model for r, _ in prepared for t in r.templates})
        try:
            with self.store.write() as session:
                generations = {m: self.store.bump_generation(session, m) for m in models}
                existing = self._existing(session, [r.name for r, _ in prepared], add)
                identities = self._insert_identities(session, [r for r, _ in prepared if r.name not in existing])
                identities.update({row.name: (row.id, row.uid) for row in existing.values()})
                results, added = self._insert_templates(session, prepared, identities, models)
                items = [("enrol" if record.name not in existing else "enrol.add", record.name,
                          {"templates": len(vectors), "models": sorted({t.model for t in record.templates}),
                           "sources": [t.source for t in record.templates][:20]})
                         for record, vectors in prepared] if audit else []
                if items or also_audit:
                    self.audit.append_many([*items, *also_audit], session=session)
                self._check_dims(session, added)
                self._after_insert(session, added)
        except IntegrityError as exc:
            if not add:  # rolled back; name the identity that exists, as the check with add does
                with self.store.read() as session:
                    self._existing(session, [r.name for r, _ in prepared], True, check_missing=False)
            raise ConflictError(f"identity name already exists ({str(exc.orig).splitlines()[0]})") from None
        return results, IndexChange(generations, added=added)

    def _after_insert(self, session: Session, added: dict[str, VectorBatch]) -> None:
        """A gallery searched in PostgreSQL also gets the clear copy (pgvector.py), in this
        transaction: the setting is read after the generation row lock, so no writer misses it."""
        if self.store.backend == "postgresql":
            from . import pgvector

            if pgvector.is_enabled(session, self.store):
                pgvector.write_clear(session, added)

    @staticmethod
    def _existing(session: Session, names: list[str], add: bool, check_missing: bool = True) -> dict[str, IdentityRow]:
        """Rows of the named identities that exist (with ``add``). New identities are not looked
        up first: the unique name index refuses a taken one (the bulk path saves a query)."""
        if len(set(names)) != len(names):
            raise ConflictError("the same identity name appears twice in one enrolment batch")
        if not add:
            return {}
        existing = {}
        for start in range(0, len(names), 5000):  # SQLite caps bound parameters per statement
            part = names[start:start + 5000]
            existing.update({row.name: row for row in session.scalars(select(IdentityRow).where(IdentityRow.name.in_(part)))})
        if not check_missing:
            if existing:
                raise ConflictError(f"identity {sorted(existing)[0]!r} already exists (use add to add templates)")
            return existing
        missing = sorted(set(names) - set(existing))
        if missing:
            raise NotFoundError(f"no identity named {missing[0]!r}")
        return existing

    def _insert_identities(self, session: Session, fresh: list[EnrolRecord]) -> dict[str, tuple[int, str]]:
        first = self.store.allocate_ids(session, "gallery_identities", len(fresh)) if fresh else 0
        identities, rows, now = {}, [], utcnow()
        for offset, record in enumerate(fresh):
            consent = record.consent or Consent()
            uid = uuid.uuid4().hex
            identities[record.name] = (first + offset, uid)
            rows.append((first + offset, uid, record.name, record.metadata, consent.by, consent.at, consent.purpose,
                         consent.expires, now))
        self.store.bulk_insert(session, "gallery_identities", IDENTITY_COLUMNS, rows)
        return identities

    def _insert_templates(self, session: Session, prepared: Sequence[tuple[EnrolRecord, list[np.ndarray]]],
                          identities: dict[str, tuple[int, str]],
                          models: list[str]) -> tuple[list[dict[str, Any]], dict[str, VectorBatch]]:
        tid = self.store.allocate_ids(session, "gallery_templates", sum(len(v) for _, v in prepared))
        rows, results, now = [], [], utcnow()
        encrypt = self.cipher.encrypt
        aads = {m: {} for m in models}  # (identity uid → AAD) per model
        per_model: dict[str, tuple[list, list, list, dict]] = {m: ([], [], [], {}) for m in models}
        for record, vectors in prepared:
            identity_id, identity_uid = identities[record.name]
            for template, vector in zip(record.templates, vectors):
                model = template.model
                aad = aads[model].get(identity_uid) or aads[model].setdefault(identity_uid, template_aad(identity_uid, model))
                image = encrypt(template.image, _image_aad(identity_uid)) if template.image else None
                rows.append((tid, identity_id, model, template.model_version, int(vector.size),
                             encrypt(np.asarray(vector, "<f4").tobytes(), aad), template.quality,
                             template.quality_detail, template.source, now, image))
                keys, owners, stacked, names = per_model[model]
                keys.append(tid)
                owners.append(identity_id)
                stacked.append(vector)
                names[identity_id] = record.name
                tid += 1
            results.append({"name": record.name, "templates": len(vectors),
                            "models": sorted({t.model for t in record.templates})})
        self.store.bulk_insert(session, "gallery_templates", TEMPLATE_COLUMNS, rows)
        added = {}
        for model, (keys, owners, stacked, names) in per_model.items():
            if len({v.size for v in stacked}) > 1:
                raise BadInputError(f"model {model!r} embeddings must all have one size, got "
                                    f"{sorted({v.size for v in stacked})}")
            added[model] = VectorBatch(np.array(keys, np.int64), np.stack(stacked).astype(np.float32, copy=False),
                                       np.array(owners, np.int64), names)
        return results, added

    @staticmethod
    def _check_dims(session: Session, added: dict[str, VectorBatch]) -> None:
        for model, batch in added.items():
            stored = session.execute(select(TemplateRow.dim).where(TemplateRow.model == model,
                                                                   TemplateRow.id < int(batch.keys.min()))
                                     .limit(1)).scalar_one_or_none()
            if stored is not None and int(stored) != batch.vectors.shape[1]:
                raise BadInputError(f"model {model!r} embeddings must all have one size, got "
                                    f"{sorted({int(stored), batch.vectors.shape[1]})}")

    def erase(self, names: Iterable[str], event: str, reason: str) -> tuple[list[dict[str, Any]], IndexChange]:
        """Delete identities with all their templates, one audit entry each."""
        with self.store.write() as session:
            targets = []
            for name in names:
                row = self._identity(session, name)
                rows = session.execute(select(TemplateRow.id, TemplateRow.model).where(TemplateRow.identity_id == row.id)).all()
                targets.append((row, rows))
            removed: dict[str, list[int]] = {}
            for _, rows in targets:
                for r in rows:
                    removed.setdefault(r.model, []).append(r.id)
            generations = {m: self.store.bump_generation(session, m) for m in removed}
            reports = []
            for row, rows in targets:
                session.execute(sql_delete(TemplateRow).where(TemplateRow.identity_id == row.id))
                session.execute(sql_delete(IdentityRow).where(IdentityRow.id == row.id))
                self.audit.append(event, row.name, {"templates": len(rows), "reason": reason}, session=session)
                self.audit.pseudonymise(row.name, session=session)  # the name leaves the log too
                reports.append({"name": row.name, "templates_removed": len(rows)})
        return reports, IndexChange(generations, removed=removed)

    def update_identity(self, name: str, *, metadata: dict[str, Any] | None, consent: Consent | None,
                        replace_metadata: bool, by: str | None) -> None:
        """Change metadata (merged, or replaced) and/or the consent record, audited as ``identity.update``."""
        with self.store.write() as session:
            row = self._identity(session, name)
            changed = []
            if metadata is not None:
                row.info = dict(metadata) if replace_metadata else {**(row.info or {}), **metadata}
                changed.append("metadata")
            if consent is not None:
                row.consent_by, row.consent_at = consent.by, consent.at
                row.consent_purpose, row.consent_expires = consent.purpose, consent.expires
                changed.append("consent")
            self.audit.append("identity.update", name, {"changed": changed, "by": by}, session=session)

    def delete_templates(self, ids_by_model: dict[str, list[int]], reason: str,
                         also_audit: Sequence[AuditItem] = ()) -> tuple[int, IndexChange]:
        """Delete single templates (not identities), audited as ``purge.templates``."""
        count = 0
        with self.store.write() as session:
            generations = {m: self.store.bump_generation(session, m) for m in ids_by_model}
            for ids in ids_by_model.values():
                for start in range(0, len(ids), 500):
                    count += session.execute(sql_delete(TemplateRow).where(TemplateRow.id.in_(ids[start:start + 500]))).rowcount
            items = [("purge.templates", None, {"templates": count, "reason": reason}), *also_audit]
            self.audit.append_many(items, session=session)
        return count, IndexChange(generations, removed={m: list(ids) for m, ids in ids_by_model.items()})

    # ------------------------------------------------------------------ unknown faces

    def record_identification(self, model: str, unknown: list[tuple[np.ndarray, Any]],
                              audit: dict[str, Any] | None) -> None:
        """Keep the unmatched faces (encrypted) and/or audit the identification, in one transaction."""
        with self.store.write() as session:
            self._add_unknowns(session, model, unknown)
            if audit is not None:
                self.audit.append("identify", None, audit, session=session)

    def add_unknowns(self, model: str, vectors: list[np.ndarray], sources: Sequence[str | None] | None = None) -> None:
        with self.store.write() as session:
            self._add_unknowns(session, model, [(v, None) for v in vectors], sources)

    def _add_unknowns(self, session: Session, model: str, probes: list[tuple[np.ndarray, Any]],
                      sources: Sequence[str | None] | None = None) -> None:
        version = model_version(model) if probes else ""
        for i, (vector, face) in enumerate(probes):
            session.add(UnknownRow(
                model=model, model_version=version, dim=int(vector.size),
                vector=self.cipher.encrypt(np.asarray(vector, "<f4").tobytes(), unknown_aad(model)),
                source=sources[i] if sources else None, box=list(face.box) if face is not None else None,
                created_at=utcnow(),
            ))

    def delete_unknowns(self, ids: list[int], event: AuditItem) -> None:
        with self.store.write() as session:
            session.execute(sql_delete(UnknownRow).where(UnknownRow.id.in_([int(i) for i in ids])))
            self.audit.append(*event, session=session)

    # ------------------------------------------------------------------ reading, audited

    def export(self, name: str) -> dict[str, Any]:
        """Everything stored about one person, embeddings decrypted; the export itself is audited."""
        with self.store.write() as session:
            data = self._describe(session, self._identity(session, name), with_vectors=True)
            self.audit.append("export", name, {"templates": len(data["templates"])}, session=session)
        data["audit"] = [e.to_dict() for e in self.audit.entries(subject=name)]
        data["format"] = "facelens-identity-export-v1"
        return data
