"""Deployment knobs read from the environment, in one place.

Everything else is an explicit argument with a default. Variables:
  FACELENS_THREADS   CPU threads per model runtime (default: all cores)
  FACELENS_DB        gallery database URL or SQLite path
  FACELENS_KEY_FILE  path of the template encryption key file
  FACELENS_KEY       the key itself (base64), wins over the key file
  FACELENS_MODELS_DIR  where fetched model files (too large for the repo) are kept
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "facelens"


def threads() -> int:
    raw = os.environ.get("FACELENS_THREADS", "").strip()
    if raw:
        try:
            value = int(raw)
        except ValueError:
            value = 0
        if value > 0:
            return value
    return os.cpu_count() or 1


def data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME))


def config_dir() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME))


def models_dir() -> Path:
    raw = os.environ.get("FACELENS_MODELS_DIR", "").strip()
    return Path(raw) if raw else data_dir() / "models"


def database_url() -> str | None:
    return os.environ.get("FACELENS_DB", "").strip() or None


def key_file() -> Path | None:
    raw = os.environ.get("FACELENS_KEY_FILE", "").strip()
    return Path(raw) if raw else None


def key_value() -> str | None:
    return os.environ.get("FACELENS_KEY", "").strip() or None
