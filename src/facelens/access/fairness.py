"""Per-group verification error rates (FMR, FNMR) at an operating threshold, with confidence
intervals and the ratio between groups.

Groups come from a CSV ``image,group`` (image = ``NAME/NAME_0001.jpg`` or just the file name).
A genuine pair belongs to its person's group; an impostor pair to a group only when both images
share it (cross-group impostor pairs are reported as ``mixed`` and kept out of the ratios).

Intervals: Wilson 95 % for each rate; for the ratio between two groups, a percentile bootstrap
that resamples *people* (the first person of each pair), not pairs, because pairs that share a
person are not independent. With few errors (e.g. FMR at FAR 1e-3 on 3,000 impostor pairs means
~3 false matches in all) the intervals are wide, and the report says so rather than hiding it.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import BadInputError
from ..stats import wilson_interval

MIXED = "mixed"


def read_groups(path: Path) -> dict[str, str]:
    """file name → group from a CSV with columns image, group (header required)."""
    try:
        with open(path, newline="") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as exc:
        raise BadInputError(f"{path}: cannot read groups file ({exc})") from None
    if not rows or not {"image", "group"} <= set(rows[0]):
        raise BadInputError(f"{path}: expected a CSV with a header 'image,group'")
    out = {}
    for row in rows:
        name, group = Path(row["image"].strip()).name, row["group"].strip()
        if not name or not group:
            continue
        if out.get(name, group) != group:
            raise BadInputError(f"{path}: image {name} is in two groups ({out[name]}, {group})")
        out[name] = group
    return out


def groups_from_lists(lists: dict[str, Path], out: Path) -> tuple[int, list[str]]:
    """Write ``image,group`` from one file-name list per group (e.g. LFW female/male_names.txt).

    An image listed under two groups is left out (LFW's lists name two images in both).
    Returns (images written, images left out)."""
    seen: dict[str, set[str]] = {}
    for group, path in lists.items():
        try:
            names = [line.strip() for line in Path(path).read_text().splitlines() if line.strip()]
        except OSError as exc:
            raise BadInputError(f"{path}: cannot read name list ({exc})") from None
        for name in names:
            seen.setdefault(Path(name).name, set()).add(group)
    rows = sorted((name, next(iter(g))) for name, g in seen.items() if len(g) == 1)
    conflicts = sorted(name for name, g in seen.items() if len(g) > 1)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image", "group"])
        writer.writerows(rows)
    return len(rows), conflicts


def wilson(errors: int, total: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson interval of an error rate; NaN bounds when there was nothing to count."""
    if total == 0:
        return (math.nan, math.nan)
    return wilson_interval(errors, total, z)


@dataclass(frozen=True)
class PairInfo:
    same: bool
    group: str
    person: str


def pair_groups(pairs, groups: dict[str, str]) -> list[PairInfo]:
    out = []
    for p in pairs:
        a, b = groups.get(Path(p.first).name), groups.get(Path(p.second).name)
        if p.same:
            group = a or b or "unlabelled"
        else:
            group = a if (a is not None and a == b) else (MIXED if a and b else "unlabelled")
        out.append(PairInfo(bool(p.same), group, p.first.split("/")[0]))
    return out


def rates(scores: np.ndarray, info: list[PairInfo], threshold: float) -> dict[str, dict]:
    same = np.array([i.same for i in info])
    group = np.array([i.group for i in info])
    accept = scores >= threshold
    table = {}
    for name in sorted(set(group)):
        mask = group == name
        impostor, genuine = mask & ~same, mask & same
        fm, fnm = int(accept[impostor].sum()), int((~accept[genuine]).sum())
        ni, ng = int(impostor.sum()), int(genuine.sum())
        table[name] = {
            "impostor_pairs": ni, "false_matches": fm,
            "fmr": fm / ni if ni else None, "fmr_ci95": list(wilson(fm, ni)) if ni else None,
            "genuine_pairs": ng, "false_non_matches": fnm,
            "fnmr": fnm / ng if ng else None, "fnmr_ci95": list(wilson(fnm, ng)) if ng else None,
        }
    return table


def ratio_ci(scores: np.ndarray, info: list[PairInfo], threshold: float, a: str, b: str,
             rounds: int = 2000, seed: int = 0) -> dict[str, dict]:
    """Rate(a) / rate(b) for FMR and FNMR with a people-level bootstrap 95 % interval."""
    same = np.array([i.same for i in info])
    group = np.array([i.group for i in info])
    person = np.array([i.person for i in info])
    accept = scores >= threshold
    rng = np.random.default_rng(seed)
    out = {}
    for kind in ("fmr", "fnmr"):
        rows = ~same if kind == "fmr" else same
        error = accept if kind == "fmr" else ~accept
        totals = {}
        for g in (a, b):
            mask = rows & (group == g)
            people, owner = np.unique(person[mask], return_inverse=True)
            # per person: (errors, pairs); a bootstrap round resamples people with replacement
            totals[g] = (np.bincount(owner, weights=error[mask], minlength=len(people)),
                         np.bincount(owner, minlength=len(people)).astype(float))
        point = {g: totals[g][0].sum() / totals[g][1].sum() if totals[g][1].sum() else math.nan for g in (a, b)}
        ratios = []
        for _ in range(rounds):
            rates_ = []
            for g in (a, b):
                errors, pairs = totals[g]
                pick = rng.integers(0, len(pairs), len(pairs))
                rates_.append(errors[pick].sum() / max(pairs[pick].sum(), 1.0))
            if rates_[1] > 0:
                ratios.append(rates_[0] / rates_[1])
        zero = [g for g in (a, b) if totals[g][0].sum() == 0]
        if zero:  # 0/x or x/0: a bootstrap cannot bound it; say so instead of printing 0 or ∞
            out[kind] = {"ratio": None, "ci95": None, "usable_bootstrap_rounds": 0, "of": f"{a}/{b}",
                         "note": f"not estimable: {' and '.join(zero)} had no errors"}
            continue
        ratio = point[a] / point[b]
        low, high = (np.percentile(ratios, [2.5, 97.5]).tolist() if len(ratios) > rounds // 2 else [math.nan, math.inf])
        out[kind] = {"ratio": ratio, "ci95": [low, high], "usable_bootstrap_rounds": len(ratios), "of": f"{a}/{b}"}
    return out


def plot(report: dict, path: Path, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = list(report["operating_points"])
    fig, axes = plt.subplots(len(points), 2, figsize=(8, 2.8 * len(points)), squeeze=False)
    for row, point in enumerate(points):
        table = {g: v for g, v in report["operating_points"][point]["groups"].items() if g not in ("unlabelled",)}
        for col, kind in enumerate(("fmr", "fnmr")):
            ax = axes[row][col]
            names = [g for g in table if table[g][kind] is not None]
            values = [100 * table[g][kind] for g in names]
            low = [max(0.0, 100 * (table[g][kind] - table[g][f"{kind}_ci95"][0])) for g in names]
            high = [max(0.0, 100 * (table[g][f"{kind}_ci95"][1] - table[g][kind])) for g in names]
            ax.bar(names, values, yerr=[low, high], capsize=4, color=["#c55", "#58c", "#999", "#5a5"][: len(names)])
            ax.set_ylabel(f"{kind.upper()} (%)")
            ax.set_title(f"{kind.upper()} at {point} (thr {report['operating_points'][point]['threshold']:.3f})", fontsize=9)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
