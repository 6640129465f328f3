"""Train and evaluate the passive liveness score on simulated attacks made from real photos.

Protocol (fixed rule, seed written in the report): LFW people sorted by name, shuffled with
``seed``, split by PERSON into train / test (no person's photos on both sides). Per person the
first image (file number order) gives one bona fide sample (with ``camera_jitter``), one
simulated print and one simulated screen recapture (``attacks.simulate``). Faces are found by
BlazeFace (largest face); an attack in which no face is found is refused before liveness and
counted as such (it is not an accepted attack).

Metrics (ISO/IEC 30107-3): APCER per attack species (proportion of attack presentations wrongly
classified as bona fide), the worst species' APCER, BPCER (bona fide wrongly classified as
attacks), at the model's threshold, and APCER at BPCER = 1 % / 5 %.
"""

from __future__ import annotations

import json
import random
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ..errors import BadInputError
from ..imageio import load_image
from . import attacks
from .liveness_passive import FEATURE_VERSION, PassiveModel, features, fit

SPECIES = ("bona_fide", *attacks.KINDS)


def split_people(images_dir: Path, seed: int = 0, train_share: float = 0.6,
                 limit: int | None = None) -> tuple[list[str], list[str]]:
    people = sorted(p.name for p in Path(images_dir).iterdir() if p.is_dir())
    if len(people) < 10:
        raise BadInputError(f"{images_dir}: expected a folder of NAME/ folders (LFW layout), found {len(people)}")
    random.Random(seed).shuffle(people)
    if limit:
        people = people[:limit]
    cut = int(len(people) * train_share)
    return sorted(people[:cut]), sorted(people[cut:])


def first_image(images_dir: Path, person: str) -> Path:
    return sorted((Path(images_dir) / person).glob("*.jpg"))[0]


def build_features(images_dir: Path, people: list[str], seed: int, cache: Path | None = None,
                   progress=None) -> dict[str, np.ndarray]:
    """{'x': N×F, 'species': N (0 bona fide, 1 print, 2 screen), 'person': N, 'found': N bool}."""
    from ..pipeline import detect_rgb

    if cache and cache.is_file():
        data = np.load(cache, allow_pickle=False)
        if list(data["people"]) == people and str(data["version"]) == FEATURE_VERSION and int(data["seed"]) == seed:
            return {k: data[k] for k in ("x", "species", "person", "found")}
    rows, species, owner, found = [], [], [], []
    for index, person in enumerate(people):
        rgb = load_image(first_image(images_dir, person), channels="rgb")
        rng = np.random.default_rng([seed, index])
        samples = [attacks.camera_jitter(rgb, rng)] + [attacks.simulate(rgb, kind, rng) for kind in attacks.KINDS]
        for label, sample in enumerate(samples):
            faces = detect_rgb(sample)
            species.append(label)
            owner.append(index)
            if not faces:
                rows.append(None)
                found.append(False)
                continue
            face = max(faces, key=lambda f: f.area)
            rows.append(features(sample, face))
            found.append(True)
        if progress:
            progress(index + 1, len(people))
    dim = next(r.size for r in rows if r is not None)
    x = np.stack([r if r is not None else np.zeros(dim, np.float32) for r in rows]).astype(np.float32)
    out = {"x": x, "species": np.array(species), "person": np.array(owner), "found": np.array(found)}
    if cache:
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache, people=np.array(people), version=np.array(FEATURE_VERSION), seed=np.array(seed), **out)
    return out


def pad_metrics(scores: np.ndarray, species: np.ndarray, found: np.ndarray, threshold: float) -> dict:
    """APCER per species, worst APCER and BPCER at ``threshold`` (score ≥ threshold = bona fide)."""
    accepted = found & (scores >= threshold)
    bona = species == 0
    out = {"threshold": round(float(threshold), 4),
           "bpcer": round(float(1.0 - accepted[bona].mean()), 4),
           "bona_fide": int(bona.sum()), "bona_fide_no_face": int((bona & ~found).sum()),
           "apcer": {}}
    for code, name in enumerate(SPECIES[1:], start=1):
        mask = species == code
        out["apcer"][name] = {"apcer": round(float(accepted[mask].mean()), 4), "attacks": int(mask.sum()),
                              "no_face": int((mask & ~found).sum())}
    out["apcer_worst"] = max(v["apcer"] for v in out["apcer"].values())
    return out


def threshold_at_bpcer(scores: np.ndarray, species: np.ndarray, found: np.ndarray, bpcer: float) -> float:
    bona = np.sort(scores[(species == 0) & found])
    return float(bona[int(np.floor(bpcer * len(bona)))]) if len(bona) else 0.5


