"""LFW-style verification evaluation (View 2 protocol), fused-score fitting and calibration.

Protocol: the pairs file holds 10 folds of matched + mismatched pairs. For each fold the
threshold that maximises accuracy on the other nine folds is applied to it; we report mean ±
std accuracy over the folds, ROC AUC, TAR at FAR 1e-2 / 1e-3 over all pairs, and thresholds at
those FARs (the calibration ``verify`` uses). Images go through ``facelens.pipeline`` (detect →
align → embed), as every other verb does; each image's face is the one at the image centre
(LFW's protocol: see ``central_face``, which re-detects in the central window when the detector
found only bystanders); images with no detection fall back to the central region and are counted.

``evaluate_verification`` runs the whole evaluation (``facelens eval verification``);
``write_calibration`` writes its thresholds and fusion weight where ``verify`` reads them.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from ..constants import DEFAULT_DETECTOR
from ..errors import BadInputError
from ..imageio import load_image
from ..types import Face

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Pair:
    first: str
    second: str
    same: bool
    fold: int


def parse_pairs(path: Path) -> list[Pair]:
    """LFW pairs.txt: a header 'folds per_fold', then 'name i j' or 'name1 i name2 j' lines."""
    try:
        lines = [l.split() for l in Path(path).read_text().splitlines() if l.strip()]
    except OSError as exc:
        raise BadInputError(f"{path}: cannot read pairs file ({exc})") from exc
    if not lines or len(lines[0]) != 2 or not all(v.isdigit() for v in lines[0]):
        raise BadInputError(f"{path}: first line must be '<folds> <pairs per class per fold>'")
    folds, per_fold = int(lines[0][0]), int(lines[0][1])
    body = lines[1:]
    if len(body) != folds * per_fold * 2:
        raise BadInputError(f"{path}: expected {folds * per_fold * 2} pairs, found {len(body)}")
    pairs = []
    for index, parts in enumerate(body):
        fold = index // (2 * per_fold)
        if len(parts) == 3:
            name, i, j = parts
            pairs.append(Pair(_image_name(name, i), _image_name(name, j), True, fold))
        elif len(parts) == 4:
            pairs.append(Pair(_image_name(parts[0], parts[1]), _image_name(parts[2], parts[3]), False, fold))
        else:
            raise BadInputError(f"{path}: line {index + 2} is not a pair: {' '.join(parts)}")
    return pairs


def _image_name(name: str, number: str) -> str:
    return f"{name}/{name}_{int(number):04d}.jpg"


@dataclass
class EmbeddingSet:
    names: list[str]
    vectors: dict[str, np.ndarray]  # model → N×D
    fallbacks: int = 0  # images with no face found: the central region was embedded
    seconds: dict[str, float] = field(default_factory=dict)  # embedding time per model, this run
    choices: dict[str, int] = field(default_factory=dict)  # images per FACE_CHOICES entry
    embedded: dict[str, int] = field(default_factory=dict)  # images embedded per model, this run


# How ``central_face`` chose each image's face, in the order it tries:
# - central: a detection whose box holds the image centre (LFW centres the person of interest);
# - central_crop: none did, so the central two thirds of the image were detected again;
# - nearest: still none: the detection nearest the centre (images that do not centre anyone);
# - no_face: nothing detected: the central half of the image taken as the face.
FACE_CHOICES = ("central", "central_crop", "nearest", "no_face")
FACE_RULE = "central-crop-v2"  # stored with cached embeddings: bump when central_face changes
CENTRAL_CROP = 2 / 3  # side of the re-detection window, as a fraction of the image's


def covers_centre(face: Face, shape: tuple[int, ...]) -> bool:
    x1, y1, x2, y2 = face.box
    return x1 <= shape[1] / 2 <= x2 and y1 <= shape[0] / 2 <= y2


def central_face(rgb: np.ndarray, detector: str = DEFAULT_DETECTOR) -> tuple[Face, str]:
    """(aligned face of the person the image centres, how it was found: one of FACE_CHOICES).

    LFW's protocol takes the face at the centre of each image. BlazeFace's full-range model can
    miss a large close-up face while it finds a bystander at the border (11 of the 7,701 LFW
    View 2 images): a face is taken only if its box holds the image centre, and if no detection
    does, the central window (bystanders at the border cut out, the subject relatively larger)
    is detected again. A box holding the centre is also the size check: a small background face
    can hold it only where it overlaps the subject."""
    from ..alignment import align_face
    from ..detection.base import nearest_to_centre
    from ..pipeline import detect_rgb

    faces = detect_rgb(rgb, detector, keep_crop=True)
    central = [f for f in faces if covers_centre(f, rgb.shape)]
    if central:
        return nearest_to_centre(central, rgb.shape), "central"
    recentred = _detect_in_central_window(rgb, detector)
    if recentred is not None:
        return align_face(rgb, recentred), "central_crop"
    if faces:
        return nearest_to_centre(faces, rgb.shape), "nearest"
    return _central_region_face(rgb), "no_face"


def _detect_in_central_window(rgb: np.ndarray, detector: str) -> Face | None:
    """The detection holding the image centre when only the central window is searched, in the
    whole image's coordinates (keypoints too), or None."""
    from ..detection.base import nearest_to_centre
    from ..pipeline import detect_rgb

    h, w = rgb.shape[:2]
    top, left = round(h * (1 - CENTRAL_CROP) / 2), round(w * (1 - CENTRAL_CROP) / 2)
    window = np.ascontiguousarray(rgb[top : h - top, left : w - left])
    central = [f for f in detect_rgb(window, detector) if covers_centre(f, window.shape)]
    if not central:
        return None
    face = nearest_to_centre(central, window.shape)
    x1, y1, x2, y2 = face.box
    return face.replace(box=(x1 + left, y1 + top, x2 + left, y2 + top),
                        keypoints={k: (x + left, y + top) for k, (x, y) in face.keypoints.items()})


