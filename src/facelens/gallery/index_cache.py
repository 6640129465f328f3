"""The in-memory search index of each model's templates, kept in step with the database.

The database is the truth; the index (with the owner of every template and the owners' names,
see index.py) is derived data, so a search reads no database row. After our own commit it is
patched directly (``apply``); when another process changed the database (the model's generation
counter moved: one primary-key read on a connection kept for it) it is diffed against the
template ids in the database and repaired. Indexes are written back, encrypted, beside the
database (``<db>.index/<model>.idx``) so the next process need not rebuild them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import StorageError
from . import index as index_mod
from .repository import GalleryRepository, IndexChange

REBUILD_STREAM_FROM = 2000  # missing templates beyond this are streamed, not fetched by huge IN (...) lists


SEARCH_SETTINGS = ("expansion_search", "rerank", "search_threads")  # HNSWIndex attributes


@dataclass
class _Cached:
    index: Any
    names: index_mod.NameTable
    generation: int


@dataclass(frozen=True)
class Shortlist:
    """One probe's best templates: exact similarities (best first), owner identity ids and names."""

    names: list[str | None]
    sims: np.ndarray
    owners: np.ndarray


class IndexCache:
    """One index per model. ``kind``: auto (exact below ``index.AUTO_HNSW_FROM`` templates, HNSW
    above), exact or hnsw."""

    def __init__(self, repository: GalleryRepository, kind: str, folder: Path, hnsw: dict[str, Any]):
        self.repository = repository
        self.kind = kind
        self.folder = folder
        self.hnsw = hnsw
        self._indexes: dict[str, _Cached] = {}
        self._dirty: set[str] = set()

    def path(self, model: str) -> Path:
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in model)
        return self.folder / f"{safe}.idx"

    def apply(self, change: IndexChange) -> None:
        """Follow a committed change; removals are written to disk at once (an erased person's
        template must not linger in an index file)."""
        for model, (before, after) in change.generations.items():
            self._patch(model, before, after, change)
            if model in change.removed:
                if model in self._indexes:
                    self._save(model)
                elif self.path(model).exists():
                    self.get(model)  # loads, drops the erased ids, rewrites the file

    def _patch(self, model: str, before: int, after: int, change: IndexChange) -> None:
        cached = self._indexes.get(model)
        if cached is None or cached.generation != before:
            return  # not loaded (or someone else wrote in between): repaired on next use
        added = change.added.get(model)
        if added is not None and len(added.keys):
            if not len(cached.index) and cached.index.dim != added.vectors.shape[1]:  # first templates
                cached.index = index_mod.make_index(self.kind, added.vectors.shape[1], len(added.keys), **self.hnsw)
            cached.index.add(added.keys, added.vectors, added.owners)
            cached.names.update(added.names)
        removed = np.array(change.removed.get(model, []), dtype=np.int64)
        if len(removed):
            cached.index.remove(removed)
            cached.names.retain(cached.index.table.owners)
        cached.generation = after
        self._dirty.add(model)

    def get(self, model: str) -> Any:
        """The search index of ``model``'s templates, loaded, repaired or rebuilt as needed."""
        return self._current(model).index

    def shortlist(self, model: str, probes: np.ndarray, count: int) -> list[Shortlist]:
        """Per probe, its ``count`` best templates with exact similarities and their owners'
        ids and names — from memory only."""
        cached = self._current(model)
        if not len(cached.index):
            return [Shortlist([], np.empty(0, np.float32), np.empty(0, np.int64)) for _ in probes]
        keys, sims = cached.index.search(probes, min(count, len(cached.index)))
        owners = cached.index.table.owners_of(keys)
        return [Shortlist(cached.names.lookup(row), row_sims, row) for row, row_sims in zip(owners, sims)]

    def dim(self, model: str) -> int | None:
        """Vector size of ``model``'s templates; None while there are none."""
        index = self._current(model).index
        return index.dim if len(index) else None

    def member_sims(self, model: str, probe: np.ndarray, owner_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(owner identity id, exact similarity to ``probe``) of every template of the given identities."""
        index = self._current(model).index
        rows = np.flatnonzero(np.isin(index.table.owners, owner_ids))
        return index.table.owners[rows], index.get(index.table.keys[rows]) @ probe

    def _current(self, model: str) -> _Cached:
        generation = self.repository.generation(model)
        cached = self._indexes.get(model)
        if cached is not None and cached.generation == generation:
            return cached
        if cached is None:
            cached = self._load(model)
            if cached is not None and cached.generation == generation and self._kind_ok(cached.index, len(cached.index)):
                self._indexes[model] = cached
                return cached
        db_ids = self.repository.template_ids(model)
        if cached is None or not self._kind_ok(cached.index, len(db_ids)):
            dim = self.repository.dim_of(model)
            index = index_mod.make_index(self.kind, dim or 1, len(db_ids), **self.hnsw)
            index.reserve(len(db_ids))
            cached = _Cached(index, index_mod.NameTable(), generation)
            missing, extra = db_ids, np.empty(0, np.int64)
        else:
            have = cached.index.keys()
            missing = np.setdiff1d(db_ids, have, assume_unique=True)
            extra = np.setdiff1d(have, db_ids, assume_unique=True)
        if len(extra):
            cached.index.remove(extra)
            cached.names.retain(cached.index.table.owners)
        batches = (self.repository.stream_vectors(model, missing) if len(missing) > REBUILD_STREAM_FROM
                   else [self.repository.load_vectors(model, missing)] if len(missing) else [])
        for batch in batches:
            cached.index.add(batch.keys, batch.vectors, batch.owners)
            cached.names.update(batch.names)
        cached.generation = generation
        self._indexes[model] = cached
        self._save(model)
        return cached

    def _load(self, model: str) -> _Cached | None:
        loaded = self.repository.read_index_file(self.path(model))
        if loaded is None:
            return None
        found, names, header = loaded
        if header.get("gallery_id") != self.repository.gallery_id or header.get("model") != model:
            return None
        if found.kind == "hnsw":
            store = self.hnsw.get("store", index_mod.HNSW_DEFAULTS["store"])
            if found.table.convert(store):  # e.g. a float32 table from an older file
                self._dirty.add(model)
            # search-time settings need no rebuild: this gallery's (or today's defaults) win over
            # those saved in the file, so an upgrade's new default beam reaches existing files
            for name in SEARCH_SETTINGS:
                setattr(found, name, self.hnsw.get(name, index_mod.HNSW_DEFAULTS[name]))
        return _Cached(found, names, int(header.get("generation", -1)))

    def _kind_ok(self, found: Any, count: int) -> bool:
        if self.kind != "auto":
            return found.kind == self.kind
        wanted = "hnsw" if count >= index_mod.AUTO_HNSW_FROM else "exact"
        # hysteresis: an HNSW index is kept until the gallery shrinks well below the switch point
        return found.kind == wanted or (found.kind == "hnsw" and count >= index_mod.AUTO_HNSW_FROM // 2)

    def _save(self, model: str) -> None:
        cached = self._indexes.get(model)
        if cached is None:
            return
        if cached.generation != self.repository.generation(model):
            # another process changed the database since this copy was current: writing it would
            # put back what that change removed (an erased person's template) until a reload
            self._dirty.discard(model)
            return
        header = {"gallery_id": self.repository.gallery_id, "model": model, "generation": cached.generation}
        try:
            self.repository.write_index_file(self.path(model), cached.index, cached.names, header)
        except OSError as exc:
            raise StorageError(f"cannot write index file {self.path(model)}: {exc}") from None
        self._dirty.discard(model)

    def flush(self) -> None:
        """Write changed indexes to disk (the database is always current)."""
        for model in list(self._dirty):
            self._save(model)
