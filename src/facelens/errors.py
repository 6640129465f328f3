"""Typed exceptions and the CLI exit code of each, in one table.

Library callers catch the classes; the CLI maps each class to its exit code and prints the
message on one line (no traceback). Exit code 0 always means "the command ran", whatever a
verification or access decision said.
"""

from __future__ import annotations


class FacelensError(Exception):
    """Base class: every error facelens raises on purpose."""

    exit_code = 1


class BadInputError(FacelensError, ValueError):
    """The input is missing, unreadable, not an image, too large, or malformed.

    Also a ValueError, so code written against the plain-Python convention (``except
    ValueError``, e.g. around ``Face(...)``) keeps catching malformed values."""

    exit_code = 2


class NoFaceError(FacelensError):
    """The image was read but holds no face the detector accepts."""

    exit_code = 3


class MultipleFacesError(FacelensError):
    """Several faces where exactly one is required (enrolment, verification with face='only')."""

    exit_code = 4


class ModelError(FacelensError):
    """A model file is missing, altered (sha256 mismatch) or cannot be loaded."""

    exit_code = 5


class StorageError(FacelensError):
    """The gallery database or index is missing, corrupt, foreign or locked."""

    exit_code = 6


class KeyMaterialError(FacelensError):
    """The encryption key is missing or does not decrypt the stored data."""

    exit_code = 7


class NotFoundError(FacelensError):
    """A named identity, location, policy or run does not exist."""

    exit_code = 8


class ConflictError(FacelensError):
    """The request conflicts with stored state (a duplicate name, a locked-out person)."""

    exit_code = 9


class SourceError(FacelensError):
    """A video source (file, camera, stream) cannot be opened or stopped delivering frames."""

    exit_code = 10


EXIT_CODES: dict[type[FacelensError], int] = {
    cls: cls.exit_code
    for cls in (
        FacelensError,
        BadInputError,
        NoFaceError,
        MultipleFacesError,
        ModelError,
        StorageError,
        KeyMaterialError,
        NotFoundError,
        ConflictError,
        SourceError,
    )
}
"""Documented exit codes (also printed in the README): 2 bad input, 3 no face, 4 several faces,
5 model file problem, 6 storage, 7 key, 8 not found, 9 conflict, 10 video source, 1 other."""
