"""detect → align → embed on one image: the stages the use cases (facelens.usecases), and so
every public verb, are built from."""

from __future__ import annotations

from typing import Literal, Union

import numpy as np

from .alignment import align_face
from .detection import get_detector
from .embedding import get_embedder
from .errors import BadInputError, MultipleFacesError, NoFaceError
from .imageio import Channels, ImageLike, load_image
from .constants import DEFAULT_DETECTOR, DEFAULT_MODEL
from .types import Face

FaceChoice = Union[Literal["all", "largest", "only"], int]


def detect_rgb(
    rgb: np.ndarray,
    detector: str = DEFAULT_DETECTOR,
    keep_crop: bool = False,
    **detector_options,
) -> list[Face]:
    """Faces in an RGB array, each with keypoints and a quality record, in the detector's order:
    highest detection score first (not by size: ``choose_faces(faces, "largest")`` picks by area)."""
    faces = _detector(detector, detector_options).detect(rgb)
    return [align_face(rgb, face, keep_crop=keep_crop) for face in faces]


def _detector(name: str, options: dict):
    """get_detector, with a caller's unknown option (a TypeError from the constructor) or an
    unhashable option value (a TypeError from the detector cache) refused as bad input."""
    if not isinstance(name, str):
        raise BadInputError(f"detector must be a name such as {DEFAULT_DETECTOR!r}, not {name!r}")
    try:
        return get_detector(name, **options)
    except TypeError as exc:
        raise BadInputError(f"detector {name!r}: bad options {sorted(options)} ({exc})") from None


def detect(
    image: ImageLike,
    detector: str = DEFAULT_DETECTOR,
    channels: Channels = "bgr",
    keep_crop: bool = False,
    **detector_options,
) -> list[Face]:
    return detect_rgb(load_image(image, channels), detector, keep_crop, **detector_options)


def choose_faces(faces: list[Face], face: FaceChoice, name: str = "image") -> list[Face]:
    """Apply a face-selection rule; raises NoFaceError / MultipleFacesError with a clear message."""
    if not faces:
        raise NoFaceError(f"{name}: no face found")
    if face == "all":
        return faces
    if face == "largest":
        return [max(faces, key=lambda f: f.area)]
    if face == "only":
        if len(faces) > 1:
            raise MultipleFacesError(
                f"{name}: {len(faces)} faces found where exactly one is required; "
                "crop the image or choose a face (face='largest' or an index)"
            )
        return faces
    if isinstance(face, int) and not isinstance(face, bool):
        ordered = sorted(faces, key=lambda f: (f.box[0], f.box[1]))  # left to right
        if not 0 <= face < len(ordered):
            raise BadInputError(f"{name}: face index {face} out of range (found {len(ordered)} faces, left to right)")
        return [ordered[face]]
    raise BadInputError(f"face must be 'all', 'largest', 'only' or an index, not {face!r}")


def embed_faces(rgb: np.ndarray, faces: list[Face], model: str = DEFAULT_MODEL) -> list[Face]:
    """Add embeddings (L2-normalised float32) to already detected faces."""
    if not faces:
        return []
    if not isinstance(model, str):
        raise BadInputError(f"model must be a name such as {DEFAULT_MODEL!r}, not {model!r}")
    embedder = get_embedder(model)
    vectors = embedder.embed(rgb, faces)
    return [f.replace(embedding=v, embedding_model=embedder.name) for f, v in zip(faces, vectors)]


def embed(
    image: ImageLike,
    model: str = DEFAULT_MODEL,
    detector: str = DEFAULT_DETECTOR,
    face: FaceChoice = "all",
    channels: Channels = "bgr",
    name: str | None = None,
    **detector_options,
) -> list[Face]:
    rgb = load_image(image, channels)
    label = name or (str(image) if isinstance(image, (str,)) else "image")
    faces = choose_faces(detect_rgb(rgb, detector, keep_crop=True, **detector_options), face, label)
    embedded = embed_faces(rgb, faces, model)
    return [f.replace(crop=None) for f in embedded]
