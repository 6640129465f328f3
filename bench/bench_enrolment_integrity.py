"""Enrolment integrity on LFW: how often the shipped checks refuse real photos of one person,
and how often they catch a stranger's photo, two people mixed, or a person enrolled twice.

Subset, fixed by rule: people with >= 3 images in the LFW folder, ``random.Random(seed)`` sample
of --people of them, the first 5 images of each (sorted). Embeddings as ``facelens eval
verification`` makes them (central face, mobilefacenet), cached with --cache.

Agreement (``match.enrolment_checks.disagreeing_photos``, the code enrolment runs) at each
calibrated operating point: genuine sets of k photos refused (false refusals); k-1 genuine + 1
photo of another person (seeded choice) refused, and the stranger named first; 2 + 2 photos of
two people refused. The peer, in the same run: scoring each photo by its similarity to the
mean of the others (what the median replaced). Duplicates: the first image of half the people
enrolled (max scoring, one template each), the unit mean of k photos of the other half (new
people) and of each enrolled person's NEXT k photos (re-enrolment) searched at the calibrated
identification threshold.

    python bench/bench_enrolment_integrity.py --lfw ../shared/data/lfw/images [--cache runs/lfw-enrol.npz]
"""

from __future__ import annotations

import argparse
import json
import random
from collections import defaultdict
from pathlib import Path

import numpy as np

from facelens.evaluation.verification import embed_images
from facelens.match.enrolment_checks import disagreeing_photos, unit_mean
from facelens.match.thresholds import identification_threshold, verification_calibration

MODEL = "mobilefacenet"


def subset(root: Path, people: int, seed: int) -> list[str]:
    eligible = sorted(p.name for p in root.iterdir() if p.is_dir() and len(list(p.glob("*.jpg"))) >= 3)
    chosen = sorted(random.Random(seed).sample(eligible, min(people, len(eligible))))
    return [f"{p}/{f.name}" for p in chosen for f in sorted((root / p).glob("*.jpg"))[:5]]


def median_refuses(vectors: np.ndarray, threshold: float) -> list[int]:
    """Indices named by the shipped check, worst first."""
    labels = [str(i) for i in range(len(vectors))]
    return [int(f.photo) for f in disagreeing_photos(vectors, labels, (threshold, "bench"))]


def mean_of_others_refuses(vectors: np.ndarray, threshold: float) -> list[int]:
    scores = [float(v @ unit_mean(np.delete(vectors, i, 0))) for i, v in enumerate(vectors)]
    return [i for i in np.argsort(scores) if scores[i] < threshold]


def agreement(people: dict[str, np.ndarray], threshold: float, refuses, seed: int) -> dict:
    rng, names, out = random.Random(seed), sorted(people), {}
    for k in (2, 3, 5):
        having = [p for p in names if len(people[p]) >= k]
        genuine = [bool(refuses(people[p][:k], threshold)) for p in having]
        caught = named = 0
        for p in having:
            stranger = people[rng.choice([o for o in names if o != p])][0]
            found = refuses(np.vstack([people[p][:k - 1], stranger]), threshold)
            caught += bool(found)
            named += bool(found) and found[0] == k - 1
        out[f"k{k}"] = {"sets": len(having), "genuine_refused": round(float(np.mean(genuine)), 4),
                        "stranger_refused": round(caught / len(having), 4),
                        "stranger_named": round(named / len(having), 4)}
    mixed = [bool(refuses(np.vstack([people[a][:2], people[b][:2]]), threshold))
             for a, b in zip(names[0::2], names[1::2])]
    out["two_plus_two_refused"] = round(float(np.mean(mixed)), 4)
    return out


def duplicates(people: dict[str, np.ndarray], threshold: float) -> dict:
    names = sorted(people)
    enrolled, fresh = names[: len(names) // 2], names[len(names) // 2:]
    gallery = np.stack([people[p][0] for p in enrolled])
    out = {"gallery_identities": len(enrolled)}
    for k in (1, 2, 3):
        new = [float((gallery @ unit_mean(people[p][:k])).max()) >= threshold for p in fresh if len(people[p]) >= k]
        again = [p for p in enrolled if len(people[p]) >= 1 + k]
        hits = [int(np.argmax(gallery @ unit_mean(people[p][1:1 + k]))) == i
                and float((gallery @ unit_mean(people[p][1:1 + k])).max()) >= threshold
                for i, p in enumerate(enrolled) if p in again]
        out[f"k{k}"] = {"new_people_refused": round(float(np.mean(new)), 4), "new_people": len(new),
                        "reenrolment_caught": round(float(np.mean(hits)), 4), "reenrolments": len(hits)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lfw", type=Path, required=True, help="LFW images folder (NAME/NAME_0001.jpg).")
    parser.add_argument("--people", type=int, default=300)
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--cache", type=Path, default=None, help="Embedding cache .npz.")
    args = parser.parse_args()

    names = subset(args.lfw, args.people, args.seed)
    vectors = embed_images(args.lfw, names, [MODEL], cache=args.cache).vectors[MODEL].astype(np.float64)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    grouped: dict[str, list[np.ndarray]] = defaultdict(list)
    for name, vector in zip(names, vectors):
        grouped[name.split("/")[0]].append(vector)
    people = {p: np.stack(v) for p, v in grouped.items()}

    points = verification_calibration()["models"][MODEL]["thresholds"]
    report = {"people": len(people), "images": len(names), "seed": args.seed, "agreement": {}}
    for point in ("far_1e-3", "best_accuracy", "far_1e-2"):
        report["agreement"][point] = {
            "threshold": points[point],
            "median (shipped)": agreement(people, points[point], median_refuses, args.seed),
            "mean of the others (peer)": agreement(people, points[point], mean_of_others_refuses, args.seed),
        }
    threshold, source = identification_threshold(MODEL, "max")
    report["duplicates"] = {"threshold": threshold, "source": source, **duplicates(people, threshold)}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
