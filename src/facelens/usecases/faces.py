"""Detect, embed and verify: the operations on one image or one pair of images.

Images are anything ``facelens.imageio.load_image`` reads (a path, bytes, a PIL image, a numpy
array in ``channels`` order). ``label`` names the image in results and error messages (the
CLI passes the path, a service the upload's file name).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np

from ..errors import BadInputError
from ..imageio import Channels, ImageLike, load_image
from ..constants import DEFAULT_DETECTOR, DEFAULT_MODEL
from ..pipeline import FaceChoice, choose_faces, detect_rgb, embed_faces
from ..pipeline import embed as embed_image
from ..types import Face, Verification


def image_label(image: Any, label: Optional[str] = None) -> str:
    """What results and messages call an image: the given label, a path as typed, or 'image'."""
    if label is not None:
        return label
    return str(image) if isinstance(image, (str, Path)) else "image"


@dataclass(frozen=True)
class Detection:
    """Every face found in one image, in input pixel coordinates."""

    image: str
    width: int
    height: int
    faces: list[Face]

    def to_dict(self) -> dict[str, Any]:
        return {"image": self.image, "width": self.width, "height": self.height,
                "faces": [f.to_dict() for f in self.faces]}


def detect(image: ImageLike, *, detector: str = DEFAULT_DETECTOR, channels: Channels = "bgr",
           draw: Optional[Path] = None, label: Optional[str] = None, **detector_options: Any) -> Detection:
    """Faces with box, keypoints, score and quality; ``draw``: also write an annotated copy there.
    Detector options given as None (an unset CLI option or form field) keep the model default.
    ``tile_size``: a tile side in pixels (also search overlapping tiles), 0 (none) or "auto"
    (tiles only where faces may be small: detection.tiling.detect_auto)."""
    from ..detection.tiling import AUTO, tile_size_option

    options = {k: v for k, v in detector_options.items() if v is not None}
    if "tile_size" in options:
        options["tile_size"] = tile_size_option(options["tile_size"])
    rgb = load_image(image, channels)
    tile_size = options.get("tile_size")
    if isinstance(tile_size, str) and tile_size == AUTO:
        faces = _detect_auto(rgb, detector, options)
    else:
        faces = detect_rgb(rgb, detector, **options)
    if draw is not None:
        from ..draw import draw_faces, save_rgb

        save_rgb(draw, draw_faces(rgb, faces))
    return Detection(image_label(image, label), rgb.shape[1], rgb.shape[0], faces)


def _detect_auto(rgb: np.ndarray, detector: str, options: dict[str, Any]) -> list[Face]:
    """detect_rgb with the photo tiling rule; each face aligned and rated as detect_rgb does."""
    from ..alignment import align_face
    from ..detection.tiling import detect_auto

    others = {k: v for k, v in options.items() if k != "tile_size"}
    return [align_face(rgb, face, keep_crop=False) for face in detect_auto(rgb, detector, **others)]


@dataclass(frozen=True)
class Embedding:
    """The chosen faces of one image with their L2-normalised embeddings."""

    image: str
    model: str
    faces: list[Face]

    def to_dict(self) -> dict[str, Any]:
        return {"image": self.image, "model": self.model,
                "faces": [f.to_dict(include_embedding=True) for f in self.faces]}


def embed(image: ImageLike, *, model: str = DEFAULT_MODEL, detector: str = DEFAULT_DETECTOR,
          face: FaceChoice = "all", channels: Channels = "bgr", label: Optional[str] = None,
          **detector_options: Any) -> Embedding:
    """Embeddings of the face(s) ``face`` picks; NoFaceError / MultipleFacesError otherwise."""
    name = image_label(image, label)
    faces = embed_image(image, model=model, detector=detector, face=face, channels=channels, name=name,
                        **detector_options)
    return Embedding(name, model, faces)


@dataclass(frozen=True)
class VerifyResult:
    """A verification and how many faces each side's image held (None: an embedding was given).

    ``faces_found`` lets a caller say "image A holds 3 faces; comparing the largest" without
    detecting a second time."""

    verification: Verification
    faces_found: tuple[Optional[int], Optional[int]]
    face: FaceChoice

    @property
    def largest_of_several(self) -> list[int]:
        """Sides (0 = a, 1 = b) where the largest of several faces was compared."""
        if self.face != "largest":
            return []
        return [side for side, count in enumerate(self.faces_found) if count is not None and count > 1]

    def to_dict(self) -> dict[str, Any]:
        return self.verification.to_dict()


def verify(a: ImageLike | np.ndarray, b: ImageLike | np.ndarray, *, model: str = DEFAULT_MODEL,
           detector: str = DEFAULT_DETECTOR, face: FaceChoice = "largest",
           operating_point: Optional[str] = None, channels: Channels = "bgr",
           labels: tuple[str, str] = ("first image", "second image")) -> VerifyResult:
    """Are a and b the same person? Each side is an image (its ``face`` is used) or a 1-D
    embedding of ``model``; the threshold is the model's calibrated operating point."""
    from ..match import cosine_similarity
    from ..match.thresholds import verification_threshold

    face_a, found_a = _side(a, labels[0], model, detector, face, channels)
    face_b, found_b = _side(b, labels[1], model, detector, face, channels)
    if face_a.embedding_model != face_b.embedding_model:
        raise BadInputError(
            f"cannot compare a {face_a.embedding_model} embedding with a {face_b.embedding_model} one"
        )
    limit, point = verification_threshold(model, operating_point)
    similarity = cosine_similarity(face_a.embedding, face_b.embedding)
    verification = Verification(verified=similarity >= limit, similarity=similarity, threshold=limit,
                                model=model, operating_point=point, face_a=face_a, face_b=face_b)
    return VerifyResult(verification, (found_a, found_b), face)


def _side(item: Any, label: str, model: str, detector: str, face: FaceChoice,
          channels: Channels) -> tuple[Face, Optional[int]]:
    """One side of a verification: (the embedded face used, faces detected in its image)."""
    if isinstance(item, np.ndarray) and item.ndim == 1:
        from ..embedding import get_embedder
        from ..types import checked_embedding

        if not isinstance(model, str):
            raise BadInputError(f"model must be a name such as {DEFAULT_MODEL!r}, not {model!r}")
        vector = checked_embedding(item, f"{label} (embedding)", dim=get_embedder(model).dim)  # NaN, zeros, length
        return Face(box=(0, 0, 1, 1), score=1.0, embedding=vector, embedding_model=model,
                    detector="embedding"), None
    rgb = load_image(item, channels)
    found = detect_rgb(rgb, detector, keep_crop=True)
    (chosen,) = embed_faces(rgb, choose_faces(found, face, label)[:1], model)
    return chosen.replace(crop=None), len(found)
