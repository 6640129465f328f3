"""facelens — offline face analysis.

The whole public API in a few verbs (images: a path, bytes, a PIL image, or a numpy array in
OpenCV's BGR order — pass ``channels="rgb"`` for RGB arrays):

    faces = facelens.detect("group.jpg")               # boxes, keypoints, scores, quality
    faces = facelens.embed("me.jpg", face="only")       # + L2-normalised embeddings
    result = facelens.verify("a.jpg", "b.jpg")          # similarity, decision, threshold used

Models run locally from files shipped with the package (``facelens models`` lists them).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import errors
from .errors import (
    BadInputError,
    FacelensError,
    ModelError,
    MultipleFacesError,
    NoFaceError,
)
from .imageio import Channels, ImageLike, load_image
from .pipeline import DEFAULT_DETECTOR, DEFAULT_MODEL, FaceChoice, choose_faces
from .pipeline import detect as _detect
from .pipeline import embed as _embed
from .types import Face, Quality, Verification

__version__ = "0.1.0"


def detect(image: ImageLike, detector: str = DEFAULT_DETECTOR, channels: Channels = "bgr",
           **detector_options: Any) -> list[Face]:
    """Every face in the image: box, keypoints, score and quality, in input pixel coordinates."""
    return _detect(image, detector=detector, channels=channels, **detector_options)


def embed(image: ImageLike, model: str = DEFAULT_MODEL, detector: str = DEFAULT_DETECTOR,
          face: FaceChoice = "all", channels: Channels = "bgr", **detector_options: Any) -> list[Face]:
    """Faces with embeddings. ``face``: 'all', 'largest', 'only' (error if several) or an index
    counted left to right. Raises NoFaceError when the image holds no face."""
    return _embed(image, model=model, detector=detector, face=face, channels=channels,
                  **detector_options)


represent = embed


def verify(a: ImageLike | np.ndarray, b: ImageLike | np.ndarray, model: str = DEFAULT_MODEL,
           detector: str = DEFAULT_DETECTOR, face: FaceChoice = "largest",
           operating_point: str | None = None, channels: Channels = "bgr") -> Verification:
    """Are a and b the same person? Each side is an image (its ``face`` is used: the largest by
    default) or a precomputed 1-D embedding of the same model. The threshold is the model's
    calibrated operating point (see ``facelens.verification``)."""
    from .verification import cosine_similarity, threshold

    face_a = _as_face(a, model, detector, face, channels, "first image")
    face_b = _as_face(b, model, detector, face, channels, "second image")
    if face_a.embedding_model != face_b.embedding_model:
        raise BadInputError(
            f"cannot compare a {face_a.embedding_model} embedding with a {face_b.embedding_model} one"
        )
    limit, point = threshold(model, operating_point)
    similarity = cosine_similarity(face_a.embedding, face_b.embedding)
    return Verification(verified=similarity >= limit, similarity=similarity, threshold=limit,
                        model=model, operating_point=point, face_a=face_a, face_b=face_b)


def identify(image: ImageLike | np.ndarray, db: str | None = None, top_k: int = 5,
             model: str = DEFAULT_MODEL, **options: Any):
    """Who is in the image? One result per face against the gallery at ``db`` (default
    $FACELENS_DB): identity (None = unknown, open-set), similarity and top-k candidates."""
    from .gallery import Gallery

    with Gallery(db) as gallery:
        return gallery.identify(image, top_k=top_k, model=model, **options)


def analyze(image: ImageLike, actions=("emotion", "gender", "age"), detector: str = DEFAULT_DETECTOR,
            channels: Channels = "bgr", **options: Any) -> list[Face]:
    """Faces with the attributes asked for: emotion, gender, age, mesh, gender_eyes."""
    from .attributes.analyze import analyze as _analyze

    return _analyze(image, actions, detector=detector, channels=channels, **options)


def _as_face(item, model, detector, face, channels, name) -> Face:
    if isinstance(item, np.ndarray) and item.ndim == 1:
        return Face(box=(0, 0, 1, 1), score=1.0, embedding=item, embedding_model=model,
                    detector="embedding")
    return _embed(item, model=model, detector=detector, face=face, channels=channels, name=name)[0]


__all__ = [
    "BadInputError", "Face", "analyze", "identify", "FacelensError", "ModelError", "MultipleFacesError", "NoFaceError",
    "Quality", "Verification", "detect", "embed", "errors", "load_image", "represent", "verify",
    "choose_faces",
]
