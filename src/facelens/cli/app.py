"""The `facelens` command: a thin shell over the use cases (facelens.usecases).

Each command module parses arguments, calls a use case (or the library function that is the
whole operation, e.g. ``Gallery.purge``) and prints; no face logic lives here. Option parsing
that the services share (face choice, ISO dates, KEY=VALUE) is in ``facelens.usecases.inputs``.
``run_cli`` turns every FacelensError into one line on stderr and its documented exit code.
Command groups are registered in ``_register`` below, one line each.
"""

from __future__ import annotations

import errno
import sys

import typer

app = typer.Typer(
    name="facelens",
    help="Offline face analysis: detect, verify, identify, analyze, watch.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


_registered = False


def _register() -> None:
    # Once per process: run_cli called again (tests, the fuzz test) must not add every command
    # group again — 90 calls made typer build 720 groups and each call took ~20 s.
    global _registered
    if _registered:
        return
    _registered = True
    from . import core  # detect, embed, verify, models, demo

    core.register(app)
    for module_name in ("evaluate", "gallery", "attributes", "video", "train", "access", "service", "keys"):
        try:
            module = __import__(f"facelens.cli.{module_name}", fromlist=["register"])
        except ModuleNotFoundError as exc:
            if exc.name != f"facelens.cli.{module_name}":
                raise
            continue  # that command group is not part of this build
        module.register(app)


def run_cli(argv: list[str] | None = None) -> int:
    """Entry point: exit code 0 when the command ran; see errors.EXIT_CODES otherwise.

    Usage errors are typer's own (message + usage, exit 2). A FacelensError becomes one line on
    stderr and its exit code; anything unexpected is one line too, never a traceback.
    """
    from ..errors import FacelensError

    _register()
    try:
        app(args=argv, prog_name="facelens")
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except FacelensError as exc:
        print(f"facelens: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("facelens: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:  # a path the command was given cannot be used (too long, missing, …)
        print(f"facelens: error: {_os_error_text(exc)}", file=sys.stderr)
        return 2 if exc.errno in _PATH_ERRNOS else 1
    except Exception as exc:  # a bug: say so in one line, exit 1
        print(f"facelens: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


_PATH_ERRNOS = {errno.ENAMETOOLONG, errno.ENOENT, errno.ENOTDIR, errno.EISDIR, errno.EACCES, errno.EPERM,
                errno.ELOOP, errno.EEXIST, errno.EROFS}


def _os_error_text(exc: OSError) -> str:
    """One short line: the path (shortened: it may be thousands of characters) and the reason."""
    name = str(exc.filename) if exc.filename is not None else ""
    if len(name) > 160:
        name = f"{name[:80]}…{name[-40:]} ({len(name)} characters)"
    reason = exc.strerror or type(exc).__name__
    return f"{name}: {reason}" if name else reason


def main() -> None:
    sys.exit(run_cli())
