"""``Gallery``: the façade over repository (database, keys, audit) and index cache (search).

It takes templates, vectors and Face records — never images: turning images into faces is the
use cases' job (``facelens.usecases.enrolment`` / ``.identification``). Every change goes
through the repository as one transaction with its audit entry; the index cache then follows.
Searches are answered from memory (index_cache.py) or, on a PostgreSQL gallery with database
search on, by PostgreSQL + pgvector (pgvector.py).
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from .. import config
from ..constants import DEFAULT_MODEL
from ..errors import BadInputError
from ..match import SCORINGS, Identification, Scoring, identification_threshold, open_set_decision, rank_identities
from . import pgvector, retention
from .audit import AuditLog
from .index_cache import IndexCache
from .records import (
    AuditItem,
    Consent,
    EnrolRecord,
    StoredTemplate,
    Template,
    check_name,
    normalised,
    normalised_records,
    templates_from_vectors,
)
from .repository import Change, GalleryRepository

GC_PAUSE_FROM = 1000  # records per batch
INDEX_KINDS = ("auto", "exact", "hnsw", "pgvector")


@contextmanager
def _gc_paused(pause: bool) -> Iterator[None]:
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


class Gallery:
    """A persistent, encrypted face gallery. Use as a context manager or call ``close()``.

    ``index``: "auto" (exact below ``index.AUTO_HNSW_FROM`` templates, HNSW above; a PostgreSQL
    gallery with database search on searches there), "exact", "hnsw", or "pgvector" (turn
    database search on: templates then also stored in clear, see pgvector.py). ``hnsw``: the
    HNSW parameters (``index.HNSW_DEFAULTS``); its ``expansion_search`` is also pgvector's
    ``hnsw.ef_search``."""

    def __init__(self, db: str | Path | None = None, *, key: bytes | str | None = None, create_key: bool = False,
                 index: str = "auto", index_dir: str | Path | None = None, scoring: Scoring = "max",
                 hnsw: dict[str, Any] | None = None):
        if index not in INDEX_KINDS:
            raise BadInputError(f"index must be one of {', '.join(INDEX_KINDS)}, not {index!r}")
        if scoring not in SCORINGS:
            raise BadInputError(f"scoring must be one of {SCORINGS}, not {scoring!r}")
        self.repository = GalleryRepository(db, key=key, create_key=create_key)
        self.scoring: Scoring = scoring
        folder = Path(index_dir) if index_dir else self._default_index_dir()
        hnsw = dict(hnsw or {})
        self.indexes = IndexCache(self.repository, "auto" if index == "pgvector" else index, folder, hnsw)
        try:  # None: search in process; else PostgreSQL + pgvector answers (pgvector.py)
            self.database_search = pgvector.open_search(self.repository, index, hnsw.get("expansion_search"))
        except BaseException:
            self.repository.close()
            raise

    def _default_index_dir(self) -> Path:
        path = self.repository.path
        if path is not None:
            return path.with_name(path.name + ".index")
        return config.data_dir() / "indexes" / str(self.gallery_id)

    @property
    def gallery_id(self) -> str:
        return self.repository.gallery_id

    @property
    def audit(self) -> AuditLog:
        """The hash-chained audit log (``entries``, ``verify``; ``append`` for an event of its own)."""
        return self.repository.audit

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self.repository.close()

    def __enter__(self) -> "Gallery":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def flush(self) -> None:
        """Write changed indexes to disk (done by ``close``; the database is always current)."""
        self.indexes.flush()

    def index_for(self, model: str) -> Any:
        return self.indexes.get(model)

    # ------------------------------------------------------------------ enrolment

    def enrol(self, name: str, templates: Sequence[Template] = (), *, embeddings: Any = None,
              model: str = DEFAULT_MODEL, metadata: dict[str, Any] | None = None, consent: Consent | None = None,
              add: bool = False) -> dict[str, Any]:
        """Enrol a new identity (or, with ``add=True``, add templates to an existing one) from
        Templates and/or precomputed ``embeddings`` of ``model``. Images: ``usecases.enrolment.enrol``."""
        name = check_name(name)
        if any(not isinstance(t, Template) for t in templates):
            raise BadInputError("Gallery.enrol takes Templates or embeddings; embed images with "
                                "facelens.usecases.enrolment.enrol")
        templates = list(templates) + (templates_from_vectors(embeddings, model) if embeddings is not None else [])
        if not templates:
            raise BadInputError(f"nothing to enrol for {name!r}: give images or embeddings")
        return self.enrol_records([EnrolRecord(name, templates, dict(metadata or {}), consent)], add=add)[0]

    def enrol_records(self, records: Sequence[EnrolRecord], *, add: bool = False, audit: bool = True,
                      also_audit: Sequence[AuditItem] = ()) -> list[dict[str, Any]]:
        """Write several identities in ONE transaction (the bulk path); ``also_audit``: further
        entries written in the same transaction."""
        if not records:
            return []
        with _gc_paused(len(records) >= GC_PAUSE_FROM):
            results, change = self.repository.insert(normalised_records(records), add=add, audit=audit,
                                                      also_audit=also_audit)
        self.indexes.apply(change)
        return results

    # ------------------------------------------------------------------ identification

    def identify(self, probe: Any, top_k: int = 5, *, model: str | None = None, scoring: Scoring | None = None,
                 threshold: float | None = None, record_unknown: bool = False,
                 audit: bool = True) -> list[Identification]:
        """One Identification per probe face. ``probe``: a Face with an embedding, a list of them
        (none: an image without a face), or one/several embeddings. Images:
        ``usecases.identification.identify``."""
        if isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or top_k < 1:
            raise BadInputError(f"top_k must be a whole number of at least 1, not {top_k!r}")
        model = model or DEFAULT_MODEL
        scoring = scoring or self.scoring
        if scoring not in SCORINGS:
            raise BadInputError(f"scoring must be one of {SCORINGS}")
        limit = float(threshold) if threshold is not None else identification_threshold(model, scoring)[0]
        probes = _probe_vectors(probe)
        found = self.search([v for v, _ in probes], model, top_k, scoring, limit) if probes else []
        results = [Identification(r.identity, r.similarity, r.threshold, r.candidates,
                                  face.box if face is not None else None, face)
                   for r, (_, face) in zip(found, probes)]
        if record_unknown or audit:
            unknown = [(v, f) for (v, f), r in zip(probes, results) if r.unknown] if record_unknown else []
            details = {"model": model, "faces": len(results), "matches": [r.identity for r in results if r.identity],
                       "unknown": sum(r.unknown for r in results)} if audit else None
            self.repository.record_identification(model, unknown, details)
        return results

    def search(self, vectors: Sequence[np.ndarray], model: str, top_k: int = 5,
               scoring: Scoring = "max", threshold: float = 0.0) -> list[Identification]:
        """Rank identities for each probe vector (no audit entry; used by identify and evaluation).

        Answered from memory (index, owners, names; index_cache.py) or, on a gallery searched
        in PostgreSQL, by the database (pgvector.py): either way, exact float32 similarities."""
        if not len(vectors):
            return []
        matrix = np.stack([normalised(v, "probe") for v in vectors])
        searcher = self.indexes if self.database_search is None else self.database_search
        dim = searcher.dim(model)
        if dim is None:
            return [open_set_decision([], threshold) for _ in vectors]
        if matrix.shape[1] != dim:
            raise BadInputError(f"probe has {matrix.shape[1]} values but {model} templates have {dim}")
        out = []
        for probe, found in zip(matrix, searcher.shortlist(model, matrix, top_k * 10 + 20)):
            means = self._mean_scores(searcher, model, probe, found, top_k) if scoring == "mean" else None
            out.append(open_set_decision(rank_identities(found.names, found.sims, top_k=top_k, member_sims=means),
                                         threshold))
        return out

    @staticmethod
    def _mean_scores(searcher: Any, model: str, probe: np.ndarray, found: Any, top_k: int) -> dict[str, float]:
        """Mean similarity over ALL templates of the shortlisted identities (mean scoring)."""
        best: dict[int, str] = {}
        for owner, name in zip(found.owners.tolist(), found.names):
            if name is not None and len(best) < top_k * 3:
                best.setdefault(owner, name)
        if not best:
            return {}
        owners, sims = searcher.member_sims(model, probe, np.fromiter(best, np.int64, len(best)))
        scores: dict[str, list[float]] = {}
        for owner, sim in zip(owners.tolist(), sims.tolist()):
            scores.setdefault(best[owner], []).append(sim)
        return {name: float(np.mean(values)) for name, values in scores.items()}

    # ------------------------------------------------------------------ reading

    def __len__(self) -> int:
        return self.repository.count()

    def __contains__(self, name: object) -> bool:
        return self.repository.count(name) > 0

    def list(self) -> list[dict[str, Any]]:
        return self.repository.list()

    def show(self, name: str) -> dict[str, Any]:
        return self.repository.show(name)

    def export(self, name: str) -> dict[str, Any]:
        """Everything stored about one person (subject access request), embeddings decrypted."""
        return self.repository.export(name)

    def template_owner(self, template_id: int) -> tuple[str, str]:
        """(identity name, model) of a stored template; NotFoundError when there is none."""
        return self.repository.template_owner(template_id)

    def list_page(self, contains: str | None = None, limit: int = 100, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
        """One page of ``list()``, names containing ``contains`` (any case), and how many match."""
        return self.repository.list_page(contains, limit, offset)

    def face_image(self, template_id: int) -> tuple[str, bytes | None]:
        """(owner's name, the PNG face crop kept when it was enrolled with ``keep_images``, or
        None). Not audited, like ``show``: access control is the caller's (the server's roles)."""
        return self.repository.face_image(template_id)

    def update(self, name: str, *, metadata: dict[str, Any] | None = None, consent: Consent | None = None,
               replace_metadata: bool = False, by: str | None = None) -> dict[str, Any]:
        """Change an identity's metadata (merged into the stored one, or replacing it) and/or its
        consent record, audited as ``identity.update``; returns ``show(name)``."""
        if metadata is None and consent is None:
            raise BadInputError("nothing to change: give metadata and/or consent")
        self.repository.update_identity(name, metadata=metadata, consent=consent,
                                        replace_metadata=replace_metadata, by=by)
        return self.show(name)

    def templates_of(self, name: str, model: str = DEFAULT_MODEL) -> list[StoredTemplate]:
        """``name``'s templates for ``model``, decrypted, oldest first (NotFoundError if not
        enrolled). Not audited: nothing leaves the process (access control compares against them);
        ``export`` is the audited way to hand templates out."""
        return self.repository.templates_of(name, model)

    # ------------------------------------------------------------------ erasure and retention

    def delete(self, name: str, *, reason: str = "erasure request") -> dict[str, Any]:
        """Erase an identity: its templates leave the database and the index (persisted now)."""
        return self.erase([name], "delete", reason)[0]

    def erase(self, names: Iterable[str], event: str, reason: str) -> list[dict[str, Any]]:
        """Erase identities, each audited as ``event`` with ``reason``, in one transaction."""
        reports, change = self.repository.erase(names, event, reason)
        self.indexes.apply(change)
        return reports

    def remove_templates(self, ids_by_model: dict[str, list[int]], reason: str,
                         also_audit: Sequence[AuditItem] = ()) -> int:
        """Delete single templates (not identities) from the DB and index, audited with ``reason``."""
        if not ids_by_model:
            return 0
        count, change = self.repository.delete_templates(ids_by_model, reason, also_audit)
        self.indexes.apply(change)
        return count

    def purge(self, *, max_age_days: float | None = None, now: datetime | None = None,
              dry_run: bool = False) -> dict[str, Any]:
        """Retention (see retention.py): erase identities past consent expiry and old templates."""
        return retention.purge(self, max_age_days=max_age_days, now=now, dry_run=dry_run)

    # ------------------------------------------------------------------ unknown faces

    def unknowns(self, model: str = DEFAULT_MODEL) -> tuple[np.ndarray, np.ndarray]:
        """(ids, vectors) of stored unmatched faces of ``model``."""
        return self.repository.unknowns(model)

    def add_unknowns(self, vectors: np.ndarray, model: str = DEFAULT_MODEL,
                     sources: Sequence[str | None] | None = None) -> None:
        """Keep unmatched faces (encrypted) for clustering; ``sources``: where each was seen
        (e.g. ``alert:<id>``), read back with ``unknown_sources``."""
        rows = [normalised(v, "unknown") for v in np.atleast_2d(vectors)]
        if sources is not None and len(sources) != len(rows):
            raise BadInputError(f"{len(sources)} sources for {len(rows)} unknown faces")
        self.repository.add_unknowns(model, rows, sources)

    def unknown_sources(self, ids: list[int]) -> dict[int, str | None]:
        """Where each stored unknown face was seen, by id (None: not recorded)."""
        return self.repository.unknown_sources(ids)

    def forget_unknowns(self, ids: list[int], event: AuditItem) -> None:
        """Delete stored unknown faces (promoted to an identity), audited as ``event``."""
        self.repository.delete_unknowns(ids, event)

    # ------------------------------------------------------------------ other subsystems' tables

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A read session on the gallery database (access and analytics tables live there too)."""
        with self.repository.reading() as session:
            yield session

    @contextmanager
    def change(self) -> Iterator[Change]:
        """One write transaction: ``change.session`` for the caller's tables, ``change.audit(...)``
        for its audit entries, committed together."""
        with self.repository.change() as change:
            yield change

    def meta(self, key: str) -> str | None:
        """A value of the gallery's meta table (e.g. ``access_schema``)."""
        return self.repository.meta(key)

    def seal(self, data: bytes, context: str) -> bytes:
        """Encrypt another subsystem's data with the gallery key; ``context`` (e.g.
        ``access-image|alice``) is bound in, so the blob opens only for the same context."""
        return self.repository.seal(data, context)

    def unseal(self, blob: bytes, context: str) -> bytes:
        return self.repository.unseal(blob, context)


def _probe_vectors(probe: Any) -> list[tuple[np.ndarray, Any]]:
    """(unit vector, Face or None) per probe face."""
    from ..types import Face

    faces = [probe] if isinstance(probe, Face) else probe
    if isinstance(faces, (list, tuple)) and all(isinstance(f, Face) for f in faces):
        if any(f.embedding is None for f in faces):
            raise BadInputError("the Face given as probe has no embedding")
        return [(normalised(f.embedding, "probe"), f) for f in faces]
    if isinstance(probe, np.ndarray) and probe.dtype != np.uint8 and probe.ndim in (1, 2):
        return [(normalised(row, "probe"), None) for row in np.atleast_2d(probe)]
    raise BadInputError("Gallery.identify takes Faces or embeddings; for an image use "
                        "facelens.usecases.identification.identify")
