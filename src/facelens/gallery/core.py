"""``Gallery``: enrol, identify, list, show, delete, export, purge — over store + index + crypto.

Every change is one database transaction that also appends its audit entry, so either both
happen or neither. The in-memory index follows the database: after our own commit it is
patched directly; when another process changed the database (the model's generation counter
moved) the index is diffed against the template ids in the database and repaired, and the
repaired index is written back (encrypted) beside the database.
"""

from __future__ import annotations

import gc
import uuid
from collections.abc import Iterable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import delete as sql_delete
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .. import config
from ..errors import BadInputError, ConflictError, KeyMaterialError, NoFaceError, NotFoundError, StorageError
from . import crypto
from . import index as index_mod
from .audit import AuditLog
from .identify import SCORINGS, Candidate, Identification, Scoring, score_identities, threshold_for
from .store import IdentityRow, Store, TemplateRow, UnknownRow, json_ready, utcnow

KEY_CHECK = b"facelens-key-check-v1"
IDENTITY_COLUMNS = ["id", "uid", "name", "info", "consent_by", "consent_at", "consent_purpose", "consent_expires",
                    "created_at"]
TEMPLATE_COLUMNS = ["id", "identity_id", "model", "model_version", "dim", "vector", "quality", "quality_detail",
                    "source", "created_at", "image"]
DEFAULT_MODEL = "mobilefacenet"


@dataclass(frozen=True)
class Consent:
    """Who consented, when, for what, until when (naive UTC datetimes)."""

    by: str | None = None
    at: datetime | None = None
    purpose: str | None = None
    expires: datetime | None = None


@dataclass
class Template:
    """One embedding to store. ``vector`` is L2-normalised here if it is not already."""

    vector: np.ndarray
    model: str
    model_version: str = "unknown"
    quality: float | None = None
    quality_detail: dict | None = None
    source: str | None = None
    image: bytes | None = None  # encoded face image, stored (encrypted) only when asked for


@dataclass
class EnrolRecord:
    name: str
    templates: list[Template]
    metadata: dict[str, Any] = field(default_factory=dict)
    consent: Consent | None = None


@dataclass(frozen=True)
class StoredTemplate:
    """One template as stored, decrypted: what ``Gallery.templates_of`` returns."""

    id: int
    vector: np.ndarray
    model: str
    source: str | None
    created_at: datetime
    quality: float | None
    quality_detail: dict | None


@dataclass
class _Cached:
    index: Any
    generation: int


def model_version(model: str) -> str:
    try:
        from ..embedding import get_embedder

        return str(get_embedder(model).version)
    except Exception:  # noqa: BLE001 - version is informative; an unknown model still stores
        return "unknown"


def _template_aad(identity_uid: str, model: str) -> bytes:
    return f"facelens-template-v1|{identity_uid}|{model}".encode()


def _unknown_aad(model: str) -> bytes:
    return f"facelens-unknown-v1|{model}".encode()


def _image_aad(identity_uid: str) -> bytes:
    return f"facelens-image-v1|{identity_uid}".encode()


def _normalised(vector: Any, what: str) -> np.ndarray:
    array = np.asarray(vector, dtype=np.float32).reshape(-1)
    if array.size == 0 or not np.isfinite(array).all():
        raise BadInputError(f"{what}: embedding must be a non-empty finite vector")
    norm = float(np.linalg.norm(array))
    if norm < 1e-6:
        raise BadInputError(f"{what}: embedding is all zeros")
    return array / norm


def _normalised_records(records: Sequence["EnrolRecord"]) -> list[tuple["EnrolRecord", list[np.ndarray]]]:
    """Every record's vectors checked and L2-normalised — one numpy pass when sizes agree."""
    rows = [np.asarray(t.vector, dtype=np.float32).reshape(-1) for r in records for t in r.templates]
    if not rows or len({r.size for r in rows}) != 1:
        return [(record, _normalised_rows(record)) for record in records]
    matrix = np.stack(rows)
    norms = np.linalg.norm(matrix, axis=1)
    if matrix.shape[1] == 0 or not np.isfinite(matrix).all() or (norms < 1e-6).any():
        return [(record, _normalised_rows(record)) for record in records]
    matrix /= norms[:, None]
    out, at = [], 0
    for record in records:
        _check_name(record.name)
        out.append((record, list(matrix[at:at + len(record.templates)])))
        at += len(record.templates)
    return out


