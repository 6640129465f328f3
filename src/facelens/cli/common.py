"""Small helpers every command module shares (output only: parsing shared with the services
lives in facelens.usecases.inputs)."""

from __future__ import annotations

import shlex
import sys


def note(message: str) -> None:
    """A non-fatal remark on stderr, so stdout stays clean for --json."""
    print(f"facelens: note: {message}", file=sys.stderr)


def command_line() -> str:
    """The command as typed (shell-quoted), recorded in reports and calibration files."""
    return "facelens " + " ".join(shlex.quote(a) for a in sys.argv[1:])
