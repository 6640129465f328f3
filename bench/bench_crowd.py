"""Face detection in crowds: recall by face size and false positives per image on the WIDER FACE
val sample, and face counts on group photos — for the whole-frame pass, fixed tiles and the
automatic tiling (``tile_size="auto"``), measured in one run.

    nice -n 10 python bench/bench_crowd.py --data ../shared/data [--json out.json]

Matching: a detection is a true positive when it overlaps a not-yet-matched ground-truth box at
IoU ≥ 0.5 (Hungarian assignment per image, scipy). Each configuration is swept over the detector
score; the table gives recall at the lowest score whose false positives stay ≤ 0.05 per image,
and at the default score. Buckets are the ground-truth box height in pixels.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import cv2
import numpy as np
from scipy.optimize import linear_sum_assignment

BUCKETS = ((0, 16), (16, 32), (32, 64), (64, 10_000))
GROUP_PHOTOS = {  # faces counted by eye (bbt2: Leonard, Sheldon, the woman behind them and the half
    # face with glasses at the left edge; the man seen from the back and the head cut by the top
    # edge are not counted)
    "faceapi/bbt1.jpg": 4, "faceapi/bbt2.jpg": 4, "faceapi/bbt3.jpg": 5, "faceapi/bbt4.jpg": 6,
    "faceapi/bbt5.jpg": 5, "photos/two_people.jpg": 2,
}


def read_wider(data: Path) -> dict[str, np.ndarray]:
    """{relative image path: N×4 boxes (x1, y1, x2, y2)} from val_boxes.txt."""
    boxes: dict[str, list] = {}
    current = None
    for line in (data / "wider" / "val_boxes.txt").read_text().splitlines():
        if line.startswith("#"):
            current = line[1:].strip()
            boxes[current] = []
        elif line.strip():
            x, y, w, h = map(float, line.split()[:4])
            boxes[current].append((x, y, x + w, y + h))
    return {k: np.array(v, dtype=np.float64).reshape(-1, 4) for k, v in boxes.items()}


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    from facelens.detection.base import iou_matrix

    return iou_matrix(a, b) if len(a) and len(b) else np.zeros((len(a), len(b)))


def match(truth: np.ndarray, found: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Boolean per detection: matched to a ground-truth face."""
    hit = np.zeros(len(found), bool)
    overlaps = iou(found, truth)
    if overlaps.size:
        rows, cols = linear_sum_assignment(-overlaps)
        for r, c in zip(rows, cols):
            hit[r] = overlaps[r, c] >= threshold
    return hit, overlaps


def detect(rgb: np.ndarray, tile) -> tuple[np.ndarray, np.ndarray]:
    from facelens.detection import get_detector
    from facelens.detection.tiling import detect_auto

    if tile == "auto":
        faces = detect_auto(rgb, min_score=0.3)
    else:
        faces = get_detector("blazeface", min_score=0.3, tile_size=tile).detect(rgb)
    return (np.array([f.box for f in faces], dtype=np.float64).reshape(-1, 4),
            np.array([f.score for f in faces], dtype=np.float64))


def evaluate(images: dict[str, np.ndarray], truth: dict[str, np.ndarray], tile, default_score: float) -> dict:
    records, seconds = [], 0.0
    for name, rgb in images.items():
        started = time.perf_counter()
        boxes, scores = detect(rgb, tile)
        seconds += time.perf_counter() - started
        records.append((truth[name], boxes, scores))
    per_score = {}
    for floor in np.round(np.arange(0.30, 0.96, 0.05), 2):
        tp_by_bucket = np.zeros(len(BUCKETS))
        n_by_bucket = np.zeros(len(BUCKETS))
        fp = 0
        for gt, boxes, scores in records:
            keep = scores >= floor
            hit, overlaps = match(gt, boxes[keep])
            fp += int((~hit).sum())
            matched_truth = set()
            if overlaps.size:
                rows, cols = linear_sum_assignment(-overlaps)
                matched_truth = {c for r, c in zip(rows, cols) if overlaps[r, c] >= 0.5}
            heights = gt[:, 3] - gt[:, 1]
            for b, (lo, hi) in enumerate(BUCKETS):
                inside = np.flatnonzero((heights >= lo) & (heights < hi))
                n_by_bucket[b] += len(inside)
                tp_by_bucket[b] += sum(1 for i in inside if i in matched_truth)
        per_score[float(floor)] = {"recall": tp_by_bucket.sum() / n_by_bucket.sum(),
                                   "recall_by_bucket": (tp_by_bucket / np.maximum(n_by_bucket, 1)).round(3).tolist(),
                                   "faces_by_bucket": n_by_bucket.astype(int).tolist(),
                                   "fp_per_image": fp / len(records)}
    allowed = [s for s, r in per_score.items() if r["fp_per_image"] <= 0.05]
    at_budget = min(allowed) if allowed else None
    return {"tile": tile, "ms_per_image": round(1000 * seconds / len(records), 1),
            "at_fp_budget": {"score": at_budget, **(per_score[at_budget] if at_budget else {})},
            "at_default": {"score": default_score, **per_score[default_score]}}


def count_group_photos(data: Path, tile, score: float) -> dict[str, tuple[int, int]]:
    from facelens.imageio import load_image

    out = {}
    for rel, expected in GROUP_PHOTOS.items():
        rgb = load_image(data / rel)
        _, scores = detect(rgb, tile)
        out[rel] = (int((scores >= score).sum()), expected)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--tiles", default="none,auto,512,384,256,192")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    truth = read_wider(args.data)
    images = {name: cv2.cvtColor(cv2.imread(str(args.data / "wider" / "images" / name)), cv2.COLOR_BGR2RGB)
              for name in truth}
    print(f"WIDER val sample: {len(images)} images, {sum(len(t) for t in truth.values())} faces")
    results = []
    for text in args.tiles.split(","):
        tile = None if text == "none" else (text if text == "auto" else int(text))
        result = evaluate(images, truth, tile, default_score=0.6)
        result["group_photos"] = count_group_photos(args.data, tile, 0.6)
        results.append(result)
        budget, default = result["at_fp_budget"], result["at_default"]
        groups = sum(found == expected for found, expected in result["group_photos"].values())
        print(f"tile {str(tile):>5}: {result['ms_per_image']:7.1f} ms/image | "
              f"at FP≤0.05/img (score {budget.get('score')}): recall {budget.get('recall', 0):.3f} "
              f"by height {budget.get('recall_by_bucket')} | default 0.6: recall {default['recall']:.3f} "
              f"{default['recall_by_bucket']} FP/img {default['fp_per_image']:.2f} | group photos exact "
              f"{groups}/{len(GROUP_PHOTOS)} {result['group_photos']}")
    print("faces by height bucket", [f"{lo}-{hi}" for lo, hi in BUCKETS], results[0]["at_default"]["faces_by_bucket"])
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
