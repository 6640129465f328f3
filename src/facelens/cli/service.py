"""`facelens serve`: run the server (FastAPI + uvicorn; see docs/service.md)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)


def serve(
    host: Optional[str] = typer.Option(None, help="Interface to listen on (default 127.0.0.1; 0.0.0.0 for all)."),
    port: Optional[int] = typer.Option(None, help="TCP port (default 8000)."),
    db: Optional[str] = typer.Option(None, "--db", help="SQLite path or postgresql:// URL (default: $FACELENS_DB)."),
    config: Optional[Path] = typer.Option(None, "--config", help="TOML: cameras, watchlists, MQTT, doors, limits."),
) -> None:
    """Serve the API (/api/v1, key in X-API-Key), the camera daemon and /health. Flags win over the file."""
    try:
        import uvicorn
    except ModuleNotFoundError:
        from ..errors import FacelensError

        raise FacelensError("the server needs its extra: pip install -e '.[service]'") from None
    from ..server.app import create_app
    from ..server.config import load_settings

    settings = load_settings(config, host=host, port=port, db=db)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)  # the schema check on every start is not news
    uvicorn.run(create_app(settings), host=settings.server.host, port=settings.server.port,
                timeout_graceful_shutdown=10)
