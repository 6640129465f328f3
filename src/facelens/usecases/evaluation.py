"""Evaluations on labelled data: each runs the library's evaluation, writes its report files
into ``out`` and returns the report (a JSON-ready dict).

``command`` is the command line recorded in reports and calibration files, so a number can
be traced to how it was made; ``progress(done, total)`` is called while images are embedded.
LFW verification (`facelens eval verification`) is ``evaluation.verification.evaluate_verification``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np

from ..constants import (DEFAULT_DETECTOR, DEFAULT_EMOTION_MODEL, DEFAULT_GENDER_MODEL, DEFAULT_MODEL,
                         GENDER_EYES_MODEL, GENDERS)
from ..errors import BadInputError

Progress = Callable[[int, int], None]


# ---------------------------------------------------------------- identification (open set, LFW)


def evaluate_identification(lfw: Path, *, model: str = DEFAULT_MODEL, enrol: int = 1, scoring: str = "max",
                            fpir: float = 0.01, cache: Optional[Path] = None, calibrate: bool = False,
                            command: str = "", progress: Optional[Progress] = None) -> dict:
    """FNIR at FPIR (threshold chosen on held-out unknowns) through a temporary gallery;
    ``calibrate``: also write the threshold into calibration/identification.json."""
    from ..evaluation import identification

    if not lfw.is_dir():
        raise BadInputError(f"{lfw}: not a folder")
    if scoring not in ("max", "mean"):
        raise BadInputError("scoring must be max or mean")
    report = identification.run(lfw, model, enrol, scoring, fpir, cache, progress=progress)
    if calibrate:
        report["calibration_file"] = str(identification.write_calibration(report, command))
    return report


# ---------------------------------------------------------------- fairness (per-group error rates)


def evaluate_fairness(pairs: Path, images: Path, groups: Path, *, model: str = DEFAULT_MODEL,
                      threshold: Optional[float] = None, detector: str = DEFAULT_DETECTOR,
                      cache: Optional[Path] = None, out: Path = Path("runs/eval-fairness"),
                      command: str = "") -> dict:
    """FMR and FNMR per group with 95 % intervals, and the ratio between the first two named
    groups, at ``threshold`` or else at the calibrated FAR 1e-3 / 1e-2 points. Writes
    report.json, table.md and fairness.png into ``out``."""
    from ..access import fairness as fx
    from ..evaluation import verification as ev

    if not images.is_dir():
        raise BadInputError(f"{images}: not a folder of images")
    pair_list = ev.parse_pairs(pairs)
    names = sorted({p.first for p in pair_list} | {p.second for p in pair_list})
    labels = fx.read_groups(groups)
    embeddings = ev.embed_images(images, names, [model], detector, cache=cache or out / f"embeddings-{detector}.npz")
    scores = ev.pair_scores(pair_list, embeddings, model)
    info = fx.pair_groups(pair_list, labels)
    impostors = scores[~np.array([p.same for p in pair_list])]
    report = {"pairs": len(pair_list), "model": model, "groups_file": str(groups), "command": command,
              "operating_points": {}}
    named = sorted({i.group for i in info} - {fx.MIXED, "unlabelled"})
    for point, (value, source) in _fairness_points(model, threshold, impostors).items():
        entry = {"threshold": value, "threshold_source": source, "groups": fx.rates(scores, info, value), "ratios": {}}
        if len(named) >= 2:
            entry["ratios"] = fx.ratio_ci(scores, info, value, named[0], named[1])
        report["operating_points"][point] = entry
    out.mkdir(parents=True, exist_ok=True)
    ev.write_json(out / "report.json", report)
    fx.plot(report, out / "fairness.png", f"{pairs.name}: FMR / FNMR per group ({model})")
    (out / "table.md").write_text(fairness_table(report))
    return report


def _fairness_points(model: str, threshold: Optional[float], impostors: np.ndarray) -> dict[str, tuple[float, str]]:
    """Operating points: the given threshold, else the calibrated FAR points (or, for a model
    without calibration, the thresholds at those FARs on these pairs' impostors)."""
    from ..evaluation.verification import threshold_at_far
    from ..match.thresholds import verification_threshold as calibrated

    if threshold is not None:
        return {"given": (threshold, "--threshold")}
    points = {}
    for name, far in (("far_1e-3", 1e-3), ("far_1e-2", 1e-2)):
        try:
            points[name] = (calibrated(model, name)[0], "calibration/verification.json")
        except BadInputError:
            points[name] = (threshold_at_far(impostors, far), f"FAR {far:g} on these pairs' impostors (not calibrated)")
    return points


def _pct(value, ci=None) -> str:
    if value is None:
        return "–"
    text = f"{100 * value:.2f} %"
    return text + (f" [{100 * ci[0]:.2f}, {100 * ci[1]:.2f}]" if ci else "")


def fairness_table(report: dict) -> str:
    """The fairness report as Markdown tables, one per operating point (written as table.md)."""
    lines = []
    for point, entry in report["operating_points"].items():
        lines.append(f"\n**{point}** — threshold {entry['threshold']:.4f} ({entry['threshold_source']})\n")
        lines.append("| group | impostor pairs | false matches | FMR [95 % CI] | genuine pairs | false non-matches | FNMR [95 % CI] |")
        lines.append("|---|---|---|---|---|---|---|")
        for group, row in entry["groups"].items():
            lines.append(f"| {group} | {row['impostor_pairs']} | {row['false_matches']} | {_pct(row['fmr'], row['fmr_ci95'])} "
                         f"| {row['genuine_pairs']} | {row['false_non_matches']} | {_pct(row['fnmr'], row['fnmr_ci95'])} |")
        for kind, ratio in entry.get("ratios", {}).items():
            if ratio["ratio"] is None:
                lines.append(f"\n{kind.upper()} ratio {ratio['of']}: {ratio['note']}")
                continue
            low, high = ratio["ci95"]
            lines.append(f"\n{kind.upper()} ratio {ratio['of']}: {ratio['ratio']:.2f} (people-bootstrap 95 % CI "
                         f"{low:.2f} – {high:.2f}; {ratio['usable_bootstrap_rounds']} usable rounds)")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- access: adaptation, blink, PAD


def evaluate_adaptation(cache: Path, *, threshold: Optional[float] = None, fixed_fmr: bool = True,
                        min_images: int = 8, rounds: int = 5, seed: int = 0, model: str = DEFAULT_MODEL,
                        out: Path = Path("runs/eval-adaptation"), command: str = "") -> dict:
    """FNMR without/with guarded template adaptation and a look-alike poisoning attempt, on
    cached LFW embeddings; ``fixed_fmr``: each mode re-thresholded to the no-adaptation FMR.
    ``threshold`` defaults to the calibrated FAR 1e-3 point. Writes ``out``/report.json."""
    from ..access import adapt_eval
    from ..evaluation.verification import write_json

    if threshold is None:
        from ..match.thresholds import verification_threshold

        threshold = verification_threshold(model, "far_1e-3")[0]
    options = dict(min_images=min_images, seed=seed, rounds=rounds, model=model, command=command)
    report = adapt_eval.run(cache, threshold, **options)
    if fixed_fmr:
        report = adapt_eval.run(cache, threshold, fixed_fmr=report["modes"]["none"]["fmr_outsiders"], **options)
    write_json(out / "report.json", report)
    return report


def evaluate_blink(orl: Path, *, out: Path = Path("runs/eval-blink")) -> dict:
    """How often the iris-model eye opening and the mesh's EAR see labelled closed eyes (ORL
    faces); writes ``out``/report.json."""
    from ..access import blink_eval
    from ..evaluation.verification import write_json

    report = blink_eval.run(orl)
    write_json(out / "report.json", report)
    return report


def evaluate_pad(lfw: Path, *, out: Path = Path("runs/eval-pad"), limit: int = 1500, seed: int = 0,
                 write_model: bool = False, bona_fide: Sequence[Path] = (), command: str = "") -> dict:
    """Passive liveness on simulated print/screen attacks made from LFW photos: APCER/BPCER
    (ISO/IEC 30107-3) split by person; ``bona_fide``: folders of other real photos (BPCER
    outside LFW). Writes pad-report.json and passive_model.json into ``out``; ``write_model``:
    also install the trained model into the package."""
    import json

    from ..access import pad_eval
    from ..access.liveness_passive import MODEL_FILE, PassiveModel

    report, record = pad_eval.run(lfw, out, seed=seed, limit=limit, command=command)
    if bona_fide:
        report["bona_fide_elsewhere"] = pad_eval.bona_fide_check(list(bona_fide), PassiveModel(record))
        (out / "pad-report.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "passive_model.json").write_text(json.dumps(record, indent=1) + "\n")
    if write_model:
        MODEL_FILE.write_text(json.dumps(record, indent=1) + "\n")
    return report


# ---------------------------------------------------------------- attributes: emotion, gender


def evaluate_emotion(data: Path, *, detector: str = DEFAULT_DETECTOR, model: str = DEFAULT_EMOTION_MODEL,
                     flip: bool = False, smile_labels: Optional[Path] = None, limit: Optional[int] = None,
                     eye_distance: Optional[float] = None, out: Path = Path("runs/eval-emotion"),
                     command: str = "", progress: Optional[Progress] = None) -> dict:
    """Expression accuracy, per-class precision/recall/F1 and a confusion matrix on class
    folders (FER2013 layout), or happy-vs-neutral on LFW with ``smile_labels``. ``model``: a
    registered name or a user model folder's path. Folders matching no class of the model are
    listed in the report's ``unmapped_folders`` (folder → images), not scored. Writes
    report.json, predictions.csv and confusion.png into ``out``."""
    from ..attributes import evaluation as ev
    from ..attributes.emotion import get_emotion_model, predict_emotions

    chosen = get_emotion_model(model)
    if smile_labels:
        if "happy" not in chosen.labels:
            raise BadInputError(f"--smile-labels scores P(happy): {chosen.name} has no happy class "
                                f"({', '.join(chosen.labels)})")
        data_set = ev.lfw_smile_set(data, smile_labels, limit)
        classes = ("happy", "neutral")

        def map_label(record):  # happy vs not happy: the model's own decision over all its classes
            return "happy" if record["label"] == "happy" else "neutral"
    else:
        data_set = ev.class_folder_set(data, chosen.labels, limit)
        classes = data_set.classes

        def map_label(record):
            return record["label"]

    result = ev.run(data_set, lambda rgb, faces: predict_emotions(rgb, faces, model, flip), detector, classes,
                    map_label, progress=progress, eye_distance=eye_distance)
    extra = {"task": "emotion", "model": chosen.name, "model_origin": chosen.origin, "flip": flip,
             "data": str(data), "detector": detector, "eye_distance": eye_distance, "command": command,
             "unmapped_folders": data_set.unmapped}
    if smile_labels:
        from sklearn.metrics import roc_auc_score

        extra["smile_labels"] = str(smile_labels)
        extra["happy_auc"] = round(float(roc_auc_score([t == "happy" for t in result.truth],
                                                       [s["happy"] for s in result.scores])), 4)
    return ev.write_outputs(result, out, f"emotion: {data.name} ({chosen.name})", extra)


def evaluate_gender(data: Path, *, female_names: Optional[Path] = None, male_names: Optional[Path] = None,
                    detector: str = DEFAULT_DETECTOR, eyes: bool = False, model: Optional[str] = None,
                    limit: Optional[int] = None, eye_distance: Optional[float] = None,
                    out: Path = Path("runs/eval-gender"), command: str = "",
                    progress: Optional[Progress] = None) -> dict:
    """Gender accuracy and balanced accuracy on female/ and male/ folders, or LFW with its name
    lists. ``model``: a registered name or a user model folder's path (default gender_cydral;
    ``eyes``: the shipped periocular gender_eyes_facelens). Other folders are listed in the
    report's ``unmapped_folders``. Writes report.json, predictions.csv and confusion.png into ``out``."""
    from ..attributes import evaluation as ev
    from ..attributes.gender_age import get_gender_model, predict_gender_age

    if (female_names is None) != (male_names is None):
        raise BadInputError("give both --female-names and --male-names (or neither, for female/ male/ folders)")
    if model and eyes:
        raise BadInputError("--eyes names the shipped periocular model; give either --eyes or --model")
    reference = model or _default_gender_model(eyes)
    chosen = get_gender_model(reference)
    if set(chosen.labels) != set(GENDERS):
        raise BadInputError(f"eval gender scores {' and '.join(GENDERS)}: {chosen.name} has the classes "
                            f"{', '.join(chosen.labels)}")
    if female_names:
        data_set = ev.lfw_name_list_set(data, {"female": female_names, "male": male_names}, limit)
    else:
        data_set = ev.class_folder_set(data, GENDERS, limit, require_all=True, aliases={})

    def predict(rgb, faces):
        return [r["gender"] for r in predict_gender_age(rgb, faces, age=False, gender_model=reference)]

    result = ev.run(data_set, predict, detector, GENDERS, lambda r: r["label"], progress=progress,
                    eye_distance=eye_distance)
    extra = {"eye_distance": eye_distance, "task": "gender_eyes" if chosen.looks_at == "eyes" else "gender",
             "model": chosen.name, "model_origin": chosen.origin, "data": str(data), "detector": detector,
             "command": command, "unmapped_folders": data_set.unmapped}
    return ev.write_outputs(result, out, f"gender: {data.name} ({chosen.name})", extra)


def _default_gender_model(eyes: bool) -> str:
    if not eyes:
        return DEFAULT_GENDER_MODEL
    from ..attributes.eyes import gender_eyes_available

    if not gender_eyes_available():
        raise BadInputError(f"model {GENDER_EYES_MODEL} is not installed; train it with `facelens train gender-eyes`")
    return GENDER_EYES_MODEL