def _normalised_rows(record: "EnrolRecord") -> list[np.ndarray]:
    """The record's vectors, checked and L2-normalised in one numpy pass per size."""
    _check_name(record.name)
    rows = [np.asarray(t.vector, dtype=np.float32).reshape(-1) for t in record.templates]
    if len({r.size for r in rows}) != 1:
        return [_normalised(r, f"{record.name}/{t.source or 'template'}") for r, t in zip(rows, record.templates)]
    matrix = np.stack(rows)
    norms = np.linalg.norm(matrix, axis=1)
    if matrix.shape[1] == 0 or not np.isfinite(matrix).all() or (norms < 1e-6).any():
        return [_normalised(r, f"{record.name}/{t.source or 'template'}") for r, t in zip(rows, record.templates)]
    return list(matrix / norms[:, None])


@contextmanager
def _gc_paused(pause: bool):
    """Bulk enrolment allocates tens of thousands of short-lived objects that form no cycles:
    Python's cyclic collector ran ~30 % of the CPU time of a 20k-identity batch here (measured
    with gc on/off alternating). Pause it for big batches, restore the caller's setting after."""
    was_enabled = gc.isenabled()
    if pause:
        gc.disable()
    try:
        yield
    finally:
        if pause and was_enabled:
            gc.enable()


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not name.strip():
        raise BadInputError("identity name must be a non-empty string")
    if len(name) > 200:
        raise BadInputError("identity name is longer than 200 characters")
    return name.strip()


