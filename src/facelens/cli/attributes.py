"""`facelens analyze`, `facelens happiness report`, `facelens eval emotion|gender`.

Parse, call the library (facelens.attributes / facelens.analytics), print — nothing else.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

import typer

from ..errors import BadInputError, NoFaceError
from .common import note as _note
from .evaluate import eval_app

happiness_app = typer.Typer(help="Happiness index per location over time.", no_args_is_help=True)

VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv"}
ACTIONS_HELP = "Comma list of emotion, gender, age, mesh, gender_eyes, or all (default emotion,gender,age)."
DETECTOR_HELP = "blazeface (default), blazeface_short, haar, hog, or skip (the image is a face crop)."


def register(app: typer.Typer) -> None:
    app.command("analyze")(analyze)
    app.add_typer(happiness_app, name="happiness")


def _when(value: Optional[str], name: str) -> Optional[datetime]:
    """ISO date/time → naive UTC (a value without zone is taken as UTC)."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise BadInputError(f"{name} {value!r}: not an ISO date or date-time (e.g. 2026-11-25 or 2026-11-25T14:00)") from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(timezone.utc).replace(tzinfo=None)
    return parsed


def _is_video(path: Path) -> bool:
    return path.is_dir() or path.suffix.lower() in VIDEO_SUFFIXES