def choose_c(x: np.ndarray, y: np.ndarray, groups: np.ndarray, seed: int,
             grid: tuple[float, ...] = (0.03, 0.1, 0.3, 1.0, 3.0)) -> float:
    """Regularisation by 5-fold cross-validation on the TRAIN people only (folds by person):
    the C with the lowest mean (APCER + BPCER) at 0.5."""
    from sklearn.model_selection import GroupKFold

    costs = {}
    for c in grid:
        errors = []
        for fit_rows, val_rows in GroupKFold(n_splits=5).split(x, y, groups):
            model = PassiveModel(fit(x[fit_rows], y[fit_rows], c=c, seed=seed))
            accepted = model.score_features(x[val_rows]) >= 0.5
            truth = y[val_rows] == 1
            errors.append((1 - accepted[truth].mean()) + accepted[~truth].mean())
        costs[c] = float(np.mean(errors))
    return min(costs, key=costs.get)


def run(images_dir: Path, out: Path, seed: int = 0, limit: int | None = None, c: float | None = None,
        command: str = "", progress=None) -> tuple[dict, dict]:
    """Build the attack set, train on the train people, evaluate on the test people.

    Returns (report, model record with provenance)."""
    train_people, test_people = split_people(images_dir, seed, limit=limit)
    start = time.perf_counter()
    train = build_features(images_dir, train_people, seed, out / "pad-train.npz", progress)
    test = build_features(images_dir, test_people, seed + 1, out / "pad-test.npz", progress)
    seconds = time.perf_counter() - start
    usable = train["found"]
    y = (train["species"][usable] == 0).astype(int)
    if c is None:
        c = choose_c(train["x"][usable], y, train["person"][usable], seed)
    record = fit(train["x"][usable], y, c=c, seed=seed)
    model = PassiveModel(record)
    scores = model.score_features(test["x"])
    report = {
        "what": "passive liveness on SIMULATED print/screen recaptures of real LFW photos (not real attacks)",
        "split": {"by": "person", "seed": seed, "train_people": len(train_people), "test_people": len(test_people)},
        "classifier": {"kind": "logistic regression on standardised features", "C": c, "C_chosen_by": "5-fold person-grouped CV on train"},
        "at_model_threshold": pad_metrics(scores, test["species"], test["found"], model.threshold),
        "apcer_at_bpcer": {},
        "train_fit": pad_metrics(model.score_features(train["x"]), train["species"], train["found"], model.threshold),
        "feature_seconds": round(seconds, 1),
        "command": command,
    }
    for target in (0.01, 0.05):
        t = threshold_at_bpcer(scores, test["species"], test["found"], target)
        report["apcer_at_bpcer"][f"{target:g}"] = pad_metrics(scores, test["species"], test["found"], t)
    record["provenance"] = {
        "trained": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%MZ"),
        "data": f"LFW deep-funneled ({images_dir.name}), first image per person, {len(train_people)} train people; "
                "bona fide = camera_jitter(photo), attacks = attacks.simulate(photo, print|screen)",
        "split": report["split"], "command": command,
        "test_result": {"bpcer": report["at_model_threshold"]["bpcer"],
                        "apcer": {k: v["apcer"] for k, v in report["at_model_threshold"]["apcer"].items()}},
        "limits": "simulated attacks only; never saw a real print, screen, mask or replayed video",
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "pad-report.json").write_text(json.dumps(report, indent=2) + "\n")
    _plot(scores, test, model.threshold, out / "pad-scores.png")
    return report, record


def bona_fide_check(folders: list[Path], model: PassiveModel) -> dict:
    """BPCER on real images from elsewhere (other cameras, video frames, grey scans): how the
    score behaves outside the LFW domain it was trained on. Largest face per image."""
    from ..pipeline import detect_rgb

    out = {}
    for folder in folders:
        paths = sorted(p for p in Path(folder).rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".pgm"))
        scores, no_face = [], 0
        for path in paths:
            rgb = load_image(path, channels="rgb")
            faces = detect_rgb(rgb)
            if not faces:
                no_face += 1
                continue
            scores.append(model.score(rgb, max(faces, key=lambda f: f.area)))
        scores = np.array(scores)
        out[str(folder)] = {"images": len(paths), "no_face": no_face,
                            "bpcer": round(float((scores < model.threshold).mean()), 4) if len(scores) else None,
                            "min_score": round(float(scores.min()), 4) if len(scores) else None}
    return out


def _plot(scores: np.ndarray, data: dict, threshold: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    for code, name in enumerate(SPECIES):
        mask = (data["species"] == code) & data["found"]
        ax.hist(scores[mask], bins=40, range=(0, 1), alpha=0.5, label=name)
    ax.axvline(threshold, color="k", ls="--", lw=1)
    ax.set_xlabel("passive score (P bona fide)")
    ax.set_ylabel("faces")
    ax.set_title("Passive liveness on simulated attacks (test people)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
