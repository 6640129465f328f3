"""Search indexes over one embedding model's templates: exact (numpy) and HNSW (usearch).

Keys are template ids from the database; similarities are cosine (embeddings are
L2-normalised, so the inner product). ``make_index("auto", n)`` picks exact search below
``AUTO_HNSW_FROM`` templates and HNSW above; ``"exact"`` / ``"hnsw"`` override it.
Why usearch rather than faiss-cpu, and where the switch point comes from: docs/gallery.md
(both measured with bench/bench_gallery.py on this project's 2-core machine).

The index is derived data. On disk it is one file per model, encrypted with the gallery key
(the vectors are as sensitive as the templates) and stamped with the gallery id and the
generation counter it reflects, so a stale or foreign file is noticed and rebuilt.
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path
from typing import Protocol

import numpy as np

from ..errors import KeyMaterialError, StorageError
from .crypto import Cipher

AUTO_HNSW_FROM = 100_000
"""Exact search is always right and costs ~1.3 ms per 192-d probe at 10k templates, 6.6 ms at
50k, 11 ms at 100k (single-thread BLAS, `bench/bench_gallery.py --exact-sweep`), ~60–110 ms at
1M. HNSW trades recall for speed, and on 1M LFW-shaped vectors the trade is steep (docs/gallery.md):
M=16/ef_add=64 reached recall@1 only 0.63 at ef_search 128; the defaults below (M=32,
ef_add=128, ef_search=256) reach 0.978 at p50 10.7 ms, 0.996 at ef_search 512 (20 ms). Exact
search is kept up to 100k, where a few ms more per probe is cheaper than missing anyone."""
HNSW_DEFAULTS = {"connectivity": 32, "expansion_add": 128, "expansion_search": 256}
MAGIC = b"FLIDX1\n"
CHUNK = 64 << 20  # AES-GCM is applied per 64 MiB chunk (one call is limited to 2 GiB)


class Index(Protocol):
    kind: str
    dim: int

    def __len__(self) -> int: ...
    def add(self, keys: np.ndarray, vectors: np.ndarray) -> None: ...
    def remove(self, keys: np.ndarray) -> None: ...
    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]: ...
    def get(self, keys: np.ndarray) -> np.ndarray: ...
    def keys(self) -> np.ndarray: ...
    def to_bytes(self) -> bytes: ...


def _as_matrix(vectors: np.ndarray, dim: int) -> np.ndarray:
    matrix = np.ascontiguousarray(np.asarray(vectors, dtype=np.float32).reshape(-1, dim))
    return matrix


class ExactIndex:
    """Brute-force inner product: always right, O(n) per probe. Keys kept sorted."""

    kind = "exact"

    def __init__(self, dim: int):
        self.dim = dim
        self._keys = np.empty(0, dtype=np.int64)
        self._vectors = np.empty((0, dim), dtype=np.float32)

    def __len__(self) -> int:
        return len(self._keys)

    def add(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        keys = np.asarray(keys, dtype=np.int64).reshape(-1)
        if not len(keys):
            return
        vectors = _as_matrix(vectors, self.dim)
        merged_keys = np.concatenate([self._keys, keys])
        merged = np.concatenate([self._vectors, vectors])
        if len(self._keys) and keys.min() <= self._keys[-1]:
            order = np.argsort(merged_keys, kind="stable")
            merged_keys, merged = merged_keys[order], merged[order]
        self._keys, self._vectors = merged_keys, merged

    def remove(self, keys: np.ndarray) -> None:
        keep = ~np.isin(self._keys, np.asarray(keys, dtype=np.int64))
        self._keys, self._vectors = self._keys[keep], self._vectors[keep]

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        queries = _as_matrix(queries, self.dim)
        n = len(self._keys)
        k = min(k, n)
        if k == 0:
            return np.empty((len(queries), 0), np.int64), np.empty((len(queries), 0), np.float32)
        sims = queries @ self._vectors.T
        if k < n:
            part = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        else:
            part = np.broadcast_to(np.arange(n), (len(queries), n))
        top = np.take_along_axis(sims, part, axis=1)
        order = np.argsort(-top, axis=1)
        rows = np.take_along_axis(part, order, axis=1)
        return self._keys[rows], np.take_along_axis(top, order, axis=1)

    def get(self, keys: np.ndarray) -> np.ndarray:
        keys = np.asarray(keys, dtype=np.int64).reshape(-1)
        rows = np.searchsorted(self._keys, keys)
        rows = np.clip(rows, 0, max(len(self._keys) - 1, 0))
        if not len(self._keys) or not np.array_equal(self._keys[rows], keys):
            raise KeyError("template id not in index")
        return self._vectors[rows]

    def keys(self) -> np.ndarray:
        return self._keys.copy()

    def to_bytes(self) -> bytes:
        return struct.pack("<q", len(self._keys)) + self._keys.tobytes() + self._vectors.tobytes()

    @classmethod
    def from_bytes(cls, dim: int, data: bytes) -> "ExactIndex":
        (n,) = struct.unpack_from("<q", data)
        index = cls(dim)
        index._keys = np.frombuffer(data, dtype=np.int64, count=n, offset=8).copy()
        index._vectors = np.frombuffer(data, dtype=np.float32, count=n * dim, offset=8 + 8 * n).reshape(n, dim).copy()
        return index


class HNSWIndex:
    """usearch HNSW, inner-product metric.

    Vectors are held as float16: half the memory of float32, and in a 20k-vector trial on this
    project's 2-core machine 1.4–1.6× more inserts per CPU-second at the same recall@1. The ±0.001 rounding of
    similarities does not reach decisions: Gallery.search re-scores the short-listed templates
    exactly (float32, decrypted from the database) before applying the threshold.
    """

    kind = "hnsw"

    def __init__(self, dim: int, connectivity: int = HNSW_DEFAULTS["connectivity"],
                 expansion_add: int = HNSW_DEFAULTS["expansion_add"],
                 expansion_search: int = HNSW_DEFAULTS["expansion_search"], dtype: str = "f16", threads: int = 0):
        from usearch.index import Index as UIndex

        self.dim = dim
        self.threads = threads
        self._params = dict(connectivity=connectivity, expansion_add=expansion_add,
                            expansion_search=expansion_search, dtype=dtype)
        self._index = UIndex(ndim=dim, metric="ip", **self._params)

    def __len__(self) -> int:
        return len(self._index)

    def add(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        keys = np.asarray(keys, dtype=np.uint64).reshape(-1)
        if len(keys):
            self._index.add(keys, _as_matrix(vectors, self.dim), threads=self.threads)

    def remove(self, keys: np.ndarray) -> None:
        keys = np.asarray(keys, dtype=np.uint64).reshape(-1)
        if len(keys):
            self._index.remove(keys)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        queries = _as_matrix(queries, self.dim)
        k = min(k, len(self._index))
        if k == 0:
            return np.empty((len(queries), 0), np.int64), np.empty((len(queries), 0), np.float32)
        matches = self._index.search(queries, k, threads=self.threads)
        keys = np.asarray(matches.keys, dtype=np.int64).reshape(len(queries), -1)
        sims = 1.0 - np.asarray(matches.distances, dtype=np.float32).reshape(len(queries), -1)
        counts = np.asarray(getattr(matches, "counts", [keys.shape[1]] * len(queries))).reshape(-1)
        if (counts < keys.shape[1]).any():  # fewer hits than asked: pad with -1 / -inf
            for row, count in enumerate(counts):
                keys[row, count:], sims[row, count:] = -1, -np.inf
        return keys, sims

    def get(self, keys: np.ndarray) -> np.ndarray:
        keys = np.asarray(keys, dtype=np.uint64).reshape(-1)
        if not len(keys):
            return np.empty((0, self.dim), np.float32)
        got = self._index.get(keys, dtype=np.float32)
        rows = got if isinstance(got, np.ndarray) else np.stack([g.reshape(-1) for g in got])
        return np.asarray(rows, dtype=np.float32).reshape(len(keys), self.dim)

    def keys(self) -> np.ndarray:
        return np.asarray(self._index.keys, dtype=np.int64)

    @property
    def memory_usage(self) -> int:
        return int(self._index.memory_usage)

    def to_bytes(self) -> bytes:
        return bytes(self._index.save())

    @classmethod
    def from_bytes(cls, dim: int, data: bytes, params: dict) -> "HNSWIndex":
        from usearch.index import Index as UIndex

        index = cls(dim, **params)
        restored = UIndex.restore(bytearray(data))
        if restored is None:
            raise StorageError("index file holds no usearch index")
        restored.expansion_search = params.get("expansion_search", HNSW_DEFAULTS["expansion_search"])
        index._index = restored
        return index


def make_index(kind: str, dim: int, count: int = 0, **hnsw: object) -> Index:
    if kind == "auto":
        kind = "hnsw" if count >= AUTO_HNSW_FROM else "exact"
    if kind == "exact":
        return ExactIndex(dim)
    if kind == "hnsw":
        return HNSWIndex(dim, **hnsw)  # type: ignore[arg-type]
    raise ValueError(f"unknown index kind {kind!r}; expected auto, exact or hnsw")


# ---------------------------------------------------------------- encrypted persistence


def _aad(header: bytes, chunk: int, last: bool) -> bytes:
    return MAGIC + header + struct.pack("<I?", chunk, last)


def save(path: Path, index: Index, header: dict, cipher: Cipher) -> None:
    """Write atomically (temp file + fsync + rename): a crash leaves the old file or the new one."""
    header = dict(header, kind=index.kind, dim=index.dim, count=len(index))
    if isinstance(index, HNSWIndex):
        header["params"] = index._params
    head = json.dumps(header, sort_keys=True).encode()
    payload = index.to_bytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as out:
            out.write(MAGIC + struct.pack("<I", len(head)) + head)
            chunks = max(1, -(-len(payload) // CHUNK))
            for number in range(chunks):
                piece = payload[number * CHUNK:(number + 1) * CHUNK]
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
            if handle.read(len(MAGIC)) != MAGIC:
                return None
            (size,) = struct.unpack("<I", handle.read(4))
            return json.loads(handle.read(size))
    except (OSError, ValueError, struct.error):
        return None


def load(path: Path, cipher: Cipher) -> tuple[Index, dict] | None:
    """The index and its header, or None when the file is missing, damaged or not ours."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    try:
        if not data.startswith(MAGIC):
            return None
        offset = len(MAGIC)
        (size,) = struct.unpack_from("<I", data, offset)
        offset += 4
        head = data[offset:offset + size]
        header = json.loads(head)
        offset += size
        pieces, number = [], 0
        while offset < len(data):
            (length,) = struct.unpack_from("<Q", data, offset)
            offset += 8
            sealed = data[offset:offset + length]
            offset += length
            pieces.append(cipher.decrypt(sealed, _aad(head, number, offset >= len(data))))
            number += 1
        payload = b"".join(pieces)
        dim = int(header["dim"])
        if header["kind"] == "exact":
            index: Index = ExactIndex.from_bytes(dim, payload)
        else:
            index = HNSWIndex.from_bytes(dim, payload, header.get("params", {}))
        if len(index) != int(header["count"]):
            return None
        return index, header
    except (KeyMaterialError, StorageError, ValueError, KeyError, struct.error, RuntimeError):
        return None  # derived data: any doubt → rebuild from the database
