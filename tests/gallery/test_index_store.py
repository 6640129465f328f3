"""The HNSW index re-ranks from a float16 store by default (half the bytes of float32): same
answers as float32 on real faces, and the index file records which store it holds."""

from __future__ import annotations

import os
import struct

import numpy as np
import pytest

from facelens.gallery import Gallery
from facelens.gallery import index as index_mod
from facelens.gallery.crypto import Cipher
from facelens.gallery.index import HNSWIndex, NameTable, TemplateTable


def _real_gallery(fixture_embeddings, rng):
    """Enrolled: the first crop of each fixture person plus 3,000 look-alikes (each a real
    embedding moved by noise to similarity ~0.6–0.8 with it: near ties for the re-ranker);
    probes: the other crops of the same people."""
    enrolled = {n: v for n, v in fixture_embeddings.items() if n.endswith("1")}
    probes = {n: v for n, v in fixture_embeddings.items() if not n.endswith("1") and n[:-1] + "1" in enrolled}
    people = np.stack(list(enrolled.values())).astype(np.float32)
    base = people[rng.integers(0, len(people), 3000)]
    noise = rng.normal(size=base.shape).astype(np.float32)
    noise /= np.linalg.norm(noise, axis=1, keepdims=True)
    lookalikes = base + rng.uniform(0.7, 1.3, (3000, 1)).astype(np.float32) * noise
    lookalikes /= np.linalg.norm(lookalikes, axis=1, keepdims=True)
    vectors = np.concatenate([people, lookalikes])
    owners = np.concatenate([np.arange(len(people)), np.arange(len(people), len(vectors))])
    return vectors, owners, list(enrolled), probes


def test_f16_store_gives_the_same_top1_as_f32_on_real_faces(fixture_embeddings, rng):
    vectors, owners, enrolled, probes = _real_gallery(fixture_embeddings, rng)
    assert len(probes) >= 6
    keys = np.arange(1, len(vectors) + 1)
    f32 = HNSWIndex(192, store="f32", threads=1, expansion_search=512)
    f32.add(keys, vectors, owners)
    f16 = HNSWIndex(192, store="f16", threads=1, expansion_search=512)
    f16._index = f32._index  # the same graph: only the re-rank store differs
    f16.table.add(keys, vectors, owners)
    assert f16.table.vectors.dtype == np.float16 and f16.table.nbytes < 0.6 * f32.table.nbytes
    queries = np.stack(list(probes.values()))
    (k32, s32), (k16, s16) = f32.search(queries, 5), f16.search(queries, 5)
    assert (k16[:, 0] == k32[:, 0]).all()
    assert np.abs(s16 - s32).max() < 1e-3
    exact = queries @ vectors.T  # and the answer is the exact one: each probe finds its own person
    assert (k16[:, 0] == keys[exact.argmax(1)]).all()
    found = [enrolled[int(o)] for o in f16.table.owners_of(k16[:, 0])]
    assert found == [name[:-1] + "1" for name in probes]


def _cipher() -> Cipher:
    return Cipher(os.urandom(32))


