"""Video identity on labelled frames: the watch pipeline against face_recognition's per-frame recipe.

    facelens eval video --labels bench/labels/short_hamilton_clip.json VIDEO \
        --person lin_manuel_miranda=lin-manuel-miranda.png --person barack_obama=obama.jpg

Labels (bench/labels/README.md): per frame, every scored face ``[frame, identity, x1, y1, x2, y2]``
and ignore regions ``[first, last, x1, y1, x2, y2]``. Each system gives, per frame, hypotheses
(id, name or None, box):

* **facelens** — ``video.watch`` exactly as ``facelens watch`` runs it (adaptive detection,
  tracking, appearance gate, shot cuts, track voting); a face's id for IDF1 is the identity the
  time line gives its track (an enrolled name, else the track), and the name shown on the face
  at that frame (causal: before its track is decided, none) is what false identities judge.
* **dlib recipe** (the anchor, face_recognition's own video example): every frame, dlib's HOG
  detector (upsampling 1), the 5-point shape, the ResNet descriptor, and the closest enrolled
  face when its L2 distance ≤ ``tolerance`` (0.6). A face no one matches is ``Unknown`` — the
  recipe's own label, one id shared by every stranger (it carries nothing from frame to frame).

Metrics, per system (py-motmetrics, IoU ≥ 0.5 to match a labelled face): IDF1, ID switches, MOTA,
precision, recall. A hypothesis that matches no labelled face and lies mostly (≥ 50 % of its
area) in an ignore region is not scored. On top:

* **false-identity frames**: frames in which some face carries an enrolled name E but does not
  overlap (IoU ≥ 0.3) a labelled face of E — a wrong name, or a name on something unlabelled.
  Ignore regions do not excuse this: they hold no enrolled person.
* **time line per enrolled person**: the frames a system says E was on screen (facelens: every
  frame between entering and leaving of each sighting the time line records, as ``facelens
  timeline`` shows them; dlib: the frames in which it named E) against the labelled frames of E:
  precision and recall.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..errors import BadInputError

Box = tuple[float, float, float, float]
Hypothesis = tuple[str, str | None, Box]  # (id, enrolled name or None, box)


@dataclass
class VideoLabels:
    video: str
    frames: int
    fps: float
    faces: dict[int, list[tuple[str, Box]]]
    ignore: list[tuple[int, int, Box]]
    identities: dict[str, str] = field(default_factory=dict)
    cuts: list[int] = field(default_factory=list)
    min_face_height: float = 0.0  # smaller faces are not labelled: smaller hypotheses are not scored

    def frames_of(self, identity: str) -> set[int]:
        return {f for f, rows in self.faces.items() for name, _ in rows if name == identity}


def load_labels(path: str | Path) -> VideoLabels:
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        faces: dict[int, list[tuple[str, Box]]] = {}
        for frame, name, *box in raw["faces"]:
            faces.setdefault(int(frame), []).append((str(name), tuple(float(v) for v in box)))
        ignore = [(int(a), int(b), tuple(float(v) for v in box)) for a, b, *box in raw.get("ignore", [])]
        return VideoLabels(str(raw["video"]), int(raw["frames"]), float(raw["fps"]), faces, ignore,
                           dict(raw.get("identities", {})), [int(c) for c in raw.get("cuts", [])],
                           float(raw.get("min_face_height", 0.0)))
    except FileNotFoundError:
        raise BadInputError(f"{path}: no such labels file") from None
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise BadInputError(f"{path}: not a video labels file ({type(exc).__name__}: {exc})") from None


# -- the two systems ---------------------------------------------------------------------------

def run_facelens(video: str | Path, people: Mapping[str, Sequence[str | Path]], config: Any = None,
                 threshold: float | None = None) -> dict[str, Any]:
    """Per-frame hypotheses and the time line of ``video.watch`` (one camera, no sinks)."""
    from ..video.identity import MemoryWatchlist
    from ..video.linking import Linker
    from ..video.watch import WatchConfig, watch

    watchlist = MemoryWatchlist.from_images(people, threshold=threshold)
    shown: dict[int, list[tuple[int, str | None, Box]]] = {}

    def record(frame, faces) -> None:
        shown[frame.index] = [(int(face.attributes.get("track_id", -1)), face.attributes.get("identity"),
                               tuple(float(v) for v in face.box)) for face in faces]

    linker = Linker(None)
    started = time.perf_counter()
    summary = watch([str(video)], watchlist, config=config or WatchConfig(), linker=linker, on_frame=record)
    seconds = time.perf_counter() - started
    sightings = [(s.identity, s.entered_s, s.left_s) for s in linker.sightings if s.identity]
    # A track's id is the identity the time line gives it (the whole track is that person), else
    # the track; the name shown on the frame at that moment is what false identities judge.
    final = {s.track_id: s.identity for s in linker.sightings if s.identity}
    frames = {index: [(final.get(track) or f"track:{track}", name, box) for track, name, box in faces]
              for index, faces in shown.items()}
    camera = summary.cameras[0]
    return {"frames": frames, "sightings": sightings, "seconds": seconds, "fps": camera.fps,
            "threshold": watchlist.threshold, "error": camera.error}


def run_dlib_recipe(video: str | Path, people: Mapping[str, Sequence[str | Path]], tolerance: float = 0.6,
                    upsample: int = 1, progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """face_recognition's per-frame recipe, with the same dlib models it uses."""
    from ..detection.landmarks5 import dlib_module, shape_predictor
    from ..imageio import load_image
    from ..models.registry import model_path

    dlib = dlib_module()
    detector = dlib.get_frontal_face_detector()
    predictor = shape_predictor()
    network = dlib.face_recognition_model_v1(str(model_path("dlib")))

    def encodings(rgb: np.ndarray) -> tuple[list[Box], list[np.ndarray]]:
        rects = detector(rgb, upsample)
        boxes = [(float(r.left()), float(r.top()), float(r.right()), float(r.bottom())) for r in rects]
        vectors = [np.array(network.compute_face_descriptor(rgb, predictor(rgb, r), 1)) for r in rects]
        return boxes, vectors

    names, known = [], []
    for name, images in people.items():
        for image in images:
            boxes, vectors = encodings(load_image(image))
            if not vectors:
                raise BadInputError(f"{image}: dlib's HOG detector finds no face to enrol {name}")
            largest = max(range(len(boxes)), key=lambda i: (boxes[i][2] - boxes[i][0]) * (boxes[i][3] - boxes[i][1]))
            names.append(name)
            known.append(vectors[largest])
    known_matrix = np.stack(known)
    frames: dict[int, list[Hypothesis]] = {}
    capture = cv2.VideoCapture(str(video))
    started = time.perf_counter()
    index = 0
    while True:
        ok, bgr = capture.read()
        if not ok:
            break
        boxes, vectors = encodings(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        found: list[Hypothesis] = []
        for box, vector in zip(boxes, vectors):
            distances = np.linalg.norm(known_matrix - vector, axis=1)
            best = int(np.argmin(distances))
            name = names[best] if distances[best] <= tolerance else None
            found.append((name or "Unknown", name, box))
        frames[index] = found
        index += 1
        if progress is not None:
            progress(1)
    capture.release()
    seconds = time.perf_counter() - started
    return {"frames": frames, "seconds": seconds, "fps": index / seconds if seconds else 0.0}


# -- scoring ---------------------------------------------------------------------------------

def _iou(a: Sequence[Box], b: Sequence[Box]) -> np.ndarray:
    from ..detection.base import iou_matrix

    if not len(a) or not len(b):
        return np.zeros((len(a), len(b)))
    return iou_matrix(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))