def _central_region_face(rgb: np.ndarray) -> Face:
    """The central half of the image taken as one face, in image coordinates, aligned."""
    from ..alignment import align_face, whole_image_face

    h, w = rgb.shape[:2]
    inner = whole_image_face(rgb[h // 4 : 3 * h // 4, w // 4 : 3 * w // 4])
    face = inner.replace(box=(w / 4, h / 4, 3 * w / 4, 3 * h / 4),
                         keypoints={k: (x + w / 4, y + h / 4) for k, (x, y) in inner.keypoints.items()})
    return align_face(rgb, face)


def _derived_fusions(vectors: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Fused modes whose two parts are in the cache: computed from the parts exactly as the
    fused embedder combines them (``embedding.fusion``), so no image is embedded again. They
    replace a cached fused vector, which may carry a fusion weight calibrated since."""
    from ..embedding.fusion import FUSIONS, fused_from_parts

    derived = {}
    for name in FUSIONS:
        fused = fused_from_parts(name, vectors)
        if fused is not None:
            derived[name] = fused
    return derived


@dataclass
class _Cache:
    """Embeddings of a list of images per model, with the face each came from (box and how it
    was chosen) and the face rule they were chosen by."""

    vectors: dict[str, np.ndarray]
    boxes: np.ndarray | None  # N×4, None in caches written before faces were stored
    choices: np.ndarray | None  # N indices into FACE_CHOICES
    rule: str

    _META = ("names", "fallbacks", "boxes", "choices", "face_rule")

    @classmethod
    def read(cls, path: Path | None, names: list[str]) -> "_Cache | None":
        if not path or not path.is_file():
            return None
        data = np.load(path, allow_pickle=False)
        if list(data["names"]) != names:
            return None
        vectors = {k: data[k] for k in data.files if k not in cls._META}
        vectors.update(_derived_fusions(vectors))
        has_faces = "boxes" in data.files and "choices" in data.files
        return cls(vectors, data["boxes"] if has_faces else None, data["choices"] if has_faces else None,
                   str(data["face_rule"]) if "face_rule" in data.files else "")

    def same_face(self, index: int, face: Face, how: str) -> bool:
        if self.boxes is None:
            return False
        return (FACE_CHOICES[int(self.choices[index])] == how
                and bool(np.allclose(self.boxes[index], face.box, atol=1e-3)))


def embed_images(images_dir: Path, names: list[str], models: list[str], detector: str = DEFAULT_DETECTOR,
                 cache: Path | None = None, progress: Optional[Progress] = None) -> EmbeddingSet:
    """Embeddings of every named image for each model, reusing a cache file if given.

    The cache holds each image's face (box and how it was chosen) and the face rule: with the
    same rule and every model present nothing is recomputed; otherwise every image is detected
    again and only images whose face changed (or models not yet cached) are embedded."""
    from ..pipeline import embed_faces

    stored = _Cache.read(cache, names)
    if stored and stored.rule == FACE_RULE and stored.boxes is not None and all(m in stored.vectors for m in models):
        choices = np.bincount(stored.choices, minlength=len(FACE_CHOICES))
        return EmbeddingSet(names, {m: stored.vectors[m] for m in models}, int(choices[FACE_CHOICES.index("no_face")]),
                            choices={c: int(n) for c, n in zip(FACE_CHOICES, choices)})
    # models cached but not asked for are kept (and their changed faces re-embedded) only where
    # the cache says which face each vector came from; an older cache is rebuilt for these models
    from ..embedding import EMBEDDERS

    reusable = stored is not None and stored.boxes is not None
    keep = {m: v for m, v in stored.vectors.items() if m in EMBEDDERS} if reusable else {}
    rows = {m: [] for m in set(models) | set(keep)}
    seconds = {m: 0.0 for m in rows}
    embedded = {m: 0 for m in rows}
    boxes, choices = [], []
    for index, name in enumerate(names):
        rgb = load_image(images_dir / name, channels="rgb")
        face, how = central_face(rgb, detector)
        boxes.append(face.box)
        choices.append(FACE_CHOICES.index(how))
        unchanged = stored is not None and stored.same_face(index, face, how)
        for model in rows:
            if unchanged and model in keep:
                rows[model].append(keep[model][index])
                continue
            start = time.perf_counter()
            rows[model].append(embed_faces(rgb, [face], model)[0].embedding)
            seconds[model] += time.perf_counter() - start
            embedded[model] += 1
        if progress:
            progress(index + 1, len(names))
    vectors = {m: np.stack(r) for m, r in rows.items()}
    counts = np.bincount(np.array(choices, dtype=np.int8), minlength=len(FACE_CHOICES))
    fallbacks = int(counts[FACE_CHOICES.index("no_face")])
    if cache:
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache, names=np.array(names), fallbacks=np.array(fallbacks), face_rule=np.array(FACE_RULE),
                 boxes=np.array(boxes, dtype=np.float32), choices=np.array(choices, dtype=np.int8), **vectors)
    return EmbeddingSet(names, {m: vectors[m] for m in models}, fallbacks,
                        {m: s for m, s in seconds.items() if embedded[m]},
                        {c: int(n) for c, n in zip(FACE_CHOICES, counts)},
                        {m: n for m, n in embedded.items() if n})


def pair_scores(pairs: list[Pair], embeddings: EmbeddingSet, model: str) -> np.ndarray:
    index = {name: i for i, name in enumerate(embeddings.names)}
    vectors = embeddings.vectors[model]
    first = vectors[[index[p.first] for p in pairs]]
    second = vectors[[index[p.second] for p in pairs]]
    return np.einsum("ij,ij->i", first, second)


def best_threshold(scores: np.ndarray, labels: np.ndarray) -> float:
    candidates = np.unique(scores)
    midpoints = np.concatenate([[candidates[0] - 1e-6], (candidates[1:] + candidates[:-1]) / 2,
                                [candidates[-1] + 1e-6]])
    accuracy = [((scores >= t) == labels).mean() for t in midpoints]
    return float(midpoints[int(np.argmax(accuracy))])


def threshold_at_far(impostor_scores: np.ndarray, far: float) -> float:
    """Smallest threshold whose false-accept rate on these impostor scores is ≤ far."""
    ordered = np.sort(impostor_scores)[::-1]
    allowed = int(np.floor(far * len(ordered)))
    if allowed >= len(ordered):
        return float(ordered[-1])
    return float(ordered[allowed] + 1e-6)


@dataclass
class VerificationReport:
    model: str
    accuracy_mean: float
    accuracy_std: float
    fold_accuracies: list[float]
    roc_auc: float
    tar_at_far: dict[str, float]
    thresholds: dict[str, float]
    genuine_mean: float
    impostor_mean: float
    impostor_std: float
    pairs: int

    def to_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items()}


def fold_accuracies(pairs: list[Pair], scores: np.ndarray) -> list[float]:
    """Accuracy per fold with the threshold chosen on the other folds."""
    labels = np.array([p.same for p in pairs])
    folds = np.array([p.fold for p in pairs])
    accuracies = []
    for fold in np.unique(folds):
        train, test = folds != fold, folds == fold
        limit = best_threshold(scores[train], labels[train])
        accuracies.append(float(((scores[test] >= limit) == labels[test]).mean()))
    return accuracies


FUSION_GRID = tuple(np.round(np.arange(0.05, 0.96, 0.05), 2))


def fused_fold_accuracies(pairs: list[Pair], first: np.ndarray, second: np.ndarray,
                          grid: tuple[float, ...] = FUSION_GRID) -> tuple[list[float], list[float]]:
    """10-fold accuracy of the fused score with the weight *and* threshold chosen on the other
    nine folds (nested, so the weight never sees the fold it is tested on)."""
    labels = np.array([p.same for p in pairs])
    folds = np.array([p.fold for p in pairs])
    accuracies, weights = [], []
    for fold in np.unique(folds):
        train, test = folds != fold, folds == fold
        best = max(grid, key=lambda w: _train_accuracy(fuse_scores(first, second, w)[train], labels[train]))
        fused = fuse_scores(first, second, best)
        limit = best_threshold(fused[train], labels[train])
        accuracies.append(float(((fused[test] >= limit) == labels[test]).mean()))
        weights.append(float(best))
    return accuracies, weights


def _train_accuracy(scores: np.ndarray, labels: np.ndarray) -> float:
    return float(((scores >= best_threshold(scores, labels)) == labels).mean())


def evaluate(pairs: list[Pair], scores: np.ndarray, model: str,
             accuracies: list[float] | None = None) -> VerificationReport:
    from sklearn.metrics import roc_auc_score

    labels = np.array([p.same for p in pairs])
    accuracies = fold_accuracies(pairs, scores) if accuracies is None else accuracies
    impostor = scores[~labels]
    thresholds = {"best_accuracy": best_threshold(scores, labels)}
    tar = {}
    for far, key in ((1e-2, "far_1e-2"), (1e-3, "far_1e-3")):
        thresholds[key] = threshold_at_far(impostor, far)
        tar[key] = float((scores[labels] >= thresholds[key]).mean())
    return VerificationReport(
        model=model,
        accuracy_mean=float(np.mean(accuracies)),
        accuracy_std=float(np.std(accuracies)),
        fold_accuracies=accuracies,
        roc_auc=float(roc_auc_score(labels, scores)),
        tar_at_far=tar,
        thresholds=thresholds,
        genuine_mean=float(scores[labels].mean()),
        impostor_mean=float(impostor.mean()),
        impostor_std=float(impostor.std()),
        pairs=len(pairs),
    )


def fuse_scores(first: np.ndarray, second: np.ndarray, weight: float) -> np.ndarray:
    """The cosine of the fused embedding (see embedding/fusion.py), from the two cosines."""
    return weight * first + (1.0 - weight) * second


def fusion_weight_from(pairs: list[Pair], first: np.ndarray, second: np.ndarray,
                       grid: tuple[float, ...] = FUSION_GRID) -> float:
    """The weight (of the first score) that maximises accuracy over all pairs: the shipped value."""
    labels = np.array([p.same for p in pairs])
    return float(max(grid, key=lambda w: _train_accuracy(fuse_scores(first, second, w), labels)))


def plot_roc(reports_scores: dict[str, tuple[np.ndarray, np.ndarray]], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import roc_auc_score, roc_curve

    figure, axis = plt.subplots(figsize=(6, 5))
    for name, (labels, scores) in reports_scores.items():
        fpr, tpr, _ = roc_curve(labels, scores)
        axis.plot(np.maximum(fpr, 1e-4), tpr, label=f"{name} (AUC {roc_auc_score(labels, scores):.4f})")
    axis.set_xscale("log")
    axis.set_xlim(1e-4, 1)
    axis.set_xlabel("false accept rate")
    axis.set_ylabel("true accept rate")
    axis.set_title(title)
    axis.grid(True, which="both", alpha=0.3)
    axis.legend(loc="lower right")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)


def calibration_record(reports: dict[str, VerificationReport], fusion_weight: float, data: str,
                       command: str, default_point: str = "far_1e-3") -> dict:
    return {
        "how": (
            "Thresholds at a stated false-accept rate (FAR) over all impostor pairs of the data "
            "below; 'best_accuracy' maximises accuracy over all pairs. verify() uses 'default'."
        ),
        "data": data,
        "command": command,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "fusion_weight": fusion_weight,
        "models": {
            name: {
                "default": default_point,
                "thresholds": {k: round(v, 6) for k, v in report.thresholds.items()},
                "tar_at_far": report.tar_at_far,
                "accuracy_10fold": round(report.accuracy_mean, 5),
                "roc_auc": round(report.roc_auc, 5),
                "impostor_mean": round(report.impostor_mean, 5),
                "impostor_std": round(report.impostor_std, 5),
            }
            for name, report in reports.items()
        },
    }


def write_json(path: Path, payload: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2) + "\n")


def fused_report(pairs: list[Pair], first: np.ndarray, second: np.ndarray, name: str = "fused"
                 ) -> tuple[np.ndarray, VerificationReport, float, list[float]]:
    """A fused mode's scores and report, its shipped weight (fitted on all pairs) and the
    weight chosen inside each fold (the report's accuracy is the nested, honest one)."""
    weight = fusion_weight_from(pairs, first, second)
    nested, fold_weights = fused_fold_accuracies(pairs, first, second)
    scores = fuse_scores(first, second, weight)
    return scores, evaluate(pairs, scores, name, accuracies=nested), weight, fold_weights


def write_calibration(reports: dict[str, VerificationReport], fusion_weight: float, data: str,
                      command: str, path: Path | None = None,
                      fusion_weights: dict[str, float] | None = None) -> Path:
    """Write the thresholds and fusion weight ``verify`` uses (by default into the package's
    calibration/verification.json) and make this process read the new file; returns the path."""
    from ..match import thresholds

    path = path or thresholds.VERIFICATION_FILE
    record = calibration_record(reports, fusion_weight, data, command)
    if fusion_weights:
        record["fusion_weights"] = fusion_weights  # every fused mode's weight, ``fused``'s included
    write_json(path, record)
    thresholds.clear_cache()
    return path


@dataclass
class VerificationRun:
    summary: dict  # what report.json and `--json` hold
    reports: dict[str, VerificationReport]  # per chosen model, in the order asked
    calibration_file: Path | None = None


def evaluate_verification(pairs_file: Path, images_dir: Path, model: str = "all",
                          detector: str = DEFAULT_DETECTOR, out: Path = Path("runs/eval-verification"),
                          calibrate: bool = False, command: str = "",
                          progress: Optional[Progress] = None) -> VerificationRun:
    """``facelens eval verification``: embed every image of the pairs (cached in ``out``), score
    each model (``model``: one embedding model or "all"), write report.json and roc.png into
    ``out``; ``calibrate`` (needs "all": the fused weight depends on both backends) also writes
    the calibration file."""
    from ..embedding import EMBEDDERS
    from ..embedding.fusion import FUSIONS

    if not Path(images_dir).is_dir():
        raise BadInputError(f"{images_dir}: not a folder of images")
    chosen = list(EMBEDDERS) if model == "all" else [model]
    if any(m not in EMBEDDERS for m in chosen):
        raise BadInputError(f"unknown model {model!r}: {', '.join(EMBEDDERS)} or all")
    if calibrate and len(chosen) < len(EMBEDDERS):
        raise BadInputError("--calibrate needs --model all (the fused weight depends on both backends)")
    pairs = parse_pairs(pairs_file)
    names = sorted({p.first for p in pairs} | {p.second for p in pairs})
    missing = [n for n in names if not (images_dir / n).is_file()]
    if missing:
        raise BadInputError(f"{len(missing)} images of the pairs file are missing under {images_dir}, e.g. {missing[0]}")
    fused_modes = [m for m in chosen if m in FUSIONS]
    parts = {part for mode in fused_modes for part in FUSIONS[mode]}
    base_models = sorted(set(chosen) - set(FUSIONS) | parts)
    embeddings = embed_images(images_dir, names, base_models, detector,
                              cache=out / f"embeddings-{detector}.npz", progress=progress)
    scores = {m: pair_scores(pairs, embeddings, m) for m in base_models}
    reports = {m: evaluate(pairs, scores[m], m) for m in base_models}
    weights, fold_weights = {}, {}
    for mode in fused_modes:
        first, second = FUSIONS[mode]
        scores[mode], reports[mode], weights[mode], fold_weights[mode] = fused_report(
            pairs, scores[first], scores[second], mode)
    reports = {m: reports[m] for m in chosen}
    labels = np.array([p.same for p in pairs])
    plot_roc({m: (labels, scores[m]) for m in chosen}, out / "roc.png",
             f"{Path(pairs_file).name}: {len(pairs)} pairs")
    summary = {
        "pairs": len(pairs), "images": len(names), "detector": detector,
        "no_face_fallbacks": embeddings.fallbacks, "fusion_weight": weights.get("fused"),
        "fusion_weight_per_fold": fold_weights.get("fused"),
        "fusion_weights": weights, "fusion_weights_per_fold": fold_weights,
        "face_choices": embeddings.choices,
        "ms_per_image": {m: round(1000 * s / embeddings.embedded[m], 2) for m, s in embeddings.seconds.items()},
        "reports": {m: r.to_dict() for m, r in reports.items()}, "roc_png": str(out / "roc.png"),
    }
    write_json(out / "report.json", summary)
    calibration_file = None
    if calibrate:
        data = f"{pairs_file} with images {images_dir}"
        calibration_file = write_calibration(reports, weights.get("fused"), data, command, fusion_weights=weights)
    return VerificationRun(summary, reports, calibration_file)
