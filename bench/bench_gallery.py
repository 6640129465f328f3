"""Gallery at scale: enrolment rate, index build, memory, search latency and ANN recall — one run.

    nice -n 10 python bench/bench_gallery.py --n 1000000 --json runs/bench-gallery.json
    nice -n 10 python bench/bench_gallery.py --n 200000 --faiss   # usearch vs faiss-cpu, same data

Synthetic vectors (the issue allows it): N random unit vectors of the default model's size
(mobilefacenet, 192-d) — the hardest case for HNSW, no cluster structure to exploit. Probes:
``--queries`` *mated* probes (a stored vector plus noise, cosine ≈ 0.7 to it, like a second photo
of an enrolled person) and as many random *non-mated* probes. Recall@k is the share of the
exact top-k (numpy, same run, same data) that the HNSW index returns.

Measured through the real Gallery: templates are encrypted (AES-GCM), written to SQLite in
one transaction per ``--batch`` identities with their audit entries; the index is then built
from the database (decrypt + HNSW insert) as on a cold start, saved encrypted, and reloaded.
Goals (issue 5): p50 ≤ 2 ms, recall@1 ≥ 0.99, ≥ 10k templates/s, index RAM ≤ 1.5× raw vectors.
"""

from __future__ import annotations

import argparse
import base64
import gc
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))


def rss_mb() -> float:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


SHAPE: tuple[np.ndarray, np.ndarray] | None = None  # (mean, covariance factor) of real embeddings


