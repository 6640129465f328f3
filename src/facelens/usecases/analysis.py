"""Analyze (attributes of an image's faces, or per-track time lines of a video) and the
happiness report over the stored expression observations.

    result = analyze_file(Path("lobby.mp4"), location="lobby")   # VideoAnalysis
    result = analyze_file(Path("photo.jpg"))                      # ImageAnalysis
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from ..attributes.analyze import DEFAULT_ACTIONS
from ..constants import DEFAULT_DETECTOR, DEFAULT_EMOTION_MODEL, DEFAULT_GENDER_MODEL, VIDEO_SUFFIXES
from ..errors import BadInputError, NoFaceError
from ..imageio import Channels, ImageLike
from ..types import Face
from .faces import image_label

ANNOTATED_VIDEO_SUFFIXES = (".mp4", ".avi")

Progress = Callable[[int, Optional[int]], None]


def is_video(path: Path) -> bool:
    return path.is_dir() or path.suffix.lower() in VIDEO_SUFFIXES


@dataclass(frozen=True)
class ImageAnalysis:
    """The faces of one image with their attributes; what was stored for the happiness index.

    ``stored``: observations written (None when there was nothing to store: no ``location``, or
    no face with an expression estimate)."""

    image: str
    faces: list[Face]
    location: Optional[str] = None
    observed_at: Optional[datetime] = None  # naive UTC
    stored: Optional[int] = None

    def to_dict(self) -> dict[str, Any]:
        return {"image": self.image, "faces": [f.to_dict() for f in self.faces]}


@dataclass(frozen=True)
class VideoAnalysis:
    """Per-track time lines of a video, the files written, and the observations stored."""

    source: str
    frames: int
    fps: float
    tracks: list[dict]
    timeline_csv: Path
    timeline_json: Path
    annotated: Optional[Path]
    location: Optional[str]
    observations_stored: int

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "frames": self.frames, "fps": self.fps, "tracks": self.tracks,
                "timeline_csv": str(self.timeline_csv), "timeline_json": str(self.timeline_json),
                "annotated": str(self.annotated) if self.annotated else None, "location": self.location,
                "observations_stored": self.observations_stored}


def analyze_image(image: ImageLike, actions: str | Sequence[str] = DEFAULT_ACTIONS, *,
                  detector: str = DEFAULT_DETECTOR, emotion_model: str = DEFAULT_EMOTION_MODEL,
                  gender_model: str = DEFAULT_GENDER_MODEL, channels: Channels = "bgr",
                  label: Optional[str] = None, draw: Optional[Path] = None,
                  location: Optional[str] = None, camera: Optional[str] = None,
                  observed_at: Optional[datetime] = None, db: Optional[str] = None,
                  require_face: bool = False, **options: Any) -> ImageAnalysis:
    """Every face with the attributes asked for (emotion, gender, age, mesh, gender_eyes).

    ``draw``: write an annotated copy; ``location``: store each face's expression as a happiness
    observation at ``observed_at`` (default now); ``require_face``: NoFaceError instead of an
    empty result (nothing is drawn or stored then). ``emotion_model`` / ``gender_model``: a
    registered name or a user model folder's path. ``options``: min_face_size, detector options."""
    from ..attributes.analyze import analyze as analyze_faces
    from ..imageio import load_image

    name = image_label(image, label)
    _check_location(location)
    check_models(emotion_model, gender_model)
    rgb = load_image(image, channels)
    faces = analyze_faces(rgb, actions, detector=detector, channels="rgb", emotion_model=emotion_model,
                          gender_model=gender_model, **options)
    if not faces and require_face:
        raise NoFaceError(f"{name}: no face found; nothing analysed or stored")
    if draw is not None:
        from ..draw import draw_faces, save_rgb

        save_rgb(draw, draw_faces(rgb, faces, labels=[short_attributes(f.attributes) for f in faces]))
    stored = None
    if location:
        observed_at = observed_at or datetime.now(timezone.utc).replace(tzinfo=None)
        stored = _store_faces(faces, Path(name).name, location, camera, observed_at, db, emotion_model)
    return ImageAnalysis(name, faces, location, observed_at, stored)


def _store_faces(faces: list[Face], source: str, location: str, camera: Optional[str], at: datetime,
                 db: Optional[str], model: str) -> Optional[int]:
    """One observation per face with an expression estimate; None when no face has one."""
    from ..analytics import Observation, ObservationStore

    observations = [Observation(at=at, location=location, camera=camera, track=f"{source}#{i}",
                                emotion=f.attributes["emotion"]["probs"],
                                model=f.attributes["emotion"].get("model", model), source=source)
                    for i, f in enumerate(faces) if "emotion" in f.attributes]
    if not observations:
        return None
    with ObservationStore(db) as store:
        return store.add(observations)


