"""facelens — offline face analysis.

The whole public API in a few verbs (images: a path, bytes, a PIL image, or a numpy array in
OpenCV's BGR order — pass ``channels="rgb"`` for RGB arrays):

    faces = facelens.detect("group.jpg")               # boxes, keypoints, scores, quality
    faces = facelens.embed("me.jpg", face="only")       # + L2-normalised embeddings
    result = facelens.verify("a.jpg", "b.jpg")          # similarity, decision, threshold used

Models run locally from files shipped with the package (``facelens models`` lists them).
Each verb calls the matching use case in ``facelens.usecases`` (as the CLI and the REST service
do) and returns its faces or verification.
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
from .constants import DEFAULT_DETECTOR, DEFAULT_MODEL
from .imageio import Channels, ImageLike, load_image
from .pipeline import FaceChoice, choose_faces
from .types import Face, Quality, Verification

__version__ = "0.1.0"


def detect(image: ImageLike, detector: str = DEFAULT_DETECTOR, channels: Channels = "bgr",
           **detector_options: Any) -> list[Face]:
    """Every face in the image: box, keypoints, score and quality, in input pixel coordinates."""
    from .usecases.faces import detect as detect_faces

    return detect_faces(image, detector=detector, channels=channels, **detector_options).faces


def embed(image: ImageLike, model: str = DEFAULT_MODEL, detector: str = DEFAULT_DETECTOR,
          face: FaceChoice = "all", channels: Channels = "bgr", **detector_options: Any) -> list[Face]:
    """Faces with embeddings. ``face``: 'all', 'largest', 'only' (error if several) or an index
    counted left to right. Raises NoFaceError when the image holds no face."""
    from .usecases.faces import embed as embed_faces

    return embed_faces(image, model=model, detector=detector, face=face, channels=channels,
                       **detector_options).faces


represent = embed


def verify(a: ImageLike | np.ndarray, b: ImageLike | np.ndarray, model: str = DEFAULT_MODEL,
           detector: str = DEFAULT_DETECTOR, face: FaceChoice = "largest",
           operating_point: str | None = None, channels: Channels = "bgr") -> Verification:
    """Are a and b the same person? Each side is an image (its ``face`` is used: the largest by
    default) or a precomputed 1-D embedding of the same model. The threshold is the model's
    calibrated operating point (see ``facelens.verification``)."""
    from .usecases.faces import verify as verify_faces

    return verify_faces(a, b, model=model, detector=detector, face=face, operating_point=operating_point,
                        channels=channels).verification


def identify(image: ImageLike | np.ndarray, db: str | None = None, top_k: int = 5,
             model: str = DEFAULT_MODEL, **options: Any):
    """Who is in the image? One result per face against the gallery at ``db`` (default
    $FACELENS_DB): identity (None = unknown, open-set), similarity and top-k candidates.
    ``options``: scoring ('max' or 'mean'), threshold, record_unknown."""
    from .gallery import Gallery
    from .usecases.identification import identify as identify_faces

    with Gallery(db) as gallery:
        return identify_faces(gallery, image, top_k=top_k, model=model, **options).faces


def analyze(image: ImageLike, actions=("emotion", "gender", "age"), detector: str = DEFAULT_DETECTOR,
            channels: Channels = "bgr", **options: Any) -> list[Face]:
    """Faces with the attributes asked for: emotion, gender, age, mesh, gender_eyes (an empty
    list when the image holds no face). ``options``: emotion_model, min_face_size, detector
    options."""
    from .usecases.analysis import analyze_image

    return analyze_image(image, actions, detector=detector, channels=channels, **options).faces


__all__ = [
    "BadInputError", "Face", "analyze", "identify", "FacelensError", "ModelError", "MultipleFacesError", "NoFaceError",
    "Quality", "Verification", "detect", "embed", "errors", "load_image", "represent", "verify",
    "choose_faces",
]
