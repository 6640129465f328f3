"""Open-set 1:N identification on LFW: FNIR at FPIR = 1 %, through a real (temporary) gallery.

Fixed rule, no hand-picking (images sorted by file name inside each person's folder):
  * a person with ≥ 2 images: the first ``enrol`` images are enrolled (default 1), the rest are
    *mated* probes (they should be found);
  * a person with exactly 1 image: that image is a *non-mated* probe (an unknown person).
    With ``enrol`` > 1, people with 2..enrol images are left out (too few to probe).
FPIR(t) = share of non-mated probes whose best score ≥ t (someone unknown called a member).
FNIR(t) = share of mated probes whose best candidate is not their identity, or scores < t.
The threshold at FPIR = 1 % is chosen on one half of the unknown people and FNIR/FPIR are
reported on the other half (halves by the parity of a SHA-256 of the name; both directions
averaged), so the headline number is not measured on the data that set the threshold.
``--calibrate`` writes the threshold from *all* unknowns into calibration/identification.json.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..constants import DEFAULT_DETECTOR, DEFAULT_MODEL, IMAGE_SUFFIXES
from ..errors import BadInputError


@dataclass
class Protocol:
    enrol: dict[str, list[str]]  # person → image names enrolled
    mated: list[tuple[str, str]]  # (person, image name)
    unknown: list[tuple[str, str]]


def build_protocol(images_dir: Path, enrol: int = 1) -> Protocol:
    people = sorted(p for p in images_dir.iterdir() if p.is_dir())
    if not people:
        raise BadInputError(f"{images_dir} holds no NAME/ folders (expected LFW layout NAME/NAME_0001.jpg)")
    protocol = Protocol({}, [], [])
    for person in people:
        files = sorted(f.name for f in person.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
        names = [f"{person.name}/{f}" for f in files]
        if len(names) == 1:
            protocol.unknown.append((person.name, names[0]))
        elif len(names) > enrol:
            protocol.enrol[person.name] = names[:enrol]
            protocol.mated += [(person.name, n) for n in names[enrol:]]
    return protocol


def _half(name: str) -> int:
    return hashlib.sha256(name.encode()).digest()[-1] & 1


def threshold_at_fpir(nonmated_best: np.ndarray, fpir: float) -> float:
    """Smallest threshold t with share(scores ≥ t) ≤ fpir."""
    scores = np.sort(nonmated_best)[::-1]
    allowed = int(np.floor(fpir * len(scores)))  # this many may be ≥ t
    if allowed >= len(scores):
        return float(scores[-1])
    return float(np.nextafter(scores[allowed], np.float32(np.inf)))


def rates(threshold: float, mated_correct: np.ndarray, mated_best: np.ndarray, nonmated_best: np.ndarray) -> dict:
    return {
        "threshold": round(threshold, 6),
        "fpir": round(float((nonmated_best >= threshold).mean()), 5),
        "fnir": round(float(1.0 - (mated_correct & (mated_best >= threshold)).mean()), 5),
    }


def run(images_dir: Path, model: str = DEFAULT_MODEL, enrol: int = 1, scoring: str = "max",
        fpir: float = 0.01, cache: Path | None = None, detector: str = DEFAULT_DETECTOR, progress=None) -> dict:
    from ..gallery import EnrolRecord, Gallery, Template
    from ..gallery.crypto import generate_key
    from . import verification as ev

    protocol = build_protocol(images_dir, enrol)
    # every image of the folder, whatever ``enrol`` is: one embedding cache serves all protocols
    all_names = sorted(f"{p.name}/{f.name}" for p in images_dir.iterdir() if p.is_dir()
                       for f in p.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
    start = time.perf_counter()
    embedded = ev.embed_images(images_dir, all_names, [model], detector=detector, cache=cache, progress=progress)
    row = {name: i for i, name in enumerate(embedded.names)}
    vectors = embedded.vectors[model]
    with tempfile.TemporaryDirectory(prefix="facelens-eval-") as tmp:
        with Gallery(Path(tmp) / "eval.db", key=generate_key(), index="exact", scoring=scoring) as gallery:
            records = [EnrolRecord(person, [Template(vectors[row[n]], model, "eval", source=n) for n in names])
                       for person, names in protocol.enrol.items()]
            for i in range(0, len(records), 2000):
                gallery.enrol_records(records[i:i + 2000], audit=False)
            def best(items):
                out = gallery.search([vectors[row[n]] for _, n in items], model, top_k=1, scoring=scoring)
                return (np.array([r.candidates[0].identity if r.candidates else "" for r in out]),
                        np.array([r.candidates[0].similarity if r.candidates else -1.0 for r in out]))
            mated_who, mated_best = best(protocol.mated)
            _, nonmated_best = best(protocol.unknown)
    mated_correct = mated_who == np.array([p for p, _ in protocol.mated])
    halves = np.array([_half(p) for p, _ in protocol.unknown])
    held_out = []
    for calib in (0, 1):
        t = threshold_at_fpir(nonmated_best[halves == calib], fpir)
        held_out.append(rates(t, mated_correct, mated_best, nonmated_best[halves != calib]))
    t_all = threshold_at_fpir(nonmated_best, fpir)
    return {
        "data": str(images_dir),
        "model": model,
        "scoring": scoring,
        "enrol_per_person": enrol,
        "gallery_identities": len(protocol.enrol),
        "mated_probes": len(protocol.mated),
        "nonmated_probes": len(protocol.unknown),
        "rank1_accuracy": round(float(mated_correct.mean()), 5),
        "target_fpir": fpir,
        "held_out": {
            "fnir": round(float(np.mean([h["fnir"] for h in held_out])), 5),
            "fpir": round(float(np.mean([h["fpir"] for h in held_out])), 5),
            "folds": held_out,
        },
        "all_unknowns": rates(t_all, mated_correct, mated_best, nonmated_best),
        "detector": detector,
        "face_rule": ev.FACE_RULE,  # how each LFW image's face was chosen: thresholds depend on it
        "detector_fallbacks": embedded.fallbacks,
        "seconds": round(time.perf_counter() - start, 1),
    }


def write_calibration(report: dict, command: str, path: Path | None = None) -> Path:
    from ..match.thresholds import IDENTIFICATION_FILE, clear_cache

    path = path or IDENTIFICATION_FILE
    data = json.loads(path.read_text()) if path.exists() else {}
    data.setdefault("about", (
        "Open-set identification thresholds: cosine similarity at which FPIR (unknown people matched "
        "to a member) was the stated rate on LFW deep-funneled, people with one image as unknowns, "
        "the first enrol_per_person images of every other person enrolled, the rest probed. Made by "
        "the command in each entry (an embedding --cache only saves time, it does not change results)."))
    entry = data.setdefault("models", {}).setdefault(report["model"], {})
    entry[report["scoring"]] = {
        "threshold": report["all_unknowns"]["threshold"],
        "fpir": report["target_fpir"],
        "fnir_at_threshold": report["all_unknowns"]["fnir"],
        "held_out_fnir": report["held_out"]["fnir"],
        "held_out_fpir": report["held_out"]["fpir"],
        "gallery_identities": report["gallery_identities"],
        "mated_probes": report["mated_probes"],
        "nonmated_probes": report["nonmated_probes"],
        "enrol_per_person": report["enrol_per_person"],
        "source": "LFW deep-funneled",
        "face_rule": report["face_rule"],
        "command": command,
    }
    path.write_text(json.dumps(data, indent=2) + "\n")
    clear_cache()
    return path

