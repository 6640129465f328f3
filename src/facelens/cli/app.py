"""The `facelens` command: a thin shell over the library.

Each command module parses arguments, calls the library and prints; no face logic lives here.
``run_cli`` turns every FacelensError into one line on stderr and its documented exit code.
Command groups are registered in ``_register`` below, one line each.
"""

from __future__ import annotations

import sys

import typer

app = typer.Typer(
    name="facelens",
    help="Offline face analysis: detect, verify, identify, analyze, watch.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _register() -> None:
    from . import core  # detect, embed, verify, models, demo

    core.register(app)
    for module_name in ("evaluate", "gallery", "attributes", "video", "train", "access", "service"):
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
    except Exception as exc:  # a bug: say so in one line, exit 1
        print(f"facelens: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


def main() -> None:
    sys.exit(run_cli())