@pytest.mark.parametrize("store", ["f16", "f32"])
def test_index_file_keeps_its_store(tmp_path, rng, store):
    vectors = rng.normal(size=(500, 64)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = HNSWIndex(64, store=store, threads=1)
    index.add(np.arange(500), vectors, np.arange(500) // 2)
    names = NameTable()
    names.update({i: f"p{i}" for i in range(250)})
    cipher = _cipher()
    index_mod.save(tmp_path / "m.idx", index, names, {"generation": 3}, cipher)
    loaded, loaded_names, header = index_mod.load(tmp_path / "m.idx", cipher)
    assert loaded.table.store == store and header["params"]["store"] == store
    assert np.array_equal(loaded.table.vectors, index.table.vectors)
    assert np.array_equal(loaded.search(vectors[:20], 3)[0], index.search(vectors[:20], 3)[0])
    assert loaded_names.lookup([7]) == ["p7"]


def test_a_format_2_index_file_still_loads_as_float32(tmp_path, rng, monkeypatch):
    """Files written before the float16 store (magic FLIDX2, table head without a scalar size)."""
    vectors = rng.normal(size=(300, 32)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = HNSWIndex(32, store="f32", threads=1)
    index.add(np.arange(300), vectors, np.arange(300))

    format_3_parts = TemplateTable.parts

    def format_2_parts(table):
        head = struct.pack("<qqq", len(table), table.dim, table.vectors.shape[1])
        return [memoryview(head), *format_3_parts(table)[1:]]

    monkeypatch.setattr(TemplateTable, "parts", format_2_parts)
    monkeypatch.setattr(index_mod, "MAGIC", b"FLIDX2\n")
    cipher = _cipher()
    index_mod.save(tmp_path / "old.idx", index, NameTable(), {}, cipher)
    monkeypatch.undo()
    loaded, _, _ = index_mod.load(tmp_path / "old.idx", cipher)
    assert loaded.table.store == "f32" and np.array_equal(loaded.table.vectors, vectors)
    assert np.array_equal(loaded.search(vectors[:10], 1)[0][:, 0], np.arange(10))


def test_an_older_float32_index_file_is_switched_to_the_float16_store(tmp_path, rng):
    vectors = rng.normal(size=(40, 192)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    db = tmp_path / "g.db"
    with Gallery(db, index="hnsw", hnsw={"store": "f32"}) as gallery:
        for i in range(20):
            gallery.enrol(f"p{i}", embeddings=vectors[2 * i:2 * i + 2])
        assert gallery.index_for("mobilefacenet").table.store == "f32"
    with Gallery(db, index="hnsw") as gallery:  # the default store: converted on load, file rewritten
        assert gallery.index_for("mobilefacenet").table.store == "f16"
        assert gallery.identify(vectors[7], threshold=0.5)[0].identity == "p3"
    header = index_mod.read_header(tmp_path / "g.db.index" / "mobilefacenet.idx")
    assert header["params"]["store"] == "f16"


def test_search_settings_of_this_open_win_over_those_saved_in_the_index_file(tmp_path, rng):
    """The beam, re-rank depth and search threads need no rebuild: an index file saved with an
    older default (or another caller's settings) searches with today's, so an upgrade's new
    default reaches existing galleries."""
    vectors = rng.normal(size=(40, 192)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    db = tmp_path / "g.db"
    with Gallery(db, index="hnsw", hnsw={"expansion_search": 64, "rerank": 8}) as gallery:
        for i in range(20):
            gallery.enrol(f"p{i}", embeddings=vectors[2 * i:2 * i + 2])
        assert gallery.index_for("mobilefacenet").expansion_search == 64
    assert index_mod.read_header(tmp_path / "g.db.index" / "mobilefacenet.idx")["params"]["expansion_search"] == 64
    with Gallery(db, index="hnsw") as gallery:
        index = gallery.index_for("mobilefacenet")
        assert len(index) == 40  # loaded from the file, not rebuilt
        assert index.expansion_search == index_mod.HNSW_DEFAULTS["expansion_search"]
        assert index.rerank == index_mod.HNSW_DEFAULTS["rerank"]
        assert gallery.identify(vectors[7], threshold=0.5)[0].identity == "p3"


def test_a_stale_copy_of_the_index_never_overwrites_the_file(tmp_path, rng):
    """A process whose unsaved copy of the index predates another process's change (an erasure)
    must not write that copy back when it closes: the file would hold the erased template again."""
    vectors = rng.normal(size=(42, 192)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    db = tmp_path / "g.db"
    index_file = tmp_path / "g.db.index" / "mobilefacenet.idx"
    with Gallery(db, index="hnsw") as gallery:
        for i in range(20):
            gallery.enrol(f"p{i}", embeddings=vectors[2 * i:2 * i + 2])
        assert len(gallery.index_for("mobilefacenet")) == 40 and index_file.exists()  # built and saved
    stale = Gallery(db, index="hnsw")
    try:
        assert len(stale.index_for("mobilefacenet")) == 40
        stale.enrol("late", embeddings=vectors[40:42])  # added in memory; the file is written at close
        with Gallery(db, index="hnsw") as other:
            other.erase(["p3"], "erase", "test: a request to be forgotten")  # written to the file at once
        after_erasure = index_file.read_bytes()
    finally:
        stale.close()
    assert index_file.read_bytes() == after_erasure  # the stale copy (with p3) was not written back
    with Gallery(db, index="hnsw") as gallery:
        assert "p3" not in gallery and "late" in gallery
        assert len(gallery.index_for("mobilefacenet")) == 40
        assert gallery.identify(vectors[41], threshold=0.5)[0].identity == "late"
