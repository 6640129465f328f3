"""``create_app(settings)``: the FastAPI application — wiring only.

    facelens serve --db people.db --config facelens.toml     # or:
    uvicorn --factory facelens.server.app:app_from_environment

Middleware, outermost first: CORS (only when origins are configured), auth (401/403/429 before
the body is read), body limit and content type (413/415). Routers: /health at the root, the
API under /api/v1, OpenAPI at /docs and /openapi.json. The lifespan opens the database and
starts the configured cameras, and stops them on shutdown.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from .config import Settings, load_settings
from .routing import RouteTable

API_PREFIX = "/api/v1"
log = logging.getLogger("facelens.server")


def create_app(settings: Settings | None = None) -> FastAPI:
    from .. import __version__
    from . import errors
    from .auth import ROLES_EXTENSION, AuthMiddleware
    from .challenges import ChallengeBook
    from .limits import BodyLimitMiddleware
    from .routes import API_ROUTERS, ROOT_ROUTERS
    from .state import ServerState

    settings = settings or load_settings()
    holder: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        state = await asyncio.to_thread(ServerState.open, settings, asyncio.get_running_loop())
        state.extra["challenges"] = ChallengeBook()
        app.state.server = holder["state"] = state
        if not await asyncio.to_thread(state.keys.count_active):
            log.warning("no API key exists yet: every /api/v1 call will be refused; create one with "
                        "`facelens keys create NAME --role admin`")
        state.daemon.start_configured()
        if any(w.record_unknowns for w in settings.watchlists.values()):
            # scikit-learn takes seconds to import: not on the first GET /unknowns/clusters
            threading.Thread(target=_import_clustering, name="facelens-import-sklearn", daemon=True).start()
        try:
            yield
        finally:
            await asyncio.to_thread(state.close)

    app = FastAPI(title="facelens", version=__version__, lifespan=lifespan,
                  description="Offline face recognition server: subjects, recognition, cameras, alerts, access, "
                              "reports. Send an API key in the X-API-Key header (see docs/service.md).")
    errors.install(app)
    table = RouteTable()
    for router in ROOT_ROUTERS:
        app.include_router(router)
    for router in API_ROUTERS:
        app.include_router(router, prefix=API_PREFIX)
        table.add_router(router, API_PREFIX)
    _check_every_route_declares_roles(table, ROLES_EXTENSION)
    app.state.route_table = table
    from ..web import mount as mount_dashboard  # the operator pages under /ui (outside /api: no key)

    mount_dashboard(app)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.server.max_upload_bytes)
    app.add_middleware(AuthMiddleware, keys=_Lazy(holder, "keys"), limiter=_Lazy(holder, "limiter"))
    if settings.server.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=settings.server.cors_origins, allow_headers=["X-API-Key"],
                           allow_methods=["GET", "POST", "PATCH", "DELETE"])
    return app


def _import_clustering() -> None:
    try:
        import sklearn.cluster  # noqa: F401 - imported for its side effect: loaded once, now
    except ImportError:  # the clusters route will say so when asked
        pass


class _Lazy:
    """A middleware's handle on a part of the server state, which exists only once the lifespan
    has opened the database (middleware is built before that)."""

    def __init__(self, holder: dict[str, Any], name: str) -> None:
        self._holder, self._name = holder, name

    def __getattr__(self, attribute: str) -> Any:
        return getattr(getattr(self._holder["state"], self._name), attribute)


def _check_every_route_declares_roles(table: RouteTable, extension: str) -> None:
    """Fail at start-up, not in production, when an API route forgot its ``**allow(...)``."""
    for route in table.routes:
        if not route.extra.get(extension):
            raise RuntimeError(f"route {sorted(route.methods)} {route.path} declares no roles (auth.allow)")


def app_from_environment() -> FastAPI:
    """For ``uvicorn --factory``: the config file from $FACELENS_CONFIG, the database from
    $FACELENS_DB (read by the gallery as usual)."""
    return create_app(load_settings(os.environ.get("FACELENS_CONFIG") or None))
