"""Small helpers every command module shares."""

from __future__ import annotations

import sys


def parse_face_choice(value: str) -> str | int:
    """A face choice as typed on a command line or in a form: 'all', 'largest', 'only' or 'N'."""
    return int(value) if value.lstrip("-").isdigit() else value


def note(message: str) -> None:
    """A non-fatal remark on stderr, so stdout stays clean for --json."""
    print(f"facelens: note: {message}", file=sys.stderr)
