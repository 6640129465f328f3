"""``analyze``: run the attribute models asked for over every face of an image.

insightface's FaceAnalysis idea with deepface's verb: only the requested ``actions`` run, each
adds one key to ``face.attributes``: ``emotion`` ({label, probs, model}), ``gender`` ({label,
probs, model}), ``age`` (years), ``mesh`` (468 points + eye/mouth aspect ratios + yaw),
``gender_eyes`` ({label, probs, model}, only when a trained periocular model is installed).

``emotion_model`` / ``gender_model``: a registered name or the path of a user model folder
(ONNX + spec.json, see ``models.registry``); the labels and probabilities are that model's. A
``gender_model`` trained on the eye region (task gender_eyes) also serves the gender_eyes action.

Faces too small for an attribute get a per-face note in ``attributes["notes"]`` instead of a
guess: the minimum is 12 px between the eyes (FER2013's own 48×48 faces have ~17 px; the
Cydral chips are 32/64 px wide, ~10/20 px between the eyes) — see docs/attributes.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from ..constants import DEFAULT_DETECTOR, DEFAULT_GENDER_MODEL, GENDER_EYES_MODEL
from ..errors import BadInputError
from ..imageio import Channels, ImageLike, load_image
from ..types import Face
from .emotion import DEFAULT_EMOTION_MODEL

ACTIONS = ("emotion", "gender", "age", "mesh", "gender_eyes")
DEFAULT_ACTIONS = ("emotion", "gender", "age")
MIN_FACE_SIZE = 12.0  # px between the eyes


def parse_actions(actions: str | Iterable[str] | None) -> tuple[str, ...]:
    """'emotion,gender' / ['emotion', 'age'] / 'all' → a validated tuple (order of ACTIONS)."""
    if actions is None:
        return DEFAULT_ACTIONS
    if isinstance(actions, str):
        actions = [a for a in actions.replace(" ", ",").split(",") if a]
    try:
        wanted = set(actions)
    except TypeError:  # a number, or a list holding lists
        raise BadInputError(f"actions must be names such as 'emotion,age', not {actions!r}") from None
    if "all" in wanted:
        wanted = (wanted - {"all"}) | set(ACTIONS)
    unknown = wanted - set(ACTIONS)
    if unknown:
        raise BadInputError(f"unknown action(s) {', '.join(sorted(unknown))}; choose from {', '.join(ACTIONS)} or all")
    if not wanted:
        raise BadInputError("no action given")
    return tuple(a for a in ACTIONS if a in wanted)


def face_size(face: Face) -> float:
    if face.quality is not None:
        return face.quality.face_size
    if "right_eye" in face.keypoints and "left_eye" in face.keypoints:
        return float(np.hypot(*np.subtract(face.keypoints["left_eye"], face.keypoints["right_eye"])))
    return min(face.width, face.height) * 0.4


def analyze_faces(rgb: np.ndarray, faces: Sequence[Face], actions: Sequence[str] = DEFAULT_ACTIONS,
                  emotion_model: str = DEFAULT_EMOTION_MODEL, min_face_size: float = MIN_FACE_SIZE,
                  gender_model: str = DEFAULT_GENDER_MODEL) -> list[Face]:
    """Fill the asked attributes of already detected faces (used by images and video alike)."""
    actions = parse_actions(actions)
    faces = list(faces)
    notes: list[list[str]] = [[] for _ in faces]
    attrs: list[dict] = [{} for _ in faces]
    usable = []
    for i, face in enumerate(faces):
        size = face_size(face)
        if size < min_face_size:
            notes[i].append(f"face too small for {', '.join(actions)} "
                            f"({size:.0f} px between eyes < {min_face_size:.0f}); not estimated")
        else:
            usable.append(i)
    chosen = [faces[i] for i in usable]
    if chosen and "emotion" in actions:
        from .emotion import predict_emotions

        for i, record in zip(usable, predict_emotions(rgb, chosen, emotion_model)):
            attrs[i]["emotion"] = record
    meshes: dict[int, np.ndarray] = {}
    if chosen and "mesh" in actions:  # before gender: a periocular gender model uses the mesh's eyes
        from .mesh import face_mesh_full, mesh_record

        for i in usable:
            mesh = face_mesh_full(rgb, faces[i])
            meshes[i] = mesh.points
            attrs[i]["mesh"] = mesh_record(mesh)
    if chosen and ("gender" in actions or "age" in actions):
        from .gender_age import predict_gender_age

        records = predict_gender_age(rgb, chosen, "gender" in actions, "age" in actions, gender_model,
                                     [meshes.get(i) for i in usable])
        for i, record in zip(usable, records):
            attrs[i].update(record)
    if chosen and "gender_eyes" in actions:
        from .eyes import gender_eyes_available, predict_gender_eyes

        eyes_model = periocular_model(gender_model)
        if eyes_model != GENDER_EYES_MODEL or gender_eyes_available():
            records = predict_gender_eyes(rgb, chosen, [meshes.get(i) for i in usable], eyes_model)
            for i, record in zip(usable, records):
                attrs[i]["gender_eyes"] = record
        else:
            for i in usable:
                notes[i].append(f"gender_eyes skipped: model {GENDER_EYES_MODEL} is not installed "
                                "(train and export it with `facelens train gender-eyes`)")
    out = []
    for face, extra, note in zip(faces, attrs, notes):
        if note:
            extra["notes"] = note
        out.append(face.with_attributes(**extra))
    return out


def periocular_model(gender_model: str = DEFAULT_GENDER_MODEL) -> str:
    """The model of the gender_eyes action: ``gender_model`` when it looks at the eye region
    (task gender_eyes), else the shipped periocular model."""
    if gender_model == DEFAULT_GENDER_MODEL:
        return GENDER_EYES_MODEL
    from ..models.registry import resolve

    return gender_model if resolve("gender", gender_model).task == "gender_eyes" else GENDER_EYES_MODEL


def analyze(image: ImageLike, actions: str | Sequence[str] = DEFAULT_ACTIONS, detector: str = DEFAULT_DETECTOR,
            channels: Channels = "bgr", emotion_model: str = DEFAULT_EMOTION_MODEL,
            min_face_size: float = MIN_FACE_SIZE, gender_model: str = DEFAULT_GENDER_MODEL,
            **detector_options) -> list[Face]:
    """Every face of the image with the attributes asked for (an empty list when none is found)."""
    from ..pipeline import detect_rgb

    rgb = load_image(image, channels)
    actions = parse_actions(actions)
    faces = detect_rgb(rgb, detector, **detector_options)
    return analyze_faces(rgb, faces, actions, emotion_model, min_face_size, gender_model)