def _inside(box: Box, region: Box) -> float:
    w = max(0.0, min(box[2], region[2]) - max(box[0], region[0]))
    h = max(0.0, min(box[3], region[3]) - max(box[1], region[1]))
    return w * h / max((box[2] - box[0]) * (box[3] - box[1]), 1e-9)


def _scored(labels: VideoLabels, frame: int, hypotheses: list[Hypothesis]) -> list[Hypothesis]:
    """Drop hypotheses that match no labelled face and either lie mostly in an ignore region or
    are smaller than the smallest face the labels score."""
    truth = [box for _, box in labels.faces.get(frame, [])]
    regions = [box for first, last, box in labels.ignore if first <= frame <= last]
    overlaps = _iou([h[2] for h in hypotheses], truth)
    kept = []
    for i, hypothesis in enumerate(hypotheses):
        box = hypothesis[2]
        if overlaps.shape[1] and overlaps[i].max() >= 0.5:
            kept.append(hypothesis)
        elif box[3] - box[1] >= labels.min_face_height and all(_inside(box, r) < 0.5 for r in regions):
            kept.append(hypothesis)
    return kept


def _distances(truth: Sequence[Box], hypotheses: Sequence[Box], min_iou: float = 0.5) -> np.ndarray:
    """motmetrics' distance matrix: 1 − IoU, NaN (may not match) below ``min_iou``. Computed here
    because motmetrics 1.4's own iou_matrix calls np.asfarray, which NumPy 2 removed."""
    overlaps = _iou(truth, hypotheses)
    return np.where(overlaps >= min_iou, 1.0 - overlaps, np.nan)


