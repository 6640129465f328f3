"""Where one probe's time goes in the gallery's HNSW search, and recall between the swept beams.

Reuses what ``bench/bench_gallery.py --cache-dir`` left on disk (vectors, exact ground truth, the
default configuration's usearch graph) — no build. Per probe, in the same iteration: the graph's
candidate search (usearch + turning its answer into arrays) and the re-rank against the float16
table (``HNSWIndex.rescore``), each timed with the calling thread's CPU time and wall time.

    OPENBLAS_NUM_THREADS=1 nice -n 2 python bench/bench_gallery_split.py --cache-dir runs/gallery-cache \\
        --n 1000000 --ef 256,288,320 --json runs/gallery-1m-split.json

``--store-check NPZ``: what a float16 re-rank store changes on real embeddings (every LFW image
against every other, float32 probe vs float16-stored templates, compared with float32 both).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

import bench_gallery as bench  # noqa: E402


def store_check(path: Path, model: str = "mobilefacenet", threshold: float = 0.6111) -> dict:
    with np.load(path) as cache:
        names = np.array([str(n).split("/")[0] for n in cache["names"]])
        exact = bench.unit_rows(cache[model].astype(np.float32))
    stored = exact.astype(np.float16).astype(np.float32)
    full, half = exact @ exact.T, exact @ stored.T
    change = np.abs(full - half)
    np.fill_diagonal(change, 0)  # an image against itself is no pair
    np.fill_diagonal(full, -np.inf), np.fill_diagonal(half, -np.inf)
    best_full, best_half = full.argmax(1), half.argmax(1)
    moved = np.flatnonzero(best_full != best_half)
    rows = np.arange(len(exact))
    return {"images": len(exact), "max_abs_change": float(change.max()), "median_abs_change": float(np.median(change)),
            "pairs": int(len(exact) * (len(exact) - 1)),
            "decisions_flipped_at_threshold": int(((full >= threshold) != (half >= threshold)).sum()),
            "threshold": threshold, "nearest_image_changed": len(moved),
            "nearest_person_changed": int((names[best_full] != names[best_half]).sum()),
            "largest_gap_where_changed": float((full[rows, best_full] - full[rows, best_half])[moved].max())
            if len(moved) else 0.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cache-dir", type=Path, default=Path("runs/gallery-cache"))
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--sharpen", default="None", help="as in the cached file names")
    parser.add_argument("--ef", default="256,288,320")
    parser.add_argument("--timed", type=int, default=300)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--store-check", type=Path, default=None, help="only the float16 store check on this npz")
    args = parser.parse_args()
    if args.store_check:
        print(json.dumps(store_check(args.store_check), indent=2))
        return

    from facelens.gallery.index import HNSW_DEFAULTS

    tag = f"n{args.n}-sharpen{args.sharpen}-seed0"
    with np.load(args.cache_dir / f"data-{tag}.npz") as data:
        vectors, mated = data["vectors"], data["mated"]
    with np.load(args.cache_dir / f"truth-{tag}.npz") as saved:
        truth = saved["truth"]
    params = {k: HNSW_DEFAULTS[k] for k in ("dtype", "connectivity", "expansion_add")}
    if not bench.graph_path(args.cache_dir, params, len(vectors)).exists():
        raise SystemExit("no cached graph: run bench/bench_gallery.py --cache-dir first")
    index, _ = bench.build_usearch(params, vectors, argparse.Namespace(threads=0), args.cache_dir)
    out: dict = {"load_average_at_start": bench.load_average(), "index": index.params}
    for ef in [int(e) for e in args.ef.split(",")]:
        index.expansion_search = ef
        found = index.search(mated, 10)[0] - 1
        graph_ms, rerank_ms, graph_cpu, rerank_cpu = [], [], [], []
        for probe in mated[: args.timed + 20]:
            query = probe[None]
            t0, c0 = time.perf_counter(), time.thread_time()
            keys, _ = index.candidates(query, max(10, index.rerank))
            t1, c1 = time.perf_counter(), time.thread_time()
            index.rescore(query, keys, 10)
            t2, c2 = time.perf_counter(), time.thread_time()
            graph_ms.append((t1 - t0) * 1e3), rerank_ms.append((t2 - t1) * 1e3)
            graph_cpu.append((c1 - c0) * 1e3), rerank_cpu.append((c2 - c1) * 1e3)

        def p50(values: list[float]) -> float:
            return round(float(np.median(values[20:])), 4)  # the first 20 warm caches

        out[f"ef{ef}"] = {"recall@1": bench.recall(found, truth, 1),
                          "graph_p50_ms": p50(graph_ms), "graph_cpu_p50_ms": p50(graph_cpu),
                          "rerank_p50_ms": p50(rerank_ms), "rerank_cpu_p50_ms": p50(rerank_cpu)}
        bench.log(ef, out[f"ef{ef}"])
    out["load_average_at_end"] = bench.load_average()
    print(json.dumps(out, indent=2))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
