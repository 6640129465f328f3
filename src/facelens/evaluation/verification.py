"""LFW-style verification evaluation (View 2 protocol) and threshold calibration.

Protocol: the pairs file holds 10 folds of matched + mismatched pairs. For each fold the
threshold that maximises accuracy on the other nine folds is applied to it; we report mean ±
std accuracy over the folds, ROC AUC, TAR at FAR 1e-2 / 1e-3 over all pairs, and thresholds at
those FARs (the calibration ``verify`` uses). Each image's face is the detected face nearest the
image centre (LFW centres the person of interest); images with no detection fall back to the
central region and are counted.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ..errors import BadInputError
from ..imageio import load_image


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
    fallbacks: int = 0
    seconds: dict[str, float] = field(default_factory=dict)


def embed_images(images_dir: Path, names: list[str], models: list[str], detector: str = "blazeface",
                 cache: Path | None = None, progress=None) -> EmbeddingSet:
    """Embeddings of every named image for each base model, reusing a cache file if given."""
    from ..alignment import align_face, whole_image_face
    from ..detection import get_detector
    from ..embedding import get_embedder

    cached: dict[str, np.ndarray] = {}
    fallbacks = 0
    if cache and cache.is_file():
        data = np.load(cache, allow_pickle=False)
        if list(data["names"]) == names:
            cached = {k: data[k] for k in data.files if k not in ("names", "fallbacks")}
            fallbacks = int(data["fallbacks"])
    todo = [m for m in models if m not in cached]
    if todo:
        fallbacks = 0
    seconds = {m: 0.0 for m in todo}
    if todo:
        finder = get_detector(detector)
        rows: dict[str, list[np.ndarray]] = {m: [] for m in todo}
        for index, name in enumerate(names):
            rgb = load_image(images_dir / name, channels="rgb")
            faces = finder.detect(rgb)
            if faces:
                cx, cy = rgb.shape[1] / 2, rgb.shape[0] / 2
                face = min(faces, key=lambda f: (f.center[0] - cx) ** 2 + (f.center[1] - cy) ** 2)
            else:
                fallbacks += 1
                h, w = rgb.shape[:2]
                inner = rgb[h // 4 : 3 * h // 4, w // 4 : 3 * w // 4]
                face = whole_image_face(inner)
                face = face.replace(box=(w / 4, h / 4, 3 * w / 4, 3 * h / 4),
                                    keypoints={k: (x + w / 4, y + h / 4) for k, (x, y) in face.keypoints.items()})
            face = align_face(rgb, face)
            for model in todo:
                start = time.perf_counter()
                rows[model].append(get_embedder(model).embed(rgb, [face])[0])
                seconds[model] += time.perf_counter() - start
            if progress:
                progress(index + 1, len(names))
        for model in todo:
            cached[model] = np.stack(rows[model])
        if cache:
            cache.parent.mkdir(parents=True, exist_ok=True)
            np.savez(cache, names=np.array(names), fallbacks=np.array(fallbacks), **cached)
    return EmbeddingSet(names, {m: cached[m] for m in models}, fallbacks, seconds)


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
