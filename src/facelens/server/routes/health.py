"""GET /health: no key needed. Database, models, cameras, worker queue, MQTT."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from ...errors import FacelensError
from ..state import ServerState
from .common import server

router = APIRouter(tags=["health"])


@router.get("/health", summary="Liveness and readiness (no key)")
def health(state: ServerState = Depends(server)) -> JSONResponse:
    """200 when the database answers and the bundled models are intact, else 503 ("degraded");
    cameras in back-off are reported but do not make the server unhealthy."""
    from ... import __version__
    from ...models.registry import MODELS, check

    database: dict[str, Any] = {"ok": True}
    try:
        database["identities"] = len(state.gallery)
    except FacelensError:  # what went wrong is logged; the client learns only that it did
        database = {"ok": False, "error": "unavailable"}
    models = {name: check(spec) for name, spec in MODELS.items()}
    models_ok = all(s == "ok" or (s == "missing" and not MODELS[n].bundled) for n, s in models.items())
    body = {"status": "ok" if database["ok"] and models_ok else "degraded", "version": __version__,
            "database": database, "models": models, "cameras": state.daemon.states(), "queue": state.pool.state(),
            "mqtt": None if state.mqtt is None else {"connected": state.mqtt.connected.is_set()},
            "sse_listeners": state.sse.listeners}
    return JSONResponse(body, status_code=200 if body["status"] == "ok" else 503)
