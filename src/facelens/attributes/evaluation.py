"""Accuracy of the attribute models on labelled data: one folder per class, or LFW name lists.

Metrics: accuracy, balanced accuracy (mean per-class recall: FER2013 and LFW gender are both
imbalanced), per-class precision / recall / F1 (scikit-learn), a confusion-matrix PNG. Images in
which the detector finds no face are counted and reported, not scored.
"""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..constants import IMAGE_SUFFIXES
from ..errors import BadInputError


# Folder names other data sets give FER2013's classes (FER+, RAF-DB, face-api.js, AffectNet
# words): mapped to the model's class when the model has that class.
CLASS_ALIASES = {"anger": "angry", "disgusted": "disgust", "fearful": "fear", "scared": "fear",
                 "happiness": "happy", "joy": "happy", "sadness": "sad", "surprised": "surprise",
                 "neutrality": "neutral"}


@dataclass
class LabelledSet:
    paths: list[Path]
    labels: list[str]
    classes: tuple[str, ...]
    unmapped: dict[str, int] = field(default_factory=dict)  # folder → images, matched to no class


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def class_folder_set(root: Path, classes: Sequence[str], limit: int | None = None, require_all: bool = False,
                     aliases: dict[str, str] = CLASS_ALIASES) -> LabelledSet:
    """``root/<folder>/*.jpg`` with each folder named after one of ``classes`` (any case, or a
    common alias such as happiness → happy). A folder that matches no class is not scored and is
    listed in ``unmapped`` with its image count, never skipped silently; BadInputError when no
    folder matches (or, ``require_all``, when a class has none). ``limit``: the first N file names
    (sorted) of each folder."""
    if not root.is_dir():
        raise BadInputError(f"{root}: not a folder of class folders")
    lookup = {alias: cls for alias, cls in aliases.items() if cls in classes}
    lookup.update({cls.lower(): cls for cls in classes})
    mapping, unmapped = {}, {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        cls = lookup.get(folder.name.lower())
        if cls is None:
            unmapped[folder.name] = len(_images(folder))
        else:
            mapping[folder] = cls
    present = tuple(c for c in classes if c in mapping.values())
    missing = [c for c in classes if c not in present]
    if not present or (require_all and missing):
        found = ", ".join(f.name for f in [*mapping, *(root / n for n in unmapped)]) or "none"
        raise BadInputError(f"{root}: no folder for class(es) {', '.join(missing)} (found: {found})")
    paths, labels = [], []
    for folder, cls in sorted(mapping.items(), key=lambda item: (classes.index(item[1]), item[0].name)):
        files = _images(folder)
        if not files:
            raise BadInputError(f"{folder}: class folder holds no images")
        files = files[:limit] if limit else files
        paths += files
        labels += [cls] * len(files)
    return LabelledSet(paths, labels, present, unmapped)


def lfw_name_list_set(images: Path, lists: dict[str, Path], limit: int | None = None) -> LabelledSet:
    """LFW images (``NAME/NAME_0001.jpg``) labelled by per-class lists of file names."""
    paths, labels = [], []
    for label, listing in lists.items():
        if not listing.is_file():
            raise BadInputError(f"{listing}: label list not found")
        names = sorted(set(listing.read_text(encoding="utf-8").split()))
        names = names[:limit] if limit else names
        for name in names:
            path = images / name.rsplit("_", 1)[0] / name
            if not path.is_file():
                raise BadInputError(f"{path}: listed in {listing.name} but missing under {images}")
            paths.append(path)
            labels.append(label)
    return LabelledSet(paths, labels, tuple(lists))


def lfw_smile_set(images: Path, smile_labels: Path, limit: int | None = None) -> LabelledSet:
    """``NAME/FILE.jpg L`` lines (1 smiling, 0 neutral) → happy / neutral."""
    if not smile_labels.is_file():
        raise BadInputError(f"{smile_labels}: smile label file not found")
    rows = []
    for line in smile_labels.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) != 2 or parts[1] not in ("0", "1"):
            continue
        rows.append((images / parts[0], "happy" if parts[1] == "1" else "neutral"))
    if not rows:
        raise BadInputError(f"{smile_labels}: no 'NAME/FILE.jpg 0|1' lines")
    rows = sorted(rows)[:limit] if limit else sorted(rows)
    missing = [p for p, _ in rows if not p.is_file()]
    if missing:
        raise BadInputError(f"{len(missing)} labelled images missing under {images}, e.g. {missing[0]}")
    return LabelledSet([p for p, _ in rows], [c for _, c in rows], ("happy", "neutral"))


def central_face(faces, width: int, height: int):
    """The face nearest the image centre (LFW's labelled person is centred)."""
    return min(faces, key=lambda f: (f.center[0] - width / 2) ** 2 + (f.center[1] - height / 2) ** 2)


