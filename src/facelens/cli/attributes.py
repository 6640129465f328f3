"""`facelens analyze`, `facelens happiness report`, `facelens eval emotion|gender`.

Parse, call facelens.usecases (analysis, evaluation), print — nothing else.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Optional

import typer

from ..constants import DEFAULT_DETECTOR, DEFAULT_EMOTION_MODEL, DEFAULT_GENDER_MODEL
from ..usecases.inputs import parse_naive_utc
from .common import command_line
from .common import note as _note
from .evaluate import eval_app

happiness_app = typer.Typer(help="Happiness index per location over time.", no_args_is_help=True)

ACTIONS_HELP = "Comma list of emotion, gender, age, mesh, gender_eyes, or all (default emotion,gender,age)."
DETECTOR_HELP = "blazeface (default), blazeface_short, haar, hog, or skip (the image is a face crop)."
EMOTION_MODEL_HELP = ("Emotion model: a registered name (see `facelens models`; a folder in FACELENS_MODELS_DIR "
                      "counts) or the path of a model folder / its spec.json.")
GENDER_MODEL_HELP = ("Gender model: a registered name or a model folder's path; a model "
                     "trained on the eye region (task gender_eyes) also serves --actions gender_eyes.")


def register(app: typer.Typer) -> None:
    app.command("analyze")(analyze)
    app.add_typer(happiness_app, name="happiness")


def analyze(
    source: Path = typer.Argument(..., help="Image, video file or folder of frames."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    draw: Optional[Path] = typer.Option(None, help="Annotated copy: an image, or an .mp4 for a video."),
    detector: str = typer.Option(DEFAULT_DETECTOR, help=DETECTOR_HELP),
    actions: str = typer.Option("emotion,gender,age", help=ACTIONS_HELP),
    emotion_model: str = typer.Option(DEFAULT_EMOTION_MODEL, help=EMOTION_MODEL_HELP),
    gender_model: str = typer.Option(DEFAULT_GENDER_MODEL, help=GENDER_MODEL_HELP),
    location: Optional[str] = typer.Option(None, help="Store happiness observations under this location."),
    camera: Optional[str] = typer.Option(None, help="Camera name stored with the observations."),
    start: Optional[str] = typer.Option(None, help="When the video/photo was taken (ISO, UTC); default: file time."),
    db: Optional[str] = typer.Option(None, help="Database path or URL (default FACELENS_DB or the gallery file)."),
    out: Optional[Path] = typer.Option(None, help="Video: folder for timeline.csv / timeline.json (default runs/analyze-NAME)."),
    smoothing: str = typer.Option("ema", help="Video: per-track smoothing ema, window or none."),
    every: int = typer.Option(1, min=1, help="Video: analyze every Nth frame."),
) -> None:
    """Expression, gender and age (and optionally mesh, gender from the eyes) of every face."""
    from rich.console import Console
    from rich.progress import Progress

    from ..usecases.analysis import ImageAnalysis, analyze_file, model_notes

    for remark in model_notes(emotion_model, gender_model):
        _note(remark)
    with Progress(console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(f"analysing {source.name}", total=None, visible=False)

        def progress(done: int, total: Optional[int]) -> None:  # called for videos only
            bar.update(task, completed=done, total=total, visible=True)

        result = analyze_file(source, actions, detector=detector, emotion_model=emotion_model,
                              gender_model=gender_model, location=location, camera=camera, start=parse_naive_utc(start, "--start"), db=db, draw=draw, out=out,
                              smoothing=smoothing, every=every, progress=progress)
    if isinstance(result, ImageAnalysis):
        _print_image(result, as_json)
    else:
        _print_video(result, as_json)


def _print_image(result, as_json: bool) -> None:
    from ..usecases.analysis import short_attributes

    if result.location:
        if result.stored is None:
            _note("no face had an expression estimate (add emotion to --actions); nothing stored")
        else:
            _note(f"stored {result.stored} observation(s) for location {result.location!r} "
                  f"at {result.observed_at.isoformat()}Z")
    if as_json:
        print(json.dumps(result.to_dict()))
        return
    print(f"{result.image}: {len(result.faces)} face(s)")
    for i, face in enumerate(result.faces):
        box = ", ".join(f"{v:.0f}" for v in face.box)
        print(f"  [{i}] box ({box})  {short_attributes(face.attributes, long=True)}")
        for note in face.attributes.get("notes", []):
            print(f"      note: {note}")


def _print_video(result, as_json: bool) -> None:
    if as_json:
        print(json.dumps(result.to_dict()))
        return
    print(f"{result.source}: {result.frames} frames, {len(result.tracks)} track(s)")
    for t in result.tracks:
        gender = t.get("gender", {}).get("label", "-")
        age = f"{t['age']:.0f}" if "age" in t else "-"
        print(f"  track {t['track']}: {t['first_time']:.1f}–{t['last_time']:.1f} s  "
              f"{t.get('emotion', '-')}  {gender}  age {age}")
    print(f"timeline: {result.timeline_csv}, {result.timeline_json}"
          + (f"; annotated video: {result.annotated}" if result.annotated else ""))
    if result.location:
        print(f"stored {result.observations_stored} observation(s) for location {result.location!r} "
              "(one per track per second)")


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
    from ..usecases.analysis import happiness_report as build_report

    report = build_report(location, bucket, start=parse_naive_utc(from_, "--from"), end=parse_naive_utc(to, "--to"),
                          out=out, db=db)
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
    detector: str = typer.Option(DEFAULT_DETECTOR, help=DETECTOR_HELP + " Use skip for FER2013."),
    model: str = typer.Option(DEFAULT_EMOTION_MODEL, help=EMOTION_MODEL_HELP),
    flip: bool = typer.Option(False, help="Average each face with its mirror image (test-time augmentation)."),
    smile_labels: Optional[Path] = typer.Option(None, help="LFW smile list (NAME/FILE.jpg 0|1): happy-vs-neutral check."),
    limit: Optional[int] = typer.Option(None, help="Only the first N images (sorted) per class."),
    eye_distance: Optional[float] = typer.Option(None, help="Shrink each face to this many px between the eyes first (small-face check)."),
    out: Path = typer.Option(Path("runs/eval-emotion"), help="Folder for report.json, predictions.csv, confusion.png."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as one JSON object."),
) -> None:
    """Expression accuracy, per-class precision/recall/F1 and a confusion matrix."""
    from ..usecases.evaluation import evaluate_emotion

    with _scoring_bar() as progress:
        report = evaluate_emotion(data, detector=detector, model=model, flip=flip, smile_labels=smile_labels,
                                  limit=limit, eye_distance=eye_distance, out=out, command=command_line(),
                                  progress=progress)
    _note_unmapped(report)
    _print_eval(report, f"emotion: {data.name} ({report['model']})", out, as_json)


@eval_app.command("gender")
def eval_gender(
    data: Path = typer.Argument(..., help="Folder with female/ and male/ sub-folders, or LFW images with --female-names/--male-names."),
    female_names: Optional[Path] = typer.Option(None, help="LFW female_names.txt (file names)."),
    male_names: Optional[Path] = typer.Option(None, help="LFW male_names.txt (file names)."),
    detector: str = typer.Option(DEFAULT_DETECTOR, help=DETECTOR_HELP),
    eyes: bool = typer.Option(False, help="Evaluate the periocular gender_eyes model instead."),
    model: Optional[str] = typer.Option(None, help="Gender model to evaluate (name or model folder path; "
                                        "default gender_cydral, or gender_eyes_facelens with --eyes)."),
    limit: Optional[int] = typer.Option(None, help="Only the first N images (sorted) per class."),
    eye_distance: Optional[float] = typer.Option(None, help="Shrink each face to this many px between the eyes first (small-face check)."),
    out: Path = typer.Option(Path("runs/eval-gender"), help="Folder for report.json, predictions.csv, confusion.png."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as one JSON object."),
) -> None:
    """Gender accuracy and balanced accuracy, per-class precision/recall/F1, confusion matrix."""
    from ..usecases.evaluation import evaluate_gender

    with _scoring_bar() as progress:
        report = evaluate_gender(data, female_names=female_names, male_names=male_names, detector=detector, eyes=eyes,
                                 model=model, limit=limit, eye_distance=eye_distance, out=out, command=command_line(),
                                 progress=progress)
    _note_unmapped(report)
    _print_eval(report, f"gender: {data.name} ({report['model']})", out, as_json)


def _note_unmapped(report: dict) -> None:
    """Say which class folders were left out: no folder is skipped without a word."""
    unmapped = report.get("unmapped_folders") or {}
    if unmapped:
        listed = ", ".join(f"{name}/ ({count} image{'' if count == 1 else 's'})" for name, count in unmapped.items())
        _note(f"{len(unmapped)} folder(s) match no class of {report['model']} and were not scored: {listed}")


@contextlib.contextmanager
def _scoring_bar():
    """A transient progress bar on stderr; yields the progress(done, total) callback."""
    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("scoring images", total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total, description=f"scoring {total} images")


def _print_eval(report: dict, title: str, out: Path, as_json: bool) -> None:
    from rich.console import Console
    from rich.table import Table

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