def score(labels: VideoLabels, frames: Mapping[int, list[Hypothesis]], enrolled: Sequence[str],
          timeline: Mapping[str, set[int]] | None = None) -> dict[str, Any]:
    """MOT metrics (py-motmetrics), false-identity frames and per-person time lines."""
    try:
        import motmetrics as mm
    except ImportError:  # pragma: no cover - depends on the optional extra
        raise BadInputError('eval video needs py-motmetrics: pip install "facelens[video]"') from None
    accumulator = mm.MOTAccumulator(auto_id=False)
    truth_ids: dict[str, int] = {}
    hyp_ids: dict[str, int] = {}
    false_frames, false_faces = [], 0
    named_frames: dict[str, set[int]] = {name: set() for name in enrolled}
    for frame in range(labels.frames):
        truth = labels.faces.get(frame, [])
        hypotheses = frames.get(frame, [])
        wrong = _false_identities(truth, hypotheses, enrolled)
        if wrong:
            false_frames.append(frame)
            false_faces += wrong
        for _, name, _ in hypotheses:
            if name in named_frames:
                named_frames[name].add(frame)
        scored = _scored(labels, frame, hypotheses)
        distances = _distances([b for _, b in truth], [h[2] for h in scored])
        # motmetrics keeps ids in float columns: number the names and hypothesis ids.
        accumulator.update([_number(truth_ids, name) for name, _ in truth], [_number(hyp_ids, h[0]) for h in scored],
                           distances, frameid=frame)
    summary = mm.metrics.create().compute(
        accumulator, metrics=["idf1", "idp", "idr", "idtp", "idfp", "idfn", "mota", "num_switches", "precision",
                              "recall", "num_false_positives", "num_misses", "num_objects"], name="run")
    row = summary.iloc[0]
    shown = timeline if timeline is not None else named_frames
    people = {}
    for name in enrolled:
        truth_frames = labels.frames_of(name)
        said = shown.get(name, set())
        both = len(truth_frames & said)
        people[name] = {"labelled_frames": len(truth_frames), "timeline_frames": len(said),
                        "precision": round(both / len(said), 4) if said else None,
                        "recall": round(both / len(truth_frames), 4) if truth_frames else None}
    return {"idf1": _round(row["idf1"]), "idp": _round(row["idp"]), "idr": _round(row["idr"]),
            "idtp": int(row["idtp"]), "idfp": int(row["idfp"]), "idfn": int(row["idfn"]),
            "mota": _round(row["mota"]), "id_switches": int(row["num_switches"]),
            "precision": _round(row["precision"]), "recall": _round(row["recall"]),
            "false_positives": int(row["num_false_positives"]), "misses": int(row["num_misses"]),
            "labelled_faces": int(row["num_objects"]),
            "false_identity_frames": len(false_frames), "false_identity_faces": false_faces,
            "first_false_identity_frames": false_frames[:10], "timeline": people}


def _false_identities(truth: list[tuple[str, Box]], hypotheses: list[Hypothesis], enrolled: Sequence[str]) -> int:
    wrong = 0
    for _, name, box in hypotheses:
        if name is None or name not in enrolled:
            continue
        mine = [b for identity, b in truth if identity == name]
        if not mine or _iou([box], mine).max() < 0.3:
            wrong += 1
    return wrong


def _number(numbers: dict[str, int], key: str) -> int:
    return numbers.setdefault(key, len(numbers) + 1)


def _round(value: float) -> float | None:
    return None if value is None or not np.isfinite(value) else round(float(value), 4)


def timeline_frames(sightings: Sequence[tuple[str, float, float]], fps: float, frames: int) -> dict[str, set[int]]:
    """Frames inside each sighting [entered, left] (stream seconds), per identity."""
    out: dict[str, set[int]] = {}
    for identity, entered, left in sightings:
        first, last = int(round(entered * fps)), int(round(left * fps))
        out.setdefault(identity, set()).update(range(max(first, 0), min(last, frames - 1) + 1))
    return out


def evaluate(video: str | Path, labels_path: str | Path, people: Mapping[str, Sequence[str | Path]],
             anchor: bool = True, config: Any = None, tolerance: float = 0.6,
             progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Both systems on one labelled video; the report ``facelens eval video`` prints."""
    labels = load_labels(labels_path)
    if not Path(video).is_file():
        raise BadInputError(f"{video}: no such video file")
    capture = cv2.VideoCapture(str(video))
    count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    capture.release()
    if count and count != labels.frames:
        raise BadInputError(f"{video} has {count} frames but {labels_path} labels {labels.frames}: "
                            "wrong video for these labels?")
    enrolled = list(people)
    # An enrolled person the labels do not list is a stranger to this video: naming anyone so
    # is a false identity. Say so in the report (it may also be a misspelt name).
    strangers = [name for name in people if name not in labels.identities]
    ours = run_facelens(video, people, config)
    report: dict[str, Any] = {
        "video": str(video), "labels": str(labels_path), "frames": labels.frames, "enrolled": enrolled,
        "enrolled_not_in_labels": strangers,
        "facelens": {**score(labels, ours["frames"], enrolled,
                             timeline_frames(ours["sightings"], labels.fps, labels.frames)),
                     "fps": round(ours["fps"], 2), "threshold": round(ours["threshold"], 4)},
    }
    if anchor:
        theirs = run_dlib_recipe(video, people, tolerance, progress=progress)
        report["dlib_recipe"] = {**score(labels, theirs["frames"], enrolled),
                                 "fps": round(theirs["fps"], 2), "tolerance": tolerance}
        report["idf1_gain_points"] = round(100 * ((report["facelens"]["idf1"] or 0) - (report["dlib_recipe"]["idf1"] or 0)), 1)
    return report