def analyze_video(source: Path, actions: str | Sequence[str] = DEFAULT_ACTIONS, *,
                  detector: str = DEFAULT_DETECTOR, emotion_model: str = DEFAULT_EMOTION_MODEL,
                  gender_model: str = DEFAULT_GENDER_MODEL, location: Optional[str] = None,
                  camera: Optional[str] = None,
                  start: Optional[datetime] = None, db: Optional[str] = None, draw: Optional[Path] = None,
                  out: Optional[Path] = None, smoothing: str = "ema", every: int = 1,
                  progress: Optional[Progress] = None) -> VideoAnalysis:
    """Track every face of a video (file or folder of frames) and write its time line as
    ``out``/timeline.csv and timeline.json (default runs/analyze-NAME); ``location``: also store
    one expression observation per track per second, timed from ``start`` (default: file time)."""
    from ..attributes.analyze import parse_actions
    from ..attributes.timeline import analyze_video as track_video

    _check_location(location)
    check_models(emotion_model, gender_model)
    wanted = parse_actions(actions)
    if location and "emotion" not in wanted:
        raise BadInputError("--location stores expressions: include emotion in --actions")
    if draw is not None and draw.suffix.lower() not in ANNOTATED_VIDEO_SUFFIXES:
        raise BadInputError(f"--draw {draw}: for a video, give an .mp4 (or .avi) file name")
    timeline = track_video(source, wanted, detector=detector, camera=camera, location=location,
                           emotion_model=emotion_model, smoothing=smoothing, start=start or file_time(source),
                           annotated=draw, every=every, progress=progress, gender_model=gender_model)
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
    return VideoAnalysis(str(source), timeline.frames, timeline.fps, timeline.tracks(), csv_path, json_path,
                         draw, location, stored)


def analyze_file(source: Path, actions: str | Sequence[str] = DEFAULT_ACTIONS, *,
                 detector: str = DEFAULT_DETECTOR, emotion_model: str = DEFAULT_EMOTION_MODEL,
                 gender_model: str = DEFAULT_GENDER_MODEL, location: Optional[str] = None,
                 camera: Optional[str] = None,
                 start: Optional[datetime] = None, db: Optional[str] = None, draw: Optional[Path] = None,
                 out: Optional[Path] = None, smoothing: str = "ema", every: int = 1,
                 progress: Optional[Progress] = None) -> ImageAnalysis | VideoAnalysis:
    """`facelens analyze`: an image (a face is required) or a video / folder of frames.
    Observations are timed from ``start`` (naive UTC), default the file's modification time."""
    if not source.exists():
        raise BadInputError(f"{source}: no such file or folder")
    start = start or file_time(source)
    if is_video(source):
        return analyze_video(source, actions, detector=detector, emotion_model=emotion_model,
                             gender_model=gender_model, location=location, camera=camera, start=start, db=db,
                             draw=draw, out=out, smoothing=smoothing, every=every, progress=progress)
    return analyze_image(source, actions, detector=detector, emotion_model=emotion_model, gender_model=gender_model,
                         draw=draw, location=location, camera=camera, observed_at=start, db=db, require_face=True)


def check_models(emotion_model: str = DEFAULT_EMOTION_MODEL, gender_model: str = DEFAULT_GENDER_MODEL) -> None:
    """Refuse an unknown model name or a malformed user model before any work (BadInputError),
    also when the action that would use it was not asked for."""
    from ..models.registry import resolve

    resolve("emotion", emotion_model)
    resolve("gender", gender_model)


def model_notes(emotion_model: str = DEFAULT_EMOTION_MODEL, gender_model: str = DEFAULT_GENDER_MODEL) -> list[str]:
    """Remarks for the user about the chosen models: a user folder that a bundled model of the
    same name shadows (the bundled one is used; its path selects the user's)."""
    from ..models.registry import is_path, shadowed_user_folder

    notes = []
    for option, name in (("--emotion-model", emotion_model), ("--gender-model", gender_model)):
        folder = None if is_path(name) else shadowed_user_folder(name)
        if folder is not None:
            notes.append(f"{option} {name}: the bundled model of that name is used, not the user folder "
                         f"{folder} (give that path to use it)")
    return notes


def file_time(path: Path) -> datetime:
    """A file's modification time as naive UTC (when a photo or video was probably taken)."""
    return datetime.fromtimestamp(path.stat().st_mtime, timezone.utc).replace(tzinfo=None)


def _check_location(location: Optional[str]) -> None:
    if location is not None and not location.strip():
        raise BadInputError("--location must be a non-empty name")


def short_attributes(attrs: dict, long: bool = False) -> str:
    """Attributes in a few words: 'happy F 31' on a drawing, 'happy 0.91  female 0.88  age 31' in text."""
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


def happiness_report(locations: Optional[Sequence[str]] = None, bucket: str = "day", *,
                     start: Optional[datetime] = None, end: Optional[datetime] = None,
                     out: Optional[Path] = None, db: Optional[str] = None, store: Any = None):
    """Share of people seen who were happy, per location and time bucket (UTC); writes
    happiness.csv and one chart per location into ``out``. Returns analytics.report.Report.

    ``store``: an open analytics.ObservationStore to read (a server keeps one), else the one at
    ``db`` is opened and closed here. The index is computed once per state of the observations
    (analytics.report.cached_index): asking again costs a count query until something is added."""
    from ..analytics import BUCKETS, ObservationStore
    from ..analytics.report import build_report

    if bucket not in BUCKETS:
        raise BadInputError(f"--bucket {bucket!r}: choose hour, day or week")
    if store is not None:
        return build_report(store, locations, bucket, start, end, out)
    with ObservationStore(db) as opened:
        return build_report(opened, locations, bucket, start, end, out)