@dataclass
class Evaluation:
    classes: tuple[str, ...]
    truth: list[str] = field(default_factory=list)
    predicted: list[str] = field(default_factory=list)
    scores: list[dict] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    no_face: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def metrics(self) -> dict:
        from sklearn.metrics import balanced_accuracy_score, precision_recall_fscore_support

        if not self.truth:
            raise BadInputError("no image could be scored (no face found in any)")
        labels = list(self.classes)
        p, r, f, s = precision_recall_fscore_support(self.truth, self.predicted, labels=labels, zero_division=0)
        return {
            "images": len(self.truth) + len(self.no_face), "scored": len(self.truth),
            "no_face": len(self.no_face),
            "accuracy": round(float(np.mean(np.array(self.truth) == np.array(self.predicted))), 4),
            "balanced_accuracy": round(float(balanced_accuracy_score(self.truth, self.predicted)), 4),
            "per_class": {c: {"precision": round(float(p[i]), 4), "recall": round(float(r[i]), 4),
                              "f1": round(float(f[i]), 4), "support": int(s[i])} for i, c in enumerate(labels)},
            "confusion": self.confusion().tolist(),
            "ms_per_image": round(1000 * self.seconds / max(1, len(self.truth) + len(self.no_face)), 2),
        }

    def confusion(self) -> np.ndarray:
        from sklearn.metrics import confusion_matrix

        return confusion_matrix(self.truth, self.predicted, labels=list(self.classes))


def shrink(rgb: np.ndarray, face, eye_distance: float):
    """The image and face scaled so the face has ``eye_distance`` px between the eyes (never
    enlarged): how reliable is an attribute for a face this small? Detection ran on the original,
    so only the attribute model sees the small face."""
    import cv2

    from .analyze import face_size

    scale = min(1.0, eye_distance / max(face_size(face), 1e-6))
    if scale >= 1.0:
        return rgb, face
    small = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return small, face.replace(box=tuple(v * scale for v in face.box), quality=None, crop=None,
                               keypoints={k: (x * scale, y * scale) for k, (x, y) in face.keypoints.items()})


def run(data: LabelledSet, predict: Callable[[np.ndarray, list], list[dict] | None], detector: str,
        classes: tuple[str, ...], map_label: Callable[[dict], str],
        progress: Callable[[int, int], None] | None = None,
        eye_distance: float | None = None) -> Evaluation:
    """Detect (or skip) each image, predict on its central face, collect truth/prediction."""
    from ..imageio import load_image
    from ..pipeline import detect_rgb

    result = Evaluation(classes)
    start = time.perf_counter()
    for n, (path, truth) in enumerate(zip(data.paths, data.labels), 1):
        rgb = load_image(path)
        faces = detect_rgb(rgb, detector)
        if not faces:
            result.no_face.append(str(path))
        else:
            face = central_face(faces, rgb.shape[1], rgb.shape[0])
            if eye_distance:
                rgb, face = shrink(rgb, face, eye_distance)
            record = predict(rgb, [face])[0]
            result.truth.append(truth)
            result.predicted.append(map_label(record))
            result.scores.append(record["probs"])
            result.paths.append(str(path))
        if progress:
            progress(n, len(data.paths))
    result.seconds = time.perf_counter() - start
    return result


def plot_confusion(matrix: np.ndarray, classes: Sequence[str], path: Path, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = matrix.sum(axis=1, keepdims=True)
    share = np.divide(matrix, rows, out=np.zeros_like(matrix, dtype=float), where=rows > 0)
    fig, ax = plt.subplots(figsize=(1.1 * len(classes) + 2.5, 1.1 * len(classes) + 2))
    ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    for i in range(len(classes)):
        for j in range(len(classes)):
            ax.text(j, i, f"{matrix[i, j]}\n{100 * share[i, j]:.0f}%", ha="center", va="center",
                    fontsize=8, color="white" if share[i, j] > 0.6 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def write_outputs(result: Evaluation, out: Path, title: str, extra: dict) -> dict:
    """report.json, predictions.csv and confusion.png in ``out``; returns the report."""
    out.mkdir(parents=True, exist_ok=True)
    report = {**extra, **result.metrics()}
    report["confusion_png"] = str(plot_confusion(result.confusion(), result.classes, out / "confusion.png", title))
    with (out / "predictions.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "truth", "predicted", *result.scores[0].keys()] if result.scores else ["path"])
        for path, truth, pred, probs in zip(result.paths, result.truth, result.predicted, result.scores):
            writer.writerow([path, truth, pred, *probs.values()])
    (out / "report.json").write_text(json.dumps(report, indent=1))
    return report
