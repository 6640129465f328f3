"""In-memory search over one embedding model's templates: exact (numpy) and HNSW (usearch).

Everything a search decision needs lives here, so ``Gallery.search`` touches no database row:

* ``TemplateTable``: template id → (owner identity id, vector), ids kept sorted. Exact search
  scans a float32 table; HNSW results are re-ranked against the table, float16 by default for
  an HNSW index (half the bytes; an inner product of float16-stored unit vectors differs from
  the float32 one by < 1e-3, measured on real LFW embeddings in tests/gallery/test_index_store.py).
* ``HNSWIndex``: a usearch graph over a *quantised* copy of the vectors (int8 by default) that
  proposes ``rerank`` candidates per probe; the table re-scores them.
* ``NameTable``: identity id → name, for the identities that own templates here.

Keys are template ids from the database; similarity is cosine (embeddings are L2-normalised,
so the inner product). ``make_index("auto", n)`` picks exact search below ``AUTO_HNSW_FROM``
templates and HNSW above; ``"exact"`` / ``"hnsw"`` override it. The defaults come from the
curves of ``bench/bench_gallery.py`` (docs/gallery.md).

The index is derived data. On disk it is one file per model, encrypted with the gallery key
(the vectors are as sensitive as the templates) and stamped with the gallery id and the
generation counter it reflects, so a stale or foreign file is noticed and rebuilt.
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Union

import numpy as np

from ..errors import KeyMaterialError, StorageError
from .crypto import Cipher

AUTO_HNSW_FROM = 20_000
"""Exact search is always right and costs ~1.3 ms per 192-d probe at 10k templates, 3 ms at 20k,
11 ms at 100k, ~60 ms at 1M (single-thread BLAS, `bench/bench_gallery.py --exact-sweep`).
HNSW with exact re-ranking answers in well under 1 ms at 100k with recall@1 ≥ 0.99 on
real-distribution embeddings (docs/gallery.md), so it takes over where exact passes ~3 ms."""
HNSW_DEFAULTS: dict[str, Any] = {"connectivity": 32, "expansion_add": 128, "expansion_search": 320, "dtype": "i8",
                                 "rerank": 32, "store": "f16", "search_threads": 1}
"""Graph degree M, build and search beam width, graph scalar type, candidates re-ranked, re-rank
store scalar type, usearch workers for one probe. From the measured curves (docs/gallery.md,
real LFW + generated distractors, ``bench/bench_gallery.py``): after re-ranking, int8, float16
and float32 graphs find the same templates, and int8 searches fastest and builds ~1.7× faster
than float32; M=32 lifts recall@1 at ef 128 from 0.976 to 0.997 (100k). At 1M ef 320 is the
first beam with recall@1 ≥ 0.99 (0.992 at p50 ~2.1 ms; ef 256: 0.988 at ~1.9 ms; ef 384: 0.995
at ~2.6 ms). A float16 re-rank store gives the same recall as float32 at half its bytes
(index + table: 1.13× the raw float32 vectors instead of 1.63×); one search thread is as fast
as a pool for one probe (2.19 vs 2.23 ms at ef 320)."""
DTYPES = ("i8", "f16", "f32")
STORES = {"f32": np.float32, "f16": np.float16}  # the re-rank table's scalar type
MAGIC = b"FLIDX3\n"  # 3: the table records its scalar type (float16 re-rank store)
OLD_MAGICS = (b"FLIDX2\n",)  # still read: a float32 table
CHUNK = 64 << 20  # AES-GCM is applied per 64 MiB chunk (one call is limited to 2 GiB)
COMPACT_CHUNK = 65536  # rows moved at a time when templates leave the table (bounded scratch memory)


def _as_matrix(vectors: np.ndarray, dim: int) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(vectors, dtype=np.float32).reshape(-1, dim))


def _raw(array: np.ndarray) -> memoryview:
    """The bytes of an array without copying it (empty arrays included)."""
    return memoryview(np.ascontiguousarray(array).reshape(-1).view(np.uint8))


def _as_keys(keys: Any) -> np.ndarray:
    return np.asarray(keys, dtype=np.int64).reshape(-1)


class TemplateTable:
    """Sorted template ids with their owner identity ids and vectors (float32 or float16).

    Arrays grow in 1/16 steps (appends are the common case: ids only increase), and removal
    moves the rows after the first removed one down in place, a chunk at a time, so an erasure
    at 1M templates needs no second copy of the table."""

    def __init__(self, dim: int, capacity: int = 0, with_vectors: bool = True, store: str = "f32"):
        self.dim = dim
        self._n = 0
        self._keys = np.empty(capacity, np.int64)
        self._owners = np.empty(capacity, np.int64)
        # without vectors (a float32 graph holds them exactly) the matrix is zero columns wide
        self._vectors = np.empty((capacity, dim if with_vectors else 0), STORES[store])

    @property
    def store(self) -> str:
        return "f16" if self._vectors.dtype == np.float16 else "f32"

    def convert(self, store: str) -> bool:
        """Keep the vectors in ``store`` from now on (True if that changed anything)."""
        if store == self.store or not self.with_vectors:
            return False
        self._vectors = self._vectors.astype(STORES[store])
        return True

    @property
    def with_vectors(self) -> bool:
        return self._vectors.shape[1] > 0

    def __len__(self) -> int:
        return self._n

    @property
    def keys(self) -> np.ndarray:
        return self._keys[:self._n]

    @property
    def owners(self) -> np.ndarray:
        return self._owners[:self._n]

    @property
    def vectors(self) -> np.ndarray:
        return self._vectors[:self._n]

    @property
    def nbytes(self) -> int:
        return self._keys.nbytes + self._owners.nbytes + self._vectors.nbytes

    def reserve(self, total: int) -> None:
        if total <= len(self._keys):
            return
        for name in ("_keys", "_owners", "_vectors"):
            old = getattr(self, name)
            grown = np.empty((total, *old.shape[1:]), old.dtype)
            grown[:self._n] = old[:self._n]
            setattr(self, name, grown)

    def shrink_to_fit(self) -> None:
        if len(self._keys) > self._n:
            self._keys, self._owners = self._keys[:self._n].copy(), self._owners[:self._n].copy()
            self._vectors = self._vectors[:self._n].copy()

    def add(self, keys: Any, vectors: Any, owners: Any) -> None:
        keys = _as_keys(keys)
        if not len(keys):
            return
        vectors, owners = _as_matrix(vectors, self.dim), _as_keys(owners)
        if len(vectors) != len(keys) or len(owners) != len(keys):
            raise ValueError("keys, vectors and owners must have one row each")
        order = np.argsort(keys, kind="stable")
        keys, vectors, owners = keys[order], vectors[order], owners[order]
        start, end = self._n, self._n + len(keys)
        if end > len(self._keys):  # 1/16 headroom: at 1M a copy every ~60k new templates, 6 % RAM slack
            self.reserve(max(end, len(self._keys) + len(self._keys) // 16 + 1024))
        self._keys[start:end], self._owners[start:end] = keys, owners
        if self.with_vectors:
            self._vectors[start:end] = vectors
        self._n = end
        if start and keys[0] <= self._keys[start - 1]:  # not a pure append: restore the order
            order = np.argsort(self._keys[:end], kind="stable")
            for name in ("_keys", "_owners", "_vectors"):
                array = getattr(self, name)
                array[:end] = array[:end][order]

    def rows(self, keys: Any) -> np.ndarray:
        """Row of each key, -1 where the key is not here."""
        keys = _as_keys(keys)
        if not self._n:
            return np.full(len(keys), -1, np.int64)
        rows = np.minimum(np.searchsorted(self.keys, keys), self._n - 1)
        return np.where(self.keys[rows] == keys, rows, -1)

    def remove(self, keys: Any) -> int:
        doomed = self.rows(keys)
        doomed = np.unique(doomed[doomed >= 0])
        if not len(doomed):
            return 0
        keep = np.ones(self._n, bool)
        keep[doomed] = False
        destination = int(doomed[0])
        for start in range(destination, self._n, COMPACT_CHUNK):
            kept = np.flatnonzero(keep[start:start + COMPACT_CHUNK]) + start
            for name in ("_keys", "_owners", "_vectors"):
                array = getattr(self, name)
                array[destination:destination + len(kept)] = array[kept]  # fancy index reads a copy first
            destination += len(kept)
        self._vectors[destination:self._n] = 0  # erased vectors do not linger in memory
        self._n = destination
        return len(doomed)

    def get(self, keys: Any) -> np.ndarray:
        rows = self.rows(keys)
        if (rows < 0).any() or not self.with_vectors:
            raise KeyError("template id not in index" if self.with_vectors else "this table holds no vectors")
        return self._vectors[rows].astype(np.float32)

    def owners_of(self, keys: Any) -> np.ndarray:
        """Owner identity id of each key, -1 where the key is not here (e.g. padding)."""
        shape = np.shape(keys)
        rows = self.rows(keys)
        owners = np.where(rows >= 0, self._owners[np.maximum(rows, 0)] if self._n else -1, -1)
        return owners.reshape(shape)

    def parts(self) -> list[memoryview]:
        head = struct.pack("<qqqq", self._n, self.dim, self._vectors.shape[1], self._vectors.itemsize)
        return [memoryview(head), _raw(self.keys), _raw(self.owners), _raw(self.vectors)]

    @classmethod
    def from_buffer(cls, data: memoryview, offset: int, version: int = 3) -> tuple["TemplateTable", int]:
        if version >= 3:
            n, dim, width, itemsize = struct.unpack_from("<qqqq", data, offset)
            offset += 32
        else:  # format 2: always float32
            (n, dim, width), itemsize = struct.unpack_from("<qqq", data, offset), 4
            offset += 24
        store = {4: "f32", 2: "f16"}[itemsize]
        table = cls(dim, with_vectors=width > 0, store=store)
        # copies: views would keep the whole decrypted file (graph included) alive
        table._keys = np.frombuffer(data, np.int64, n, offset).copy()
        table._owners = np.frombuffer(data, np.int64, n, offset + 8 * n).copy()
        table._vectors = np.frombuffer(data, STORES[store], n * width, offset + 16 * n).reshape(n, width).copy()
        table._n = n
        return table, offset + 16 * n + itemsize * n * width


class NameTable:
    """Identity id → name for the identities owning templates in one index (sorted ids and an
    object array of names: about half the memory of a dict at 1M identities)."""

    def __init__(self) -> None:
        self._ids = np.empty(0, np.int64)
        self._names = np.empty(0, object)

    def __len__(self) -> int:
        return len(self._ids)

    def update(self, names: dict[int, str]) -> None:
        fresh = {int(i): n for i, n in names.items()}
        if not fresh:
            return
        known = self._rows(np.fromiter(fresh, np.int64, len(fresh)))
        for (identity, name), row in zip(fresh.items(), known):
            if row >= 0:
                self._names[row] = name
        new = [(i, n) for (i, n), row in zip(fresh.items(), known) if row < 0]
        if new:
            ids = np.concatenate([self._ids, np.array([i for i, _ in new], np.int64)])
            names = np.empty(len(new), object)
            names[:] = [n for _, n in new]
            order = np.argsort(ids, kind="stable")
            self._ids, self._names = ids[order], np.concatenate([self._names, names])[order]

    def _rows(self, ids: np.ndarray) -> np.ndarray:
        if not len(self._ids):
            return np.full(len(ids), -1, np.int64)
        rows = np.minimum(np.searchsorted(self._ids, ids), len(self._ids) - 1)
        return np.where(self._ids[rows] == ids, rows, -1)

    def lookup(self, ids: Any) -> list[str | None]:
        ids = _as_keys(ids)
        rows = self._rows(ids)
        return [self._names[r] if r >= 0 else None for r in rows.tolist()]

    def retain(self, owners: np.ndarray) -> None:
        """Forget identities that own no template here any more (an erased person's name leaves memory)."""
        keep = np.isin(self._ids, owners)
        if not keep.all():
            self._ids, self._names = self._ids[keep], self._names[keep]

    def parts(self) -> list[memoryview]:
        encoded = [n.encode("utf-8", "surrogatepass") for n in self._names.tolist()]
        lengths = np.fromiter((len(e) for e in encoded), np.int32, len(encoded))
        return [memoryview(struct.pack("<q", len(self._ids))), _raw(self._ids), _raw(lengths),
                memoryview(b"".join(encoded))]

    @classmethod
    def from_buffer(cls, data: memoryview, offset: int) -> tuple["NameTable", int]:
        (n,) = struct.unpack_from("<q", data, offset)
        offset += 8
        table = cls()
        table._ids = np.frombuffer(data, np.int64, n, offset).copy()
        lengths = np.frombuffer(data, np.int32, n, offset + 8 * n)
        offset += 12 * n
        ends = offset + np.cumsum(lengths, dtype=np.int64)
        starts = ends - lengths
        table._names = np.empty(n, object)
        table._names[:] = [bytes(data[s:e]).decode("utf-8", "surrogatepass") for s, e in zip(starts.tolist(), ends.tolist())]
        return table, int(ends[-1]) if n else offset


class ExactIndex:
    """Brute-force inner product over the table: always right, O(n) per probe."""

    kind = "exact"

    def __init__(self, dim: int, table: TemplateTable | None = None):
        self.dim = dim
        self.table = table if table is not None else TemplateTable(dim)

    def __len__(self) -> int:
        return len(self.table)

    def reserve(self, total: int) -> None:
        self.table.reserve(total)

    def add(self, keys: Any, vectors: Any, owners: Any = None) -> None:
        keys = _as_keys(keys)
        self.table.add(keys, vectors, np.full(len(keys), -1, np.int64) if owners is None else owners)

    def remove(self, keys: Any) -> None:
        self.table.remove(keys)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        queries = _as_matrix(queries, self.dim)
        n = len(self.table)
        k = min(k, n)
        if k == 0:
            return np.empty((len(queries), 0), np.int64), np.empty((len(queries), 0), np.float32)
        sims = queries @ self.table.vectors.T
        if k < n:
            part = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        else:
            part = np.broadcast_to(np.arange(n), (len(queries), n))
        top = np.take_along_axis(sims, part, axis=1)
        order = np.argsort(-top, axis=1, kind="stable")
        rows = np.take_along_axis(part, order, axis=1)
        return self.table.keys[rows], np.take_along_axis(top, order, axis=1)

    def get(self, keys: Any) -> np.ndarray:
        return self.table.get(keys)

    def keys(self) -> np.ndarray:
        return self.table.keys.copy()

    @property
    def memory_usage(self) -> int:
        return self.table.nbytes

    def parts(self) -> list[memoryview]:
        return self.table.parts()

    @classmethod
    def from_buffer(cls, data: memoryview, offset: int, params: dict, version: int = 3) -> tuple["ExactIndex", int]:
        table, offset = TemplateTable.from_buffer(data, offset, version)
        if table.store != "f32":
            raise ValueError("an exact index keeps float32 vectors")
        return cls(table.dim, table), offset


class HNSWIndex:
    """usearch HNSW over a quantised copy of the vectors + re-ranking against the table.

    The graph (inner-product metric) stores ``dtype`` scalars: int8 by default, a quarter of
    float32, and the fastest distance kernel on this machine. It proposes the best ``rerank``
    candidates per probe (at least the ``k`` asked for); those are re-scored in float32
    arithmetic with the table's vectors (``store``: float16 by default, or float32) and
    re-sorted, so the graph's int8 error changes no similarity and no threshold decision, only
    (rarely) which candidates are found: recall is measured. float16 storage moves a similarity
    by < 1e-3 (typically ~1e-5). ``search_threads``: usearch workers for a one-probe search (one
    probe walks the graph in one thread anyway); ``threads``: for builds and many-probe searches.
    """

    kind = "hnsw"

    def __init__(self, dim: int, connectivity: int = HNSW_DEFAULTS["connectivity"],
                 expansion_add: int = HNSW_DEFAULTS["expansion_add"],
                 expansion_search: int = HNSW_DEFAULTS["expansion_search"], dtype: str = HNSW_DEFAULTS["dtype"],
                 rerank: int = HNSW_DEFAULTS["rerank"], store: str = HNSW_DEFAULTS["store"], threads: int = 0,
                 search_threads: int = HNSW_DEFAULTS["search_threads"], table: TemplateTable | None = None):
        from usearch.index import Index as UIndex

        if dtype not in DTYPES:
            raise ValueError(f"HNSW dtype must be one of {DTYPES}, not {dtype!r}")
        if store not in STORES:
            raise ValueError(f"HNSW re-rank store must be one of {tuple(STORES)}, not {store!r}")
        self.dim = dim
        self.threads = threads
        self.search_threads = int(search_threads)
        self.rerank = int(rerank)
        self._params = dict(connectivity=int(connectivity), expansion_add=int(expansion_add),
                            expansion_search=int(expansion_search), dtype=dtype)
        self._index = UIndex(ndim=dim, metric="ip", **self._params)
        # a float32 graph scores exactly: no re-ranking, and no second copy of the vectors
        self.exact_in_graph = dtype == "f32"
        self.table = table if table is not None else TemplateTable(dim, with_vectors=not self.exact_in_graph,
                                                                   store=store)

    @property
    def params(self) -> dict[str, Any]:
        return {**self._params, "expansion_search": int(self._index.expansion_search), "rerank": self.rerank,
                "store": self.table.store, "search_threads": self.search_threads}

    @property
    def expansion_search(self) -> int:
        return int(self._index.expansion_search)

    @expansion_search.setter
    def expansion_search(self, value: int) -> None:
        self._index.expansion_search = int(value)

    def __len__(self) -> int:
        return len(self.table)

    def reserve(self, total: int) -> None:
        self.table.reserve(total)  # usearch grows its own arena

    def add(self, keys: Any, vectors: Any, owners: Any = None) -> None:
        keys = _as_keys(keys)
        if not len(keys):
            return
        vectors = _as_matrix(vectors, self.dim)
        self.table.add(keys, vectors, np.full(len(keys), -1, np.int64) if owners is None else owners)
        self._index.add(keys.astype(np.uint64), vectors, threads=self.threads)

    def remove(self, keys: Any) -> None:
        keys = _as_keys(keys)
        keys = keys[self.table.rows(keys) >= 0]
        if not len(keys):
            return
        self.table.remove(keys)
        # usearch's remove only unlinks a node: its vector bytes stay in memory and in the saved
        # file until the slot is reused. Re-adding the keys with a placeholder vector reuses
        # (overwrites) exactly those slots; removing them again leaves no trace of the person.
        ukeys = keys.astype(np.uint64)
        self._index.remove(ukeys)
        placeholder = np.zeros((len(keys), self.dim), np.float32)
        placeholder[:, 0] = 1.0
        self._index.add(ukeys, placeholder, threads=self.threads)
        self._index.remove(ukeys)

    def candidates(self, queries: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
        """The graph's ``count`` best keys per probe and its similarities, -1 / -inf padded."""
        count = min(count, len(self._index))
        threads = self.search_threads if len(queries) == 1 else self.threads  # many probes: a pool helps
        matches = self._index.search(queries, count, threads=threads)
        keys = np.full((len(queries), count), -1, np.int64)
        sims = np.full((len(queries), count), -np.inf, np.float32)
        if not hasattr(matches, "counts"):  # one probe: usearch answers Matches, unpadded
            found = np.asarray(matches.keys, dtype=np.int64).reshape(-1)
            keys[0, :len(found)] = found
            sims[0, :len(found)] = 1.0 - np.asarray(matches.distances, np.float32).reshape(-1)
            return keys, sims
        counts = np.asarray(matches.counts).reshape(-1)
        valid = np.arange(count)[None, :] < counts[:, None]
        found = np.asarray(matches.keys, dtype=np.int64).reshape(len(queries), -1)[:, :count]
        distances = np.asarray(matches.distances, np.float32).reshape(len(queries), -1)[:, :count]
        keys[valid], sims[valid] = found[valid], 1.0 - distances[valid]
        return keys, sims

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        queries = _as_matrix(queries, self.dim)
        k = min(k, len(self.table))
        if k == 0:
            return np.empty((len(queries), 0), np.int64), np.empty((len(queries), 0), np.float32)
        if self.exact_in_graph:  # float32 graph: its inner products are the exact ones
            return self.candidates(queries, k)
        keys, _ = self.candidates(queries, max(k, self.rerank))
        return self.rescore(queries, keys, k)

    def rescore(self, queries: np.ndarray, keys: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The best ``k`` of the graph's candidate ``keys`` per probe, scored with the table's vectors."""
        rows = self.table.rows(keys).reshape(keys.shape)
        vectors = self.table.vectors[np.maximum(rows, 0)].astype(np.float32)  # (queries, candidates, dim)
        sims = np.einsum("qcd,qd->qc", vectors, queries)
        sims[rows < 0] = -np.inf
        order = np.argsort(-sims, axis=1, kind="stable")[:, :k]
        keys = np.where(rows >= 0, keys, -1)
        return np.take_along_axis(keys, order, 1), np.take_along_axis(sims, order, 1).astype(np.float32)

    def get(self, keys: Any) -> np.ndarray:
        if not self.exact_in_graph:
            return self.table.get(keys)
        keys = _as_keys(keys)
        if (self.table.rows(keys) < 0).any():
            raise KeyError("template id not in index")
        if not len(keys):
            return np.empty((0, self.dim), np.float32)
        return np.asarray(self._index.get(keys.astype(np.uint64), dtype=np.float32), np.float32).reshape(len(keys), self.dim)

    def keys(self) -> np.ndarray:
        return self.table.keys.copy()

    @property
    def graph_memory_usage(self) -> int:
        return int(self._index.memory_usage)

    @property
    def memory_usage(self) -> int:
        """Bytes held: the usearch graph with its quantised vectors (its reserved arenas), plus the table."""
        return self.graph_memory_usage + self.table.nbytes

    def parts(self) -> list[memoryview]:
        graph = self._index.save()
        return [*self.table.parts(), memoryview(struct.pack("<q", len(graph))), memoryview(graph)]

    @classmethod
    def from_buffer(cls, data: memoryview, offset: int, params: dict, version: int = 3) -> tuple["HNSWIndex", int]:
        from usearch.index import Index as UIndex

        table, offset = TemplateTable.from_buffer(data, offset, version)
        (size,) = struct.unpack_from("<q", data, offset)
        offset += 8
        # the table decides the store; the saved parameters the rest (older files lack some)
        kept = {k: v for k, v in params.items() if k not in ("threads", "store")}
        index = cls(table.dim, table=table, store=table.store, **kept)
        restored = UIndex.restore(data[offset:offset + size])
        if restored is None or len(restored) != len(table):
            raise StorageError("index file holds no usable usearch index")
        restored.expansion_search = index._params["expansion_search"]
        index._index = restored
        return index, offset + size


Index = Union[ExactIndex, HNSWIndex]


def make_index(kind: str, dim: int, count: int = 0, **hnsw: Any) -> Index:
    if kind == "auto":
        kind = "hnsw" if count >= AUTO_HNSW_FROM else "exact"
    if kind == "exact":
        return ExactIndex(dim)
    if kind == "hnsw":
        return HNSWIndex(dim, **hnsw)
    raise ValueError(f"unknown index kind {kind!r}; expected auto, exact or hnsw")


# ---------------------------------------------------------------- encrypted persistence


def _aad(header: bytes, chunk: int, last: bool, magic: bytes | None = None) -> bytes:
    return (magic or MAGIC) + header + struct.pack("<I?", chunk, last)


def _chunks(parts: list[memoryview], size: int) -> Iterator[bytes]:
    """The concatenation of ``parts`` in pieces of ``size`` bytes, without joining it whole."""
    pending: list[memoryview] = []
    have = 0
    for part in parts:
        while len(part):
            take = part[:size - have]
            pending.append(take)
            have += len(take)
            part = part[len(take):]
            if have == size:
                yield b"".join(pending)
                pending, have = [], 0
    if pending or not parts:
        yield b"".join(pending)


def save(path: Path, index: Index, names: NameTable, header: dict, cipher: Cipher) -> None:
    """Write atomically (temp file + fsync + rename): a crash leaves the old file or the new one."""
    parts = [*index.parts(), *names.parts()]
    total = sum(len(p) for p in parts)
    header = dict(header, kind=index.kind, dim=index.dim, count=len(index), payload_bytes=total)
    if isinstance(index, HNSWIndex):
        header["params"] = index.params
    head = json.dumps(header, sort_keys=True).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    chunks = max(1, -(-total // CHUNK))
    try:
        with open(tmp, "wb") as out:
            out.write(MAGIC + struct.pack("<I", len(head)) + head)
            for number, piece in enumerate(_chunks(parts, CHUNK)):
                sealed = cipher.encrypt(piece, _aad(head, number, number == chunks - 1))
                out.write(struct.pack("<Q", len(sealed)) + sealed)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def read_header(path: Path) -> dict | None:
    try:
        with open(path, "rb") as handle:
            if handle.read(len(MAGIC)) not in (MAGIC, *OLD_MAGICS):
                return None
            (size,) = struct.unpack("<I", handle.read(4))
            return json.loads(handle.read(size))
    except (OSError, ValueError, struct.error):
        return None


def _decrypt_payload(handle: Any, head: bytes, total: int, cipher: Cipher, magic: bytes | None = None) -> bytearray:
    payload = bytearray(total)
    at, number = 0, 0
    chunks = max(1, -(-total // CHUNK))
    while number < chunks:
        (length,) = struct.unpack("<Q", handle.read(8))
        piece = cipher.decrypt(handle.read(length), _aad(head, number, number == chunks - 1, magic))
        payload[at:at + len(piece)] = piece
        at += len(piece)
        number += 1
    if at != total or handle.read(1):
        raise ValueError("index payload has the wrong length")
    return payload


def load(path: Path, cipher: Cipher) -> tuple[Index, NameTable, dict] | None:
    """The index, its names and its header, or None when the file is missing, damaged or not ours."""
    try:
        handle = open(path, "rb")
    except OSError:
        return None
    try:
        with handle:
            magic = handle.read(len(MAGIC))
            if magic not in (MAGIC, *OLD_MAGICS):
                return None
            (size,) = struct.unpack("<I", handle.read(4))
            head = handle.read(size)
            header = json.loads(head)
            data = memoryview(_decrypt_payload(handle, head, int(header["payload_bytes"]), cipher, magic))
        kinds = {"exact": ExactIndex, "hnsw": HNSWIndex}
        version = 3 if magic == MAGIC else 2
        index, offset = kinds[header["kind"]].from_buffer(data, 0, header.get("params", {}), version)
        names, offset = NameTable.from_buffer(data, offset)
        if len(index) != int(header["count"]) or index.dim != int(header["dim"]) or offset != len(data):
            return None
        return index, names, header
    except (OSError, KeyMaterialError, StorageError, ValueError, KeyError, TypeError, struct.error, RuntimeError):
        return None  # derived data: any doubt → rebuild from the database