def unit(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    """n unit vectors: isotropic Gaussian, or with ``--like``'s mean and covariance."""
    out = np.empty((n, dim), np.float32)
    for start in range(0, n, 100_000):
        block = rng.standard_normal((min(100_000, n - start), dim), dtype=np.float32)
        if SHAPE is not None:
            block = block @ SHAPE[1].T + SHAPE[0]
        out[start:start + len(block)] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def fit_shape(path: Path, key: str) -> tuple[np.ndarray, np.ndarray]:
    real = np.load(path)[key].astype(np.float64)
    mean = real.mean(axis=0)
    values, vectors = np.linalg.eigh(np.cov(real - mean, rowvar=False))
    factor = vectors * np.sqrt(np.clip(values, 0, None))
    return mean.astype(np.float32), factor.astype(np.float32)


def exact_topk(vectors: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    out = np.empty((len(queries), k), np.int64)
    for start in range(0, len(queries), 64):
        sims = queries[start:start + 64] @ vectors.T
        part = np.argpartition(-sims, k, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(sims, part, axis=1), axis=1)
        out[start:start + 64] = np.take_along_axis(part, order, axis=1)
    return out


def checkpoint(report: dict, path: Path | None) -> None:
    """Write what is measured so far (a long run that is stopped still leaves its numbers)."""
    print(json.dumps(report), file=sys.stderr, flush=True)
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(report, indent=2) + "\n")


def recall(found: np.ndarray, truth: np.ndarray, k: int) -> float:
    return float(np.mean([len(set(f[:k]) & set(t[:k])) / k for f, t in zip(found, truth)]))


def latency(fn, queries: np.ndarray) -> dict:
    times = []
    for q in queries:
        start = time.perf_counter()
        fn(q)
        times.append((time.perf_counter() - start) * 1000)
    return {"p50_ms": round(float(np.percentile(times, 50)), 3), "p99_ms": round(float(np.percentile(times, 99)), 3)}


def bench_usearch_vs_faiss(vectors, mated, truth, args) -> dict:
    """Same vectors, same HNSW parameters (M=16, efConstruction=64, efSearch=64), 2 threads.
    usearch as the gallery uses it (float16 storage); faiss IndexHNSWFlat (float32 only)."""
    from facelens.gallery.index import HNSWIndex

    out = {}
    keys = np.arange(len(vectors))
    gc.collect()
    before = rss_mb()
    start = time.perf_counter()
    index = HNSWIndex(vectors.shape[1], connectivity=16, expansion_add=64, expansion_search=64)
    index.add(keys, vectors)
    build = time.perf_counter() - start
    found = index.search(mated, 10)[0]
    out["usearch"] = {"build_s": round(build, 1), "rss_delta_mb": round(rss_mb() - before, 1),
                      "recall@1": recall(found, truth, 1), "recall@10": recall(found, truth, 10),
                      **latency(lambda q: index.search(q[None], 10), mated[:500])}
    del index
    gc.collect()
    try:
        import faiss
    except ImportError:
        out["faiss"] = "not installed (pip install faiss-cpu)"
        return out
    faiss.omp_set_num_threads(args.threads or os.cpu_count())
    before = rss_mb()
    start = time.perf_counter()
    findex = faiss.IndexHNSWFlat(vectors.shape[1], 16, faiss.METRIC_INNER_PRODUCT)
    findex.hnsw.efConstruction = 64
    findex.add(vectors)
    build = time.perf_counter() - start
    findex.hnsw.efSearch = 64
    found = findex.search(mated, 10)[1]
    out["faiss"] = {"version": faiss.__version__, "build_s": round(build, 1), "rss_delta_mb": round(rss_mb() - before, 1),
                    "recall@1": recall(found, truth, 1), "recall@10": recall(found, truth, 10),
                    **latency(lambda q: findex.search(q[None], 10), mated[:500])}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=192)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=20_000, help="identities per enrolment transaction")
    parser.add_argument("--threads", type=int, default=0, help="index threads (0: all cores)")
    parser.add_argument("--expansion-search", type=int, default=64)
    parser.add_argument("--connectivity", type=int, default=None, help="HNSW M (default: the gallery's)")
    parser.add_argument("--expansion-add", type=int, default=None, help="HNSW ef_construction (default: the gallery's)")
    parser.add_argument("--faiss", action="store_true", help="only compare usearch and faiss-cpu HNSW on --n vectors")
    parser.add_argument("--exact-sweep", action="store_true",
                        help="only time exact (numpy) search at 10k…200k templates: where auto switches to HNSW")
    parser.add_argument("--like", type=Path, default=None,
                        help="npz of real embeddings (e.g. the LFW cache of `facelens gallery evaluate --cache`): "
                             "draw synthetic vectors with their mean and covariance instead of isotropic ones")
    parser.add_argument("--like-key", default="mobilefacenet")
    parser.add_argument("--enrol-only", action="store_true",
                        help="stop after the enrolment measurement (the index build takes most of the run at 1M)")
    parser.add_argument("--dir", type=Path, default=None, help="work folder (default: a temp dir, removed)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    from facelens.gallery import EnrolRecord, Gallery, Template
    from facelens.gallery.index import ExactIndex

    os.environ.setdefault("FACELENS_KEY", base64.b64encode(os.urandom(32)).decode())
    rng = np.random.default_rng(0)
    global SHAPE
    if args.like:
        SHAPE = fit_shape(args.like, args.like_key)
        args.dim = SHAPE[0].size
    if args.exact_sweep:
        sweep = {}
        for n in (10_000, 20_000, 50_000, 100_000, 200_000):
            exact = ExactIndex(args.dim)
            data = unit(rng, n, args.dim)
            exact.add(np.arange(n), data)
            sweep[n] = latency(lambda q: exact.search(q[None], 10), data[:100])
        result = {"exact_search_by_size": sweep, "load_average": [round(v, 1) for v in os.getloadavg()],
                  "blas_threads": os.environ.get("OPENBLAS_NUM_THREADS", "default")}
        print(json.dumps(result, indent=2))
        return
    report: dict = {"n": args.n, "dim": args.dim, "cpu_count": os.cpu_count(), "threads": args.threads or os.cpu_count(),
                    "load_average_at_start": [round(v, 1) for v in os.getloadavg()],
                    "vectors": f"Gaussian with the mean/covariance of {args.like}" if args.like else "isotropic Gaussian"}
    t0 = time.perf_counter()
    vectors = unit(rng, args.n, args.dim)
    picked = rng.choice(args.n, size=args.queries, replace=False)
    noise = unit(rng, args.queries, args.dim)
    mated = vectors[picked] * 0.7 + noise * 0.714  # cos ≈ 0.7 to its source
    mated /= np.linalg.norm(mated, axis=1, keepdims=True)
    nonmated = unit(rng, args.queries, args.dim)
    truth_mated = exact_topk(vectors, mated, 10)
    truth_non = exact_topk(vectors, nonmated, 10)
    report["exact_ground_truth_s"] = round(time.perf_counter() - t0, 1)
    report["mated_rank1_is_source"] = float((truth_mated[:, 0] == picked).mean())
    raw_mb = vectors.nbytes / 2**20
    report["raw_vectors_mb"] = round(raw_mb, 1)
    checkpoint(report, args.json)

    if args.faiss:
        report["hnsw_compare"] = bench_usearch_vs_faiss(vectors, mated, truth_mated, args)
        print(json.dumps(report, indent=2))
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(report, indent=2) + "\n")
        return

    hnsw = {"expansion_search": args.expansion_search, "threads": args.threads}
    hnsw.update({k: v for k, v in (("connectivity", args.connectivity), ("expansion_add", args.expansion_add))
                 if v is not None})
    report["hnsw_params"] = hnsw
    work = args.dir or Path(tempfile.mkdtemp(prefix="facelens-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    db = work / "bench.db"
    try:
        with Gallery(db, index="hnsw", hnsw=hnsw) as gallery:
            start, cpu = time.perf_counter(), time.process_time()
            for first in range(0, args.n, args.batch):
                block = vectors[first:first + args.batch]
                gallery.enrol_records([EnrolRecord(f"id{first + i}", [Template(v, "mobilefacenet", "bench")])
                                       for i, v in enumerate(block)])
                print(f"enrolled {first + len(block)}/{args.n}", file=sys.stderr, flush=True)
            seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
            report["enrol"] = {"templates": args.n, "seconds": round(seconds, 1), "cpu_seconds": round(cpu, 1),
                               "templates_per_s": round(args.n / seconds),
                               "templates_per_cpu_s": round(args.n / cpu),
                               "db_mb": round(db.stat().st_size / 2**20, 1)}
            checkpoint(report, args.json)
        if args.enrol_only:
            return
        gc.collect()
        rss_before = rss_mb()
        with Gallery(db, index="hnsw", hnsw=hnsw) as gallery:
            start, cpu = time.perf_counter(), time.process_time()
            index = gallery.index_for("mobilefacenet")  # cold start: decrypt all, HNSW insert, save
            build, cpu = time.perf_counter() - start, time.process_time() - cpu
            index_file = gallery.indexes.path("mobilefacenet")
            report["index_build"] = {"seconds": round(build, 1), "cpu_seconds_all_threads": round(cpu, 1),
                                     "rate_per_s": round(args.n / build),
                                     "file_mb": round(index_file.stat().st_size / 2**20, 1)}
            gc.collect()
            rss_after = rss_mb()
            report["memory"] = {
                "raw_vectors_mb": round(raw_mb, 1),
                "usearch_memory_usage_mb": round(index.memory_usage / 2**20, 1),
                "process_rss_growth_mb": round(rss_after - rss_before, 1),
                "ratio_usearch_to_raw": round(index.memory_usage / 2**20 / raw_mb, 3),
                "ratio_rss_growth_to_raw": round((rss_after - rss_before) / raw_mb, 3),
            }
            checkpoint(report, args.json)
            # template ids are 1..N in enrolment order, so id - 1 is the row in ``vectors``
            found = index.search(mated, 10)[0] - 1
            found_non = index.search(nonmated, 10)[0] - 1
            report["recall_mated"] = {"recall@1": recall(found, truth_mated, 1), "recall@10": recall(found, truth_mated, 10)}
            report["recall_nonmated"] = {"recall@1": recall(found_non, truth_non, 1), "recall@10": recall(found_non, truth_non, 10)}
            report["search_index_only"] = latency(lambda q: index.search(q[None], 10), mated)
            sweep = {}
            for ef in (64, 128, 256, 512):
                index._index.expansion_search = ef
                hits = index.search(mated, 10)[0] - 1
                sweep[ef] = {"recall@1": recall(hits, truth_mated, 1), "recall@10": recall(hits, truth_mated, 10),
                             **latency(lambda q: index.search(q[None], 10), mated[:300])}
            index._index.expansion_search = args.expansion_search
            report["expansion_search_sweep_mated"] = sweep
            checkpoint(report, args.json)
            report["search_gallery_top5"] = latency(
                lambda q: gallery.search([q], "mobilefacenet", top_k=5, threshold=0.6), mated[:300])
            exact = ExactIndex(args.dim)
            exact.add(np.arange(1, args.n + 1), vectors)
            report["search_exact_numpy"] = latency(lambda q: exact.search(q[None], 10), mated[:50])
            del exact
        with Gallery(db, index="hnsw") as gallery:
            start = time.perf_counter()
            gallery.index_for("mobilefacenet")
            report["index_load_from_file_s"] = round(time.perf_counter() - start, 1)
    finally:
        if args.dir is None:
            shutil.rmtree(work, ignore_errors=True)
    report["total_s"] = round(time.perf_counter() - t0, 1)
    report["load_average_at_end"] = [round(v, 1) for v in os.getloadavg()]
    report["goals"] = {
        "p50_le_2ms": report["search_index_only"]["p50_ms"] <= 2.0,
        "recall1_ge_0.99": report["recall_mated"]["recall@1"] >= 0.99,
        "enrol_ge_10k_per_s": report["enrol"]["templates_per_s"] >= 10_000,
        "ram_le_1.5x_raw": report["memory"]["ratio_usearch_to_raw"] <= 1.5,
    }
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