class Gallery:
    """A persistent, encrypted face gallery. Use as a context manager or call ``close()``."""

    def __init__(
        self,
        db: str | Path | None = None,
        *,
        key: bytes | str | None = None,
        create_key: bool = False,
        index: str = "auto",
        index_dir: str | Path | None = None,
        scoring: Scoring = "max",
        hnsw: dict[str, Any] | None = None,
    ):
        if index not in ("auto", "exact", "hnsw"):
            raise BadInputError(f"index must be auto, exact or hnsw, not {index!r}")
        if scoring not in SCORINGS:
            raise BadInputError(f"scoring must be one of {SCORINGS}, not {scoring!r}")
        self.store = Store(db)
        try:
            self._open_key(key, create_key)
        except BaseException:
            self.store.dispose()
            raise
        self.audit = AuditLog(self.store, self.cipher)
        self.index_kind = index
        self.scoring: Scoring = scoring
        self.hnsw = dict(hnsw or {})
        self.index_dir = Path(index_dir) if index_dir else self._default_index_dir()
        self._indexes: dict[str, _Cached] = {}
        self._dirty: set[str] = set()

    # ------------------------------------------------------------------ setup

    def _open_key(self, key: bytes | str | None, create_key: bool) -> None:
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
        self.cipher = crypto.Cipher(raw)
        if check is None:
            with self.store.write() as session:
                if self.store.get_meta(session, "key_check", lock=True) is None:
                    sealed = self.cipher.encrypt(KEY_CHECK, b"key-check")
                    self.store.set_meta(session, "key_check", sealed.hex())
                    return
                check = self.store.get_meta(session, "key_check")
        try:
            ok = self.cipher.decrypt(bytes.fromhex(check), b"key-check") == KEY_CHECK
        except (ValueError, KeyMaterialError):
            ok = False
        if not ok:
            raise KeyMaterialError("the encryption key does not match this gallery (wrong FACELENS_KEY / key file)")

    def _default_index_dir(self) -> Path:
        path = self.store.path
        if path is not None:
            return path.with_name(path.name + ".index")
        return config.data_dir() / "indexes" / str(self.gallery_id)

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self.store.dispose()

    def __enter__(self) -> "Gallery":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ crypto helpers

    def _seal(self, vector: np.ndarray, identity_uid: str, model: str) -> bytes:
        return self.cipher.encrypt(np.asarray(vector, "<f4").tobytes(), _template_aad(identity_uid, model))

    def _open_vector(self, blob: bytes, identity_uid: str, model: str) -> np.ndarray:
        return np.frombuffer(self.cipher.decrypt(blob, _template_aad(identity_uid, model)), dtype="<f4").astype(np.float32)

    # ------------------------------------------------------------------ embeddings from images

    def templates_from_images(
        self,
        images: Sequence[Any],
        model: str = DEFAULT_MODEL,
        face: Any = "only",
        keep_images: bool = False,
        detector: str | None = None,
    ) -> list[Template]:
        """Embed each image (one face each, by default refusing several) into Templates."""
        from ..pipeline import DEFAULT_DETECTOR
        from ..pipeline import embed as pipeline_embed

        version = model_version(model)
        made = []
        for image in images:
            label = str(image) if isinstance(image, (str, Path)) else "image"
            faces = pipeline_embed(image, model=model, detector=detector or DEFAULT_DETECTOR, face=face, name=label)
            for found in faces:
                detail = {"detector_score": round(found.score, 4)}
                if found.quality is not None:
                    detail.update(found.quality.to_dict())
                    detail["problems"] = found.quality.problems()
                made.append(Template(
                    vector=found.embedding, model=found.embedding_model or model, model_version=version,
                    quality=found.score, quality_detail=detail,
                    source=str(image) if isinstance(image, (str, Path)) else None,
                    image=_crop_bytes(image, found) if keep_images else None,
                ))
        return made

    # ------------------------------------------------------------------ enrolment

    def enrol(
        self,
        name: str,
        images: Sequence[Any] = (),
        *,
        embeddings: Sequence[Any] | np.ndarray | None = None,
        model: str = DEFAULT_MODEL,
        face: Any = "only",
        metadata: dict[str, Any] | None = None,
        consent: Consent | None = None,
        keep_images: bool = False,
        add: bool = False,
    ) -> dict[str, Any]:
        """Enrol a new identity (or, with ``add=True``, add templates to an existing one).

        Images are embedded first; nothing is written unless every image gave a face.
        ``embeddings``: precomputed vectors of ``model`` instead of (or as well as) images.
        """
        name = _check_name(name)
        templates = self.templates_from_images(images, model, face, keep_images) if images else []
        if embeddings is not None:
            version = model_version(model)
            for row in np.atleast_2d(np.asarray(embeddings, dtype=np.float32)):
                templates.append(Template(vector=row, model=model, model_version=version, source="embedding"))
        if not templates:
            raise BadInputError(f"nothing to enrol for {name!r}: give images or embeddings")
        record = EnrolRecord(name, templates, dict(metadata or {}), consent)
        return self.enrol_records([record], add=add)[0]

    def enrol_records(self, records: Sequence[EnrolRecord], *, add: bool = False, audit: bool = True) -> list[dict[str, Any]]:
        """Write several identities in ONE transaction (bulk path; also used by ``enrol``)."""
        if not records:
            return []
        models = sorted({t.model for r in records for t in r.templates})
        prepared = _normalised_records(records)
        now = utcnow()
        added: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {m: [] for m in models}
        results = []
        try:
            with _gc_paused(len(records) >= 1000), self.store.write() as session:
                generations = {m: self.store.bump_generation(session, m) for m in models}
                names = [r.name for r, _ in prepared]
                existing = {
                    row.name: row
                    for row in session.scalars(select(IdentityRow).where(IdentityRow.name.in_(names)))
                }
                if len(set(names)) != len(names):
                    raise ConflictError("the same identity name appears twice in one enrolment batch")
                if existing and not add:
                    raise ConflictError(f"identity {sorted(existing)[0]!r} already exists (use add to add templates)")
                if add:
                    missing = sorted(set(names) - set(existing))
                    if missing:
                        raise NotFoundError(f"no identity named {missing[0]!r}")
                fresh = [record for record, _ in prepared if record.name not in existing]
                identities = {row.name: (row.id, row.uid) for row in existing.values()}
                next_identity = self.store.allocate_ids(session, "gallery_identities", len(fresh)) if fresh else 0
                identity_rows = []
                for offset, record in enumerate(fresh):
                    consent = record.consent or Consent()
                    uid = uuid.uuid4().hex
                    identities[record.name] = (next_identity + offset, uid)
                    identity_rows.append((next_identity + offset, uid, record.name, record.metadata, consent.by,
                                          consent.at, consent.purpose, consent.expires, now))
                self.store.bulk_insert(session, "gallery_identities", IDENTITY_COLUMNS, identity_rows)
                total = sum(len(v) for _, v in prepared)
                tid = self.store.allocate_ids(session, "gallery_templates", total)
                template_rows, row_vectors, ids = [], [], []
                for record, vectors in prepared:
                    identity_id, identity_uid = identities[record.name]
                    for template, vector in zip(record.templates, vectors):
                        image = self.cipher.encrypt(template.image, _image_aad(identity_uid)) if template.image else None
                        template_rows.append((
                            tid, identity_id, template.model, template.model_version, int(vector.size),
                            self._seal(vector, identity_uid, template.model), template.quality,
                            template.quality_detail, template.source, now, image,
                        ))
                        row_vectors.append((template.model, vector))
                        ids.append(tid)
                        tid += 1
                    results.append({"name": record.name, "templates": len(vectors), "models": sorted({t.model for t in record.templates})})
                self.store.bulk_insert(session, "gallery_templates", TEMPLATE_COLUMNS, template_rows)
                for tid, (model, vector) in zip(ids, row_vectors):
                    added[model].append((tid, vector))
                if audit:
                    self.audit.append_many([
                        ("enrol" if record.name not in existing else "enrol.add", record.name,
                         {"templates": len(vectors), "models": sorted({t.model for t in record.templates}),
                          "sources": [t.source for t in record.templates][:20]})
                        for record, vectors in prepared
                    ], session=session)
                self._check_dims(session, models, added)
        except IntegrityError as exc:
            raise ConflictError(f"identity name already exists ({str(exc.orig).splitlines()[0]})") from None
        for model, (before, after) in generations.items():
            items = added[model]
            keys = np.array([k for k, _ in items], dtype=np.int64)
            vectors = np.stack([v for _, v in items]) if items else None
            self._patch_index(model, before, after, add=(keys, vectors))
        return results

    def _check_dims(self, session: Session, models: list[str], added: dict) -> None:
        for model in models:
            dims = {int(v.size) for _, v in added[model]}
            stored = session.execute(
                select(TemplateRow.dim).where(TemplateRow.model == model).limit(1)
            ).scalar_one_or_none()
            if stored is not None:
                dims.add(int(stored))
            if len(dims) > 1:
                raise BadInputError(f"model {model!r} embeddings must all have one size, got {sorted(dims)}")

    # ------------------------------------------------------------------ index upkeep

    def _index_path(self, model: str) -> Path:
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in model)
        return self.index_dir / f"{safe}.idx"

    def _patch_index(self, model: str, before: int, after: int, add=None, remove=None) -> None:
        cached = self._indexes.get(model)
        if cached is None or cached.generation != before:
            return  # not loaded (or someone else wrote in between): repaired on next use
        if add is not None and len(add[0]):
            cached.index.add(add[0], add[1])
        if remove is not None and len(remove):
            cached.index.remove(remove)
        cached.generation = after
        self._dirty.add(model)

    def index_for(self, model: str) -> Any:
        """The search index of ``model``'s templates, loaded, repaired or rebuilt as needed."""
        generation = self.store.generation(model)
        cached = self._indexes.get(model)
        if cached is not None and cached.generation == generation:
            return cached.index
        if cached is None:
            loaded = index_mod.load(self._index_path(model), self.cipher)
            if loaded is not None:
                found, header = loaded
                if header.get("gallery_id") == self.gallery_id and header.get("model") == model:
                    cached = _Cached(found, int(header.get("generation", -1)))
                    if cached.generation == generation and self._kind_ok(found, len(found)):
                        self._indexes[model] = cached
                        return found
        with self.store.read() as session:
            db_ids = np.array(session.scalars(
                select(TemplateRow.id).where(TemplateRow.model == model).order_by(TemplateRow.id)
            ).all(), dtype=np.int64)
        if cached is None or not self._kind_ok(cached.index, len(db_ids)):
            dim = self._dim_of(model)
            cached = _Cached(index_mod.make_index(self.index_kind, dim or 1, len(db_ids), **self.hnsw), generation)
            missing, extra = db_ids, np.empty(0, np.int64)
        else:
            have = cached.index.keys()
            missing = np.setdiff1d(db_ids, have, assume_unique=True)
            extra = np.setdiff1d(have, db_ids, assume_unique=True)
        if len(extra):
            cached.index.remove(extra)
        if len(missing) > 2000:  # a rebuild: stream every template instead of huge IN (...) lists
            for keys, vectors in self._stream_vectors(model, missing):
                cached.index.add(keys, vectors)
        elif len(missing):
            cached.index.add(*self._load_vectors(model, missing))
        cached.generation = generation
        self._indexes[model] = cached
        self._save_index(model)
        return cached.index

    def _kind_ok(self, found: Any, count: int) -> bool:
        if self.index_kind != "auto":
            return found.kind == self.index_kind
        wanted = "hnsw" if count >= index_mod.AUTO_HNSW_FROM else "exact"
        # hysteresis: an HNSW index is kept until the gallery shrinks well below the switch point
        return found.kind == wanted or (found.kind == "hnsw" and count >= index_mod.AUTO_HNSW_FROM // 2)

    def _dim_of(self, model: str) -> int | None:
        with self.store.read() as session:
            return session.execute(select(TemplateRow.dim).where(TemplateRow.model == model).limit(1)).scalar_one_or_none()

    def _load_vectors(self, model: str, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        with self.store.read() as session:
            rows = session.execute(
                select(TemplateRow.id, TemplateRow.vector, IdentityRow.uid)
                .join(IdentityRow, IdentityRow.id == TemplateRow.identity_id)
                .where(TemplateRow.id.in_(ids.tolist()))
                .order_by(TemplateRow.id)
            ).all()
        keys = np.array([r.id for r in rows], dtype=np.int64)
        vectors = np.stack([self._open_vector(r.vector, r.uid, model) for r in rows]) if rows else np.empty((0, 1), np.float32)
        return keys, vectors

    def _stream_vectors(self, model: str, wanted: np.ndarray, batch: int = 20000):
        query = (
            select(TemplateRow.id, TemplateRow.vector, IdentityRow.uid)
            .join(IdentityRow, IdentityRow.id == TemplateRow.identity_id)
            .where(TemplateRow.model == model)
            .order_by(TemplateRow.id)
            .execution_options(yield_per=batch)
        )
        with self.store.read() as session:
            for part in session.execute(query).partitions(batch):
                keys = np.fromiter((r.id for r in part), dtype=np.int64, count=len(part))
                keep = np.isin(keys, wanted, assume_unique=True)
                rows = [r for r, k in zip(part, keep) if k]
                if rows:
                    yield keys[keep], np.stack([self._open_vector(r.vector, r.uid, model) for r in rows])

    def _save_index(self, model: str) -> None:
        cached = self._indexes.get(model)
        if cached is None:
            return
        header = {"gallery_id": self.gallery_id, "model": model, "generation": cached.generation}
        try:
            index_mod.save(self._index_path(model), cached.index, header, self.cipher)
        except OSError as exc:
            raise StorageError(f"cannot write index file {self._index_path(model)}: {exc}") from None
        self._dirty.discard(model)

    def flush(self) -> None:
        """Write changed indexes to disk (done by ``close``; the database is always current)."""
        for model in list(self._dirty):
            self._save_index(model)

    # ------------------------------------------------------------------ identification

    def _probe_faces(self, probe: Any, model: str) -> list[tuple[np.ndarray, Any]]:
        from ..types import Face

        if isinstance(probe, Face):
            if probe.embedding is None:
                raise BadInputError("the Face given as probe has no embedding")
            return [(_normalised(probe.embedding, "probe"), probe)]
        if isinstance(probe, np.ndarray) and probe.dtype != np.uint8 and probe.ndim in (1, 2):
            return [(_normalised(row, "probe"), None) for row in np.atleast_2d(probe)]
        from ..pipeline import embed as pipeline_embed

        try:
            faces = pipeline_embed(probe, model=model, face="all")
        except NoFaceError:
            return []
        return [(f.embedding, f) for f in faces]

    def identify(
        self,
        probe: Any,
        top_k: int = 5,
        *,
        model: str | None = None,
        scoring: Scoring | None = None,
        threshold: float | None = None,
        record_unknown: bool = False,
        audit: bool = True,
    ) -> list[Identification]:
        """One Identification per face of the probe (an empty list when the image has no face)."""
        if top_k < 1:
            raise BadInputError("top_k must be at least 1")
        model = model or DEFAULT_MODEL
        scoring = scoring or self.scoring
        if scoring not in SCORINGS:
            raise BadInputError(f"scoring must be one of {SCORINGS}")
        limit = float(threshold) if threshold is not None else threshold_for(model, scoring)[0]
        probes = self._probe_faces(probe, model)
        if probe is not None and not probes:
            results: list[Identification] = []
        else:
            results = self.search([v for v, _ in probes], model, top_k, scoring, limit)
            results = [
                Identification(r.identity, r.similarity, r.threshold, r.candidates,
                               face.box if face is not None else None, face)
                for r, (_, face) in zip(results, probes)
            ]
        if record_unknown or audit:
            with self.store.write() as session:
                if record_unknown:
                    self._record_unknowns(session, model, [(v, f) for (v, f), r in zip(probes, results) if r.unknown])
                if audit:
                    self.audit.append("identify", None, {
                        "model": model, "faces": len(results),
                        "matches": [r.identity for r in results if r.identity],
                        "unknown": sum(r.unknown for r in results),
                    }, session=session)
        return results

    def search(self, vectors: Sequence[np.ndarray], model: str, top_k: int = 5,
               scoring: Scoring = "max", threshold: float = 0.0) -> list[Identification]:
        """Rank identities for each probe vector (no audit entry; used by identify and evaluation)."""
        if not len(vectors):
            return []
        matrix = np.stack([_normalised(v, "probe") for v in vectors])
        index = self.index_for(model)
        if len(index) == 0:
            return [Identification(None, float("-inf"), threshold, []) for _ in vectors]
        if matrix.shape[1] != index.dim:
            raise BadInputError(f"probe has {matrix.shape[1]} values but {model} templates have {index.dim}")
        depth = min(len(index), top_k * 10 + 20)
        keys, sims = index.search(matrix, depth)
        owners, exact = self._shortlist(np.unique(keys[keys >= 0]), model, with_vectors=index.kind != "exact")
        if index.kind != "exact" and exact:  # HNSW scores are approximate: re-score exactly
            rows = np.array([[exact.get(int(k), np.zeros(matrix.shape[1], np.float32)) for k in row] for row in keys])
            sims = np.where(keys >= 0, np.einsum("qkd,qd->qk", rows, matrix), -np.inf).astype(np.float32)
            order = np.argsort(-sims, axis=1, kind="stable")
            keys, sims = np.take_along_axis(keys, order, 1), np.take_along_axis(sims, order, 1)
        out = []
        for row in range(len(matrix)):
            member_sims = None
            if scoring == "mean":
                member_sims = self._mean_scores(index, matrix[row], keys[row], owners, model, top_k)
            candidates = score_identities(keys[row], sims[row], owners, scoring, member_sims=member_sims)[:top_k]
            best = candidates[0] if candidates else Candidate("", float("-inf"))
            identity = best.identity if candidates and best.similarity >= threshold else None
            out.append(Identification(identity, best.similarity, threshold, candidates))
        return out

    def _shortlist(self, template_ids: np.ndarray, model: str,
                   with_vectors: bool = False) -> tuple[dict[int, str], dict[int, np.ndarray]]:
        """Template id → identity name (and → exact float32 vector, for HNSW re-scoring), straight
        from the database: erased ids drop out here even if an index still held them."""
        if not len(template_ids):
            return {}, {}
        with self.store.read() as session:
            rows = session.execute(
                select(TemplateRow.id, IdentityRow.name, IdentityRow.uid, TemplateRow.vector)
                .join(IdentityRow, IdentityRow.id == TemplateRow.identity_id)
                .where(TemplateRow.id.in_(template_ids.tolist()))
            ).all()
        owners = {int(r.id): r.name for r in rows}
        vectors = {int(r.id): self._open_vector(r.vector, r.uid, model) for r in rows} if with_vectors else {}
        return owners, vectors

    def _mean_scores(self, index: Any, probe: np.ndarray, keys: np.ndarray, owners: dict[int, str],
                     model: str, top_k: int) -> dict[str, float]:
        shortlist = list(dict.fromkeys(owners[int(k)] for k in keys if int(k) in owners))[: top_k * 3]
        if not shortlist:
            return {}
        with self.store.read() as session:
            rows = session.execute(
                select(TemplateRow.id, IdentityRow.name)
                .join(IdentityRow, IdentityRow.id == TemplateRow.identity_id)
                .where(IdentityRow.name.in_(shortlist), TemplateRow.model == model)
            ).all()
        ids = np.array([r.id for r in rows], dtype=np.int64)
        present = np.isin(ids, index.keys()) if index.kind == "exact" else np.ones(len(ids), bool)
        ids = ids[present]
        names = [r.name for r, ok in zip(rows, present) if ok]
        sims = index.get(ids) @ probe if len(ids) else np.empty(0)
        scores: dict[str, list[float]] = {}
        for name, sim in zip(names, sims.tolist()):
            scores.setdefault(name, []).append(sim)
        return {name: float(np.mean(values)) for name, values in scores.items()}

    def _record_unknowns(self, session: Session, model: str, probes: list[tuple[np.ndarray, Any]]) -> None:
        version = model_version(model)
        for vector, face in probes:
            session.add(UnknownRow(
                model=model, model_version=version, dim=int(vector.size),
                vector=self.cipher.encrypt(np.asarray(vector, "<f4").tobytes(), _unknown_aad(model)),
                source=None, box=list(face.box) if face is not None else None, created_at=utcnow(),
            ))

    # ------------------------------------------------------------------ reading

    def _identity(self, session: Session, name: str) -> IdentityRow:
        row = session.scalars(select(IdentityRow).where(IdentityRow.name == name)).first()
        if row is None:
            raise NotFoundError(f"no identity named {name!r} in the gallery")
        return row

    def __len__(self) -> int:
        with self.store.read() as session:
            return session.scalar(select(func.count()).select_from(IdentityRow)) or 0

    def __contains__(self, name: object) -> bool:
        with self.store.read() as session:
            return (session.scalar(select(func.count()).select_from(IdentityRow).where(IdentityRow.name == name)) or 0) > 0

    def list(self) -> list[dict[str, Any]]:
        with self.store.read() as session:
            rows = session.execute(
                select(IdentityRow.name, IdentityRow.created_at, IdentityRow.consent_expires,
                       func.count(TemplateRow.id).label("templates"))
                .outerjoin(TemplateRow, TemplateRow.identity_id == IdentityRow.id)
                .group_by(IdentityRow.id).order_by(IdentityRow.name)
            ).all()
        return [{"name": r.name, "templates": r.templates, "created_at": json_ready(r.created_at),
                 "consent_expires": json_ready(r.consent_expires)} for r in rows]

    def show(self, name: str) -> dict[str, Any]:
        with self.store.read() as session:
            row = self._identity(session, name)
            return self._describe(session, row, with_vectors=False)

    def _describe(self, session: Session, row: IdentityRow, with_vectors: bool) -> dict[str, Any]:
        templates = session.scalars(select(TemplateRow).where(TemplateRow.identity_id == row.id).order_by(TemplateRow.id)).all()
        out = {
            "name": row.name, "id": row.uid, "metadata": row.info or {},
            "consent": {"by": row.consent_by, "at": json_ready(row.consent_at),
                        "purpose": row.consent_purpose, "expires": json_ready(row.consent_expires)},
            "created_at": json_ready(row.created_at), "templates": [],
        }
        for t in templates:
            item = {"id": t.id, "model": t.model, "model_version": t.model_version, "dim": t.dim,
                    "quality": t.quality, "quality_detail": t.quality_detail, "source": t.source,
                    "created_at": json_ready(t.created_at), "has_image": t.image is not None}
            if with_vectors:
                item["embedding"] = [round(float(v), 7) for v in self._open_vector(t.vector, row.uid, t.model)]
            out["templates"].append(item)
        return out

    def export(self, name: str) -> dict[str, Any]:
        """Everything stored about one person (subject access request), embeddings decrypted."""
        with self.store.write() as session:
            row = self._identity(session, name)
            data = self._describe(session, row, with_vectors=True)
            self.audit.append("export", name, {"templates": len(data["templates"])}, session=session)
        data["audit"] = [e.to_dict() for e in self.audit.entries(subject=name)]
        data["format"] = "facelens-identity-export-v1"
        return data

    # ------------------------------------------------------------------ erasure and retention

    def delete(self, name: str, *, reason: str = "erasure request") -> dict[str, Any]:
        """Erase an identity: its templates leave the database and the index (persisted now)."""
        return self._erase([name], "delete", reason)[0]

    def _erase(self, names: Iterable[str], event: str, reason: str,
               template_ids: dict[str, list[int]] | None = None) -> list[dict[str, Any]]:
        removed: dict[str, list[int]] = {}
        reports = []
        with self.store.write() as session:
            targets = []
            for name in names:
                row = self._identity(session, name)
                rows = session.execute(select(TemplateRow.id, TemplateRow.model).where(TemplateRow.identity_id == row.id)).all()
                targets.append((row, rows))
            by_model: dict[str, list[int]] = {}
            for _, rows in targets:
                for r in rows:
                    by_model.setdefault(r.model, []).append(r.id)
            generations = {m: self.store.bump_generation(session, m) for m in by_model}
            for row, rows in targets:
                session.execute(sql_delete(TemplateRow).where(TemplateRow.identity_id == row.id))
                session.execute(sql_delete(IdentityRow).where(IdentityRow.id == row.id))
                self.audit.append(event, row.name, {"templates": len(rows), "reason": reason}, session=session)
                reports.append({"name": row.name, "templates_removed": len(rows)})
            removed = by_model
        for model, ids in removed.items():
            before, after = generations[model]
            self._patch_index(model, before, after, remove=np.array(ids, dtype=np.int64))
            if model in self._indexes:
                self._save_index(model)
            elif self._index_path(model).exists():
                self.index_for(model)  # loads, drops the erased ids, rewrites the file
        return reports

    def purge(self, *, max_age_days: float | None = None, now: datetime | None = None,
              dry_run: bool = False) -> dict[str, Any]:
        from .retention import purge

        return purge(self, max_age_days=max_age_days, now=now, dry_run=dry_run)

    def templates_of(self, name: str, model: str = DEFAULT_MODEL) -> list[StoredTemplate]:
        """``name``'s templates for ``model``, decrypted, oldest first (NotFoundError if not
        enrolled). Not audited: nothing leaves the process (access control compares against them);
        ``export`` is the audited way to hand templates out."""
        with self.store.read() as session:
            row = self._identity(session, name)
            rows = session.scalars(select(TemplateRow).where(TemplateRow.identity_id == row.id,
                                                             TemplateRow.model == model)
                                   .order_by(TemplateRow.id)).all()
            return [StoredTemplate(t.id, self._open_vector(t.vector, row.uid, model), model, t.source, t.created_at,
                                   t.quality, t.quality_detail) for t in rows]

    def remove_templates(self, ids_by_model: dict[str, list[int]], reason: str) -> int:
        """Delete single templates (not identities) from the DB and index, audited with ``reason``."""
        return self._delete_templates(ids_by_model, reason)

    def _delete_templates(self, ids_by_model: dict[str, list[int]], reason: str) -> int:
        if not ids_by_model:
            return 0
        count = 0
        with self.store.write() as session:
            generations = {m: self.store.bump_generation(session, m) for m in ids_by_model}
            for ids in ids_by_model.values():
                for start in range(0, len(ids), 500):
                    count += session.execute(sql_delete(TemplateRow).where(TemplateRow.id.in_(ids[start:start + 500]))).rowcount
            self.audit.append("purge.templates", None, {"templates": count, "reason": reason}, session=session)
        for model, ids in ids_by_model.items():
            before, after = generations[model]
            self._patch_index(model, before, after, remove=np.array(ids, dtype=np.int64))
            if model in self._indexes:
                self._save_index(model)
            elif self._index_path(model).exists():
                self.index_for(model)
        return count

    # ------------------------------------------------------------------ unknown faces

    def unknowns(self, model: str = DEFAULT_MODEL) -> tuple[np.ndarray, np.ndarray]:
        """(ids, vectors) of stored unmatched faces of ``model``."""
        with self.store.read() as session:
            rows = session.execute(select(UnknownRow.id, UnknownRow.vector).where(UnknownRow.model == model).order_by(UnknownRow.id)).all()
        ids = np.array([r.id for r in rows], dtype=np.int64)
        vectors = [np.frombuffer(self.cipher.decrypt(r.vector, _unknown_aad(model)), "<f4") for r in rows]
        return ids, (np.stack(vectors).astype(np.float32) if vectors else np.empty((0, 0), np.float32))

    def add_unknowns(self, vectors: np.ndarray, model: str = DEFAULT_MODEL) -> None:
        with self.store.write() as session:
            self._record_unknowns(session, model, [(_normalised(v, "unknown"), None) for v in np.atleast_2d(vectors)])


def _crop_bytes(image: Any, face: Any) -> bytes | None:
    """PNG of the face box (kept only when enrolment asks for images)."""
    import cv2

    from ..imageio import load_image

    rgb = load_image(image)
    x1, y1, x2, y2 = (int(round(v)) for v in face.box)
    crop = rgb[max(y1, 0):max(y2, 0), max(x1, 0):max(x2, 0)]
    if crop.size == 0:
        return None
    ok, buf = cv2.imencode(".png", cv2.cvtColor(crop, cv2.COLOR_RGB2BGR))
    return buf.tobytes() if ok else None


def days(value: float) -> timedelta:
    return timedelta(days=value)