def analyze(
    source: Path = typer.Argument(..., help="Image, video file or folder of frames."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    draw: Optional[Path] = typer.Option(None, help="Annotated copy: an image, or an .mp4 for a video."),
    detector: str = typer.Option("blazeface", help=DETECTOR_HELP),
    actions: str = typer.Option("emotion,gender,age", help=ACTIONS_HELP),
    emotion_model: str = typer.Option("emotion_mini_xception", help="Registered emotion model (ONNX from `facelens train` too)."),
    location: Optional[str] = typer.Option(None, help="Store happiness observations under this location."),
    camera: Optional[str] = typer.Option(None, help="Camera name stored with the observations."),
    start: Optional[str] = typer.Option(None, help="When the video/photo was taken (ISO, UTC); default: file time."),
    db: Optional[str] = typer.Option(None, help="Database path or URL (default FACELENS_DB or the gallery file)."),
    out: Optional[Path] = typer.Option(None, help="Video: folder for timeline.csv / timeline.json (default runs/analyze-NAME)."),
    smoothing: str = typer.Option("ema", help="Video: per-track smoothing ema, window or none."),
    every: int = typer.Option(1, min=1, help="Video: analyze every Nth frame."),
) -> None:
    """Expression, gender and age (and optionally mesh, gender from the eyes) of every face."""
    if not source.exists():
        raise BadInputError(f"{source}: no such file or folder")
    if location is not None and not location.strip():
        raise BadInputError("--location must be a non-empty name")
    when = _when(start, "--start") or datetime.fromtimestamp(source.stat().st_mtime, timezone.utc).replace(tzinfo=None)
    if _is_video(source):
        _analyze_video(source, as_json, draw, detector, actions, emotion_model, location, camera, when,
                       db, out, smoothing, every)
    else:
        _analyze_image(source, as_json, draw, detector, actions, emotion_model, location, camera, when, db)


def _analyze_image(source, as_json, draw, detector, actions, emotion_model, location, camera, when, db) -> None:
    from ..attributes.analyze import analyze as run_analyze
    from ..draw import draw_faces, save_rgb
    from ..imageio import load_image

    rgb = load_image(source)
    faces = run_analyze(rgb, actions, detector=detector, channels="rgb", emotion_model=emotion_model)
    if not faces:
        raise NoFaceError(f"{source}: no face found; nothing analysed or stored")
    if draw:
        save_rgb(draw, draw_faces(rgb, faces, labels=[_short(f.attributes) for f in faces]))
    if location:
        _store_image_observations(faces, source, location, camera, when, db, emotion_model)
    if as_json:
        print(json.dumps({"image": str(source), "faces": [f.to_dict() for f in faces]}))
        return
    print(f"{source}: {len(faces)} face(s)")
    for i, face in enumerate(faces):
        box = ", ".join(f"{v:.0f}" for v in face.box)
        print(f"  [{i}] box ({box})  {_short(face.attributes, long=True)}")
        for note in face.attributes.get("notes", []):
            print(f"      note: {note}")


def _short(attrs, long: bool = False) -> str:
    parts = []
    if "emotion" in attrs:
        e = attrs["emotion"]
        parts.append(f"{e['label']} {e['probs'][e['label']]:.2f}" if long else e["label"])
    if "gender" in attrs:
        g = attrs["gender"]
        parts.append(f"{g['label']} {g['probs'][g['label']]:.2f}" if long else g["label"][0].upper())
    if "age" in attrs:
        parts.append(f"age {attrs['age']:.0f}" if long else f"{attrs['age']:.0f}")
    if "gender_eyes" in attrs:
        parts.append(f"eyes: {attrs['gender_eyes']['label']}")
    if long and "mesh" in attrs:
        m = attrs["mesh"]
        parts.append(f"EAR {m['eye_aspect_ratio']:.2f} MAR {m['mouth_aspect_ratio']:.2f} yaw {m['yaw']:.0f}°")
    return "  ".join(parts) if long else " ".join(parts)


def _store_image_observations(faces, source, location, camera, when, db, model) -> None:
    from ..analytics import Observation, ObservationStore

    observations = [Observation(at=when, location=location, camera=camera, track=f"{source.name}#{i}",
                                emotion=f.attributes["emotion"]["probs"], model=model, source=source.name)
                    for i, f in enumerate(faces) if "emotion" in f.attributes]
    if not observations:
        _note("no face had an expression estimate (add emotion to --actions); nothing stored")
        return
    with ObservationStore(db) as store:
        stored = store.add(observations)
    _note(f"stored {stored} observation(s) for location {location!r} at {when.isoformat()}Z")


def _analyze_video(source, as_json, draw, detector, actions, emotion_model, location, camera, when,
                   db, out, smoothing, every) -> None:
    from rich.console import Console
    from rich.progress import Progress

    from ..attributes.analyze import parse_actions
    from ..attributes.timeline import analyze_video

    wanted = parse_actions(actions)
    if location and "emotion" not in wanted:
        raise BadInputError("--location stores expressions: include emotion in --actions")
    if draw is not None and draw.suffix.lower() not in (".mp4", ".avi"):
        raise BadInputError(f"--draw {draw}: for a video, give an .mp4 (or .avi) file name")
    console = Console(stderr=True)
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task(f"analysing {source.name}", total=None)
        timeline = analyze_video(source, wanted, detector=detector, camera=camera, location=location,
                                 emotion_model=emotion_model, smoothing=smoothing, start=when,
                                 annotated=draw, every=every,
                                 progress=lambda done, total: bar.update(task, completed=done, total=total))
    if not timeline.rows:
        raise NoFaceError(f"{source}: no face found in {timeline.frames} frame(s); nothing stored")
    out = out or Path("runs") / f"analyze-{source.stem}"
    csv_path = timeline.write_csv(out / "timeline.csv")
    json_path = timeline.write_json(out / "timeline.json")
    stored = 0
    if location:
        from ..analytics import ObservationStore

        with ObservationStore(db) as store:
            stored = store.add(timeline.observations)
    summary = {"source": str(source), "frames": timeline.frames, "fps": timeline.fps,
               "tracks": timeline.tracks(), "timeline_csv": str(csv_path), "timeline_json": str(json_path),
               "annotated": str(draw) if draw else None, "location": location, "observations_stored": stored}
    if as_json:
        print(json.dumps(summary))
        return
    print(f"{source}: {timeline.frames} frames, {len(summary['tracks'])} track(s)")
    for t in summary["tracks"]:
        gender = t.get("gender", {}).get("label", "-")
        age = f"{t['age']:.0f}" if "age" in t else "-"
        print(f"  track {t['track']}: {t['first_time']:.1f}–{t['last_time']:.1f} s  "
              f"{t.get('emotion', '-')}  {gender}  age {age}")
    print(f"timeline: {csv_path}, {json_path}" + (f"; annotated video: {draw}" if draw else ""))
    if location:
        print(f"stored {stored} observation(s) for location {location!r} (one per track per second)")


@happiness_app.command("report")
def happiness_report(
    location: Optional[list[str]] = typer.Option(None, help="Location (repeat for several; default all)."),
    bucket: str = typer.Option("day", help="hour, day or week (UTC)."),
    from_: Optional[str] = typer.Option(None, "--from", help="Start, ISO date/time (UTC), inclusive."),
    to: Optional[str] = typer.Option(None, "--to", help="End, ISO date/time (UTC), exclusive."),
    out: Path = typer.Option(Path("runs/happiness"), help="Folder for happiness.csv and one PNG per location."),
    db: Optional[str] = typer.Option(None, help="Database path or URL (default FACELENS_DB or the gallery file)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Share of people seen who were happy, per location and time bucket (each person once per bucket)."""
    from ..analytics import BUCKETS, ObservationStore
    from ..analytics.report import build_report

    if bucket not in BUCKETS:
        raise BadInputError(f"--bucket {bucket!r}: choose hour, day or week")
    start, end = _when(from_, "--from"), _when(to, "--to")
    with ObservationStore(db) as store:
        report = build_report(store, location, bucket, start, end, out)
    if as_json:
        print(json.dumps(report.to_dict()))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"happiness index per {bucket} (each person counted once per {bucket}; 95 % Wilson CI)")
    for column in ("location", f"{bucket} (UTC)", "people", "happy", "index", "95 % CI", "observations"):
        table.add_column(column)
    for s in report.stats:
        low, high = s.interval
        table.add_row(s.location, s.start.strftime("%Y-%m-%d %H:%M"), str(s.people), str(s.happy),
                      f"{100 * s.index:.1f} %", f"{100 * low:.1f}–{100 * high:.1f} %", str(s.observations))
    Console().print(table)
    print(f"csv: {report.csv_path}")
    for name, path in report.charts.items():
        print(f"chart ({name}): {path}")


@eval_app.command("emotion")
def eval_emotion(
    data: Path = typer.Argument(..., help="Folder with one sub-folder per class (FER2013 layout), or LFW images with --smile-labels."),
    detector: str = typer.Option("blazeface", help=DETECTOR_HELP + " Use skip for FER2013."),
    model: str = typer.Option("emotion_mini_xception", help="Registered emotion model."),
    flip: bool = typer.Option(False, help="Average each face with its mirror image (test-time augmentation)."),
    smile_labels: Optional[Path] = typer.Option(None, help="LFW smile list (NAME/FILE.jpg 0|1): happy-vs-neutral check."),
    limit: Optional[int] = typer.Option(None, help="Only the first N images (sorted) per class."),
    eye_distance: Optional[float] = typer.Option(None, help="Shrink each face to this many px between the eyes first (small-face check)."),
    out: Path = typer.Option(Path("runs/eval-emotion"), help="Folder for report.json, predictions.csv, confusion.png."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as one JSON object."),
) -> None:
    """Expression accuracy, per-class precision/recall/F1 and a confusion matrix."""
    from ..attributes import evaluation as ev
    from ..attributes.emotion import get_emotion_model, predict_emotions

    labels = get_emotion_model(model).labels
    if smile_labels:
        data_set = ev.lfw_smile_set(data, smile_labels, limit)
        classes = ("happy", "neutral")

        def map_label(record):  # happy vs not happy: the model's own 7-way decision
            return "happy" if record["label"] == "happy" else "neutral"
    else:
        matching = [c for c in labels if (data / c).is_dir()]
        if not matching:
            raise BadInputError(f"{data}: no sub-folder is named after a class of {model} ({', '.join(labels)})")
        data_set = ev.folder_set(data, matching, limit)
        classes = data_set.classes

        def map_label(record):
            return record["label"]

    result = _run_eval(data_set, lambda rgb, faces: predict_emotions(rgb, faces, model, flip), detector, classes,
                       map_label, eye_distance)
    extra = {"task": "emotion", "model": model, "flip": flip, "data": str(data), "detector": detector,
             "eye_distance": eye_distance,
             "command": "facelens " + " ".join(sys.argv[1:])}
    if smile_labels:
        from sklearn.metrics import roc_auc_score

        extra["smile_labels"] = str(smile_labels)
        extra["happy_auc"] = round(float(roc_auc_score([t == "happy" for t in result.truth],
                                                       [s["happy"] for s in result.scores])), 4)
    _finish_eval(result, out, f"emotion: {data.name} ({model})", extra, as_json)


@eval_app.command("gender")
def eval_gender(
    data: Path = typer.Argument(..., help="Folder with female/ and male/ sub-folders, or LFW images with --female-names/--male-names."),
    female_names: Optional[Path] = typer.Option(None, help="LFW female_names.txt (file names)."),
    male_names: Optional[Path] = typer.Option(None, help="LFW male_names.txt (file names)."),
    detector: str = typer.Option("blazeface", help=DETECTOR_HELP),
    eyes: bool = typer.Option(False, help="Evaluate the periocular gender_eyes model instead."),
    limit: Optional[int] = typer.Option(None, help="Only the first N images (sorted) per class."),
    eye_distance: Optional[float] = typer.Option(None, help="Shrink each face to this many px between the eyes first (small-face check)."),
    out: Path = typer.Option(Path("runs/eval-gender"), help="Folder for report.json, predictions.csv, confusion.png."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as one JSON object."),
) -> None:
    """Gender accuracy and balanced accuracy, per-class precision/recall/F1, confusion matrix."""
    from ..attributes import evaluation as ev
    from ..attributes.gender_age import predict_gender_age

    if (female_names is None) != (male_names is None):
        raise BadInputError("give both --female-names and --male-names (or neither, for female/ male/ folders)")
    if female_names:
        data_set = ev.lfw_name_list_set(data, {"female": female_names, "male": male_names}, limit)
    else:
        data_set = ev.folder_set(data, ("female", "male"), limit)
    if eyes:
        from ..attributes.eyes import (
            GENDER_EYES_MODEL,
            gender_eyes_available,
            predict_gender_eyes,
        )

        if not gender_eyes_available():
            raise BadInputError(f"model {GENDER_EYES_MODEL} is not installed; train it with `facelens train gender-eyes`")

        def predict(rgb, faces):
            return predict_gender_eyes(rgb, faces)
    else:
        def predict(rgb, faces):
            return [r["gender"] for r in predict_gender_age(rgb, faces, gender=True, age=False)]
    result = _run_eval(data_set, predict, detector, ("female", "male"), lambda r: r["label"], eye_distance)
    extra = {"eye_distance": eye_distance, "task": "gender_eyes" if eyes else "gender", "model": "gender_eyes_facelens" if eyes else "gender_cydral",
             "data": str(data), "detector": detector, "command": "facelens " + " ".join(sys.argv[1:])}
    _finish_eval(result, out, f"gender: {data.name}", extra, as_json)


def _run_eval(data_set, predict, detector, classes, map_label, eye_distance=None):
    from rich.console import Console
    from rich.progress import Progress

    from ..attributes import evaluation as ev

    with Progress(console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(f"scoring {len(data_set.paths)} images", total=len(data_set.paths))
        return ev.run(data_set, predict, detector, classes, map_label,
                      progress=lambda done, total: bar.update(task, completed=done), eye_distance=eye_distance)


def _finish_eval(result, out, title, extra, as_json) -> None:
    from rich.console import Console
    from rich.table import Table

    from ..attributes import evaluation as ev

    report = ev.write_outputs(result, out, title, extra)
    if as_json:
        print(json.dumps(report))
        return
    table = Table(title=f"{title}: accuracy {100 * report['accuracy']:.2f} %, balanced "
                        f"{100 * report['balanced_accuracy']:.2f} % ({report['scored']} scored, {report['no_face']} without a face)")
    for column in ("class", "precision", "recall", "F1", "support"):
        table.add_column(column)
    for name, m in report["per_class"].items():
        table.add_row(name, f"{m['precision']:.3f}", f"{m['recall']:.3f}", f"{m['f1']:.3f}", str(m["support"]))
    Console().print(table)
    if "happy_auc" in report:
        print(f"ROC AUC of P(happy): {report['happy_auc']:.4f}")
    print(f"report: {out / 'report.json'}; confusion matrix: {report['confusion_png']}")
