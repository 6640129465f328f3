"""Training data in memory: folder-per-class sets, the FER2013 CSV, and LFW eye-region crops.

Everything returns an ``ImageSet``: N×H×W×C uint8 images of one size and mode, integer labels,
the class names, and optional ``groups`` (a person id per image, so splits never put one person
on both sides). Numpy/OpenCV only: no torch import here.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from ..attributes.eyes import EYE_SIZE, eye_crop
from ..constants import EMOTIONS, GENDERS, IMAGE_SUFFIXES
from ..detection.base import nearest_to_centre
from ..errors import BadInputError

FER_USAGE = {"Training": "train", "PublicTest": "public-test", "PrivateTest": "private-test"}


@dataclass
class ImageSet:
    images: np.ndarray  # N×H×W×C uint8
    labels: np.ndarray  # N int64
    classes: tuple[str, ...]
    groups: np.ndarray | None = None  # N ids (e.g. person) for group-aware splits
    names: list[str] = field(default_factory=list)  # file name per image, for reports

    def __post_init__(self) -> None:
        if self.images.ndim != 4 or self.images.dtype != np.uint8:
            raise ValueError("ImageSet.images must be N×H×W×C uint8")
        if len(self.images) != len(self.labels):
            raise ValueError("ImageSet: one label per image")

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def channels(self) -> int:
        return int(self.images.shape[3])

    @property
    def size(self) -> tuple[int, int]:
        return int(self.images.shape[1]), int(self.images.shape[2])

    def subset(self, index: np.ndarray) -> "ImageSet":
        index = np.asarray(index)
        return ImageSet(
            self.images[index], self.labels[index], self.classes,
            None if self.groups is None else self.groups[index],
            [self.names[i] for i in index] if self.names else [],
        )

    def counts(self) -> dict[str, int]:
        return {c: int((self.labels == i).sum()) for i, c in enumerate(self.classes)}


def normalise(image: np.ndarray, size: tuple[int, int], channels: str) -> np.ndarray:
    """Any H×W or H×W×{1,3,4} uint8 array → size (H, W) in 'grey' (H×W×1) or 'rgb' (H×W×3)."""
    if image.ndim == 3 and image.shape[2] == 4:
        image = image[:, :, :3]
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if channels == "grey":
        if image.ndim == 3:
            image = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    elif channels == "rgb":
        if image.ndim == 2:
            image = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    else:
        raise BadInputError(f"channels must be 'grey' or 'rgb', not {channels!r}")
    if image.shape[:2] != tuple(size):
        shrinking = image.shape[0] > size[0]
        image = cv2.resize(image, (size[1], size[0]),
                           interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
    return image.reshape(size[0], size[1], -1)


def read_image(path: Path) -> np.ndarray:
    """One file as uint8 grey (H×W) or RGB (H×W×3); 16-bit, palette, CMYK and alpha are converted."""
    try:
        with Image.open(path) as img:
            img.load()
            if img.mode in ("L", "RGB"):
                arr = np.asarray(img)
            elif img.mode in ("I;16", "I;16B", "I;16L", "I"):
                arr = np.asarray(img, dtype=np.float64)
                arr = (arr / max(arr.max(), 1.0) * 255.0).astype(np.uint8)
            elif img.mode == "LA":
                arr = np.asarray(img.convert("L"))
            else:
                arr = np.asarray(img.convert("RGB"))
    except (UnidentifiedImageError, OSError) as exc:
        raise BadInputError(f"{path}: not a readable image ({exc})") from exc
    return np.ascontiguousarray(arr, dtype=np.uint8)


def _class_folders(root: Path, classes: Iterable[str] | None) -> list[tuple[str, Path]]:
    if not root.is_dir():
        raise BadInputError(f"{root}: not a folder (expected one sub-folder per class)")
    found = {p.name: p for p in sorted(root.iterdir()) if p.is_dir() and not p.name.startswith(".")}
    if not found:
        raise BadInputError(f"{root}: holds no class folders (expected e.g. {root}/happy/*.jpg)")
    if classes is None:
        order = [c for c in EMOTIONS if c in found]
        order += sorted(c for c in found if c not in EMOTIONS)
        return [(c, found[c]) for c in order]
    classes = list(classes)
    missing = [c for c in classes if c not in found]
    if missing:
        raise BadInputError(f"{root}: missing class folder(s) {', '.join(missing)}; found {', '.join(found)}")
    return [(c, found[c]) for c in classes]


def load_folder(root: str | Path, size: tuple[int, int] = (48, 48), channels: str = "grey",
                classes: Iterable[str] | None = None, limit_per_class: int | None = None) -> ImageSet:
    """A folder with one sub-folder of images per class → ImageSet.

    Class order: the FER2013 emotion order for the emotion names present, then the others sorted
    (pass ``classes`` to fix it). Images of any size or mode are normalised to ``size`` and
    ``channels``; an empty class folder or an unreadable file is a BadInputError.
    """
    root = Path(root)
    folders = _class_folders(root, classes)
    images, labels, names = [], [], []
    for label, (name, folder) in enumerate(folders):
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise BadInputError(f"{folder}: class folder {name!r} holds no images")
        if limit_per_class:
            files = files[:limit_per_class]
        for path in files:
            images.append(normalise(read_image(path), size, channels))
            labels.append(label)
            names.append(f"{name}/{path.name}")
    return ImageSet(np.stack(images), np.asarray(labels, np.int64), tuple(c for c, _ in folders),
                    names=names)


def load_fer_csv(path: str | Path) -> dict[str, ImageSet]:
    """The original fer2013.csv (columns emotion, pixels, Usage) → {'train', 'public-test', 'private-test'}.

    ``pixels`` is 2,304 space-separated grey values (48×48). A missing column, an unknown label,
    a pixel string of the wrong length or an unknown Usage is a BadInputError naming the line.
    """
    path = Path(path)
    if not path.is_file():
        raise BadInputError(f"{path}: no such CSV file")
    parts: dict[str, tuple[list[np.ndarray], list[int]]] = {}
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        header = [h.strip() for h in (reader.fieldnames or [])]
        reader.fieldnames = header
        missing = [c for c in ("emotion", "pixels") if c not in header]
        if missing:
            raise BadInputError(
                f"{path}: missing column(s) {', '.join(missing)}; expected emotion,pixels,Usage "
                f"(found {', '.join(header) or 'no header'})")
        for line, row in enumerate(reader, start=2):
            try:
                label = int(row["emotion"])
            except (TypeError, ValueError):
                raise BadInputError(f"{path}:{line}: emotion {row['emotion']!r} is not an integer 0-6") from None
            if not 0 <= label < len(EMOTIONS):
                raise BadInputError(f"{path}:{line}: emotion {label} is outside 0-6")
            values = (row["pixels"] or "").split()
            if len(values) != 48 * 48:
                raise BadInputError(
                    f"{path}:{line}: pixels holds {len(values)} values, expected 2304 (48×48)")
            try:
                pixels = np.asarray([int(v) for v in values])
            except ValueError:
                raise BadInputError(f"{path}:{line}: pixels must be integers 0-255") from None
            if pixels.min() < 0 or pixels.max() > 255:
                raise BadInputError(f"{path}:{line}: pixel values must be in 0-255")
            usage_raw = (row.get("Usage") or "Training").strip()
            usage = FER_USAGE.get(usage_raw)
            if usage is None:
                raise BadInputError(
                    f"{path}:{line}: Usage {usage_raw!r} is not one of {', '.join(FER_USAGE)}")
            images, labels = parts.setdefault(usage, ([], []))
            images.append(pixels.astype(np.uint8).reshape(48, 48, 1))
            labels.append(label)
    if not parts:
        raise BadInputError(f"{path}: holds no data rows")
    return {usage: ImageSet(np.stack(imgs), np.asarray(labs, np.int64), EMOTIONS)
            for usage, (imgs, labs) in parts.items()}


def write_fer_csv(path: str | Path, splits: dict[str, ImageSet]) -> None:
    """The inverse of load_fer_csv (used by tests and to convert folders for other tools)."""
    inverse = {v: k for k, v in FER_USAGE.items()}
    with Path(path).open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["emotion", "pixels", "Usage"])
        for usage, data in splits.items():
            for image, label in zip(data.images, data.labels):
                grey = normalise(image, (48, 48), "grey").ravel()
                name = data.classes[label]
                writer.writerow([EMOTIONS.index(name), " ".join(map(str, grey)), inverse[usage]])


# --- eye-region crops (eye_crop itself lives in attributes.eyes, shared with inference) ------

def _default_detector() -> Callable[[np.ndarray], list]:
    """BlazeFace through the pipeline, called as the shipped gender_eyes model's crops were cut.

    That call passes the RGB array with ``channels="bgr"`` (facelens.detect's default), so the
    detector sees red and blue swapped; it is kept so a re-run reproduces those training crops."""
    from ..pipeline import detect

    return lambda rgb: detect(rgb, channels="bgr")


def read_gender_labels(female_names: str | Path, male_names: str | Path) -> dict[str, int]:
    """LFW file name → 0 female / 1 male, from the two name lists."""
    labels: dict[str, int] = {}
    for label, listing in enumerate((female_names, male_names)):
        listing = Path(listing)
        if not listing.is_file():
            raise BadInputError(f"{listing}: gender name list not found")
        for line in listing.read_text(encoding="utf-8").split():
            labels[line.strip()] = label
    if not labels:
        raise BadInputError("the gender name lists are empty")
    return labels


def person_of(file_name: str) -> str:
    """LFW 'George_W_Bush_0001.jpg' → 'George_W_Bush'."""
    return Path(file_name).stem.rsplit("_", 1)[0]


def load_lfw_eyes(images_dir: str | Path, female_names: str | Path, male_names: str | Path,
                  size: tuple[int, int] = EYE_SIZE, detector: Callable | None = None,
                  cache: str | Path | None = None, limit: int | None = None,
                  progress: Callable[[int, int], None] | None = None) -> ImageSet:
    """Eye-region crops (RGB) of LFW faces with gender labels; ``groups`` = person name.

    The detector's right_eye/left_eye keypoints place the crop; an image where the detector
    finds no face is skipped (the count is in ``skipped``). With ``cache`` the crops are stored
    in an .npz keyed by the label lists and size, so re-runs skip detection.
    """
    images_dir = Path(images_dir)
    if not images_dir.is_dir():
        raise BadInputError(f"{images_dir}: LFW images folder not found")
    labels = read_gender_labels(female_names, male_names)
    files = sorted(labels)
    if limit:
        rng = np.random.default_rng(0)  # a fixed-seed subset, never hand-picked
        files = sorted(rng.choice(files, size=min(limit, len(files)), replace=False).tolist())
    key = hashlib.sha256(("|".join(files) + f"{size}").encode()).hexdigest()[:16]
    if cache is not None:
        cache = Path(cache)
        if cache.is_file():
            data = np.load(cache, allow_pickle=False)
            if str(data["key"]) == key:
                return ImageSet(data["images"], data["labels"], GENDERS, data["groups"],
                                data["names"].tolist())
    detect = detector or _default_detector()
    images, ys, groups, names = [], [], [], []
    for i, name in enumerate(files):
        path = images_dir / person_of(name) / name
        if progress:
            progress(i, len(files))
        if not path.is_file():
            continue
        rgb = read_image(path)
        if rgb.ndim == 2:
            rgb = cv2.cvtColor(rgb, cv2.COLOR_GRAY2RGB)
        faces = detect(rgb)
        if not faces:
            continue
        face = nearest_to_centre(faces, rgb.shape)  # LFW centres the named person
        kp = face.keypoints
        if "right_eye" not in kp or "left_eye" not in kp:
            continue
        images.append(eye_crop(rgb, kp["right_eye"], kp["left_eye"], size))
        ys.append(labels[name])
        groups.append(person_of(name))
        names.append(name)
    if not images:
        raise BadInputError(f"{images_dir}: no eye crops could be cut (no faces found)")
    result = ImageSet(np.stack(images), np.asarray(ys, np.int64), GENDERS, np.asarray(groups), names)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(cache, images=result.images, labels=result.labels, groups=result.groups,
                            names=np.asarray(names), key=np.asarray(key))
    return result
