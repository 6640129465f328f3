"""`facelens serve`: run the REST service (FastAPI + uvicorn)."""

from __future__ import annotations

from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)


def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on (0.0.0.0 for all)."),
    port: int = typer.Option(8000, help="TCP port."),
    db: Optional[str] = typer.Option(None, "--db", help="Gallery database for /identify (default: $FACELENS_DB)."),
) -> None:
    """Serve /detect, /embed, /verify, /analyze, /identify and /health over HTTP."""
    try:
        import uvicorn
    except ModuleNotFoundError:
        from ..errors import FacelensError

        raise FacelensError("the service needs its extra: pip install -e '.[service]'") from None
    from ..service import create_app

    uvicorn.run(create_app(db), host=host, port=port)
