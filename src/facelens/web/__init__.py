"""The operator dashboard: static pages and ES modules that call /api/v1 like any other client.

``mount(app)`` serves them from the facelens server:

    /ui/static/...      the modules, styles and vendored libraries (see static/vendor/README.md)
    /ui/<page>          one HTML shell for every page; the module for the page is picked in the
                        browser from the path, so a page can be bookmarked and reloaded

Nothing here reads the gallery or any store: every figure a page shows comes from the API, with
the operator's key, so the server's checks (roles, limits, audit) apply to the dashboard too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

STATIC_DIR = Path(__file__).parent / "static"
PAGES = ("login", "people", "live", "alerts", "timeline", "happiness", "access", "unknown")
PREFIX = "/ui"


def mount(app: Any, prefix: str = PREFIX) -> None:
    """Add the dashboard to a FastAPI app. No API key is needed for these files: they hold no
    data, and they are outside /api, where the server's auth middleware applies. They are plain
    Starlette routes, not API routes, so they stay out of the OpenAPI schema and its role matrix."""
    from starlette.exceptions import HTTPException
    from starlette.responses import FileResponse, RedirectResponse
    from starlette.staticfiles import StaticFiles

    shell = STATIC_DIR / "index.html"
    # The shell is small and names the modules; no-cache makes the browser revalidate it (and the
    # modules by their ETag) so an upgraded server is never half-old in the browser.
    no_cache = {"Cache-Control": "no-cache"}

    async def home(_request: Any) -> RedirectResponse:
        return RedirectResponse(f"{prefix}/people")

    async def page(request: Any) -> FileResponse:
        if request.path_params["page"] not in PAGES:
            raise HTTPException(status_code=404, detail="no such dashboard page")
        return FileResponse(shell, media_type="text/html", headers=no_cache)

    app.add_route(prefix, home, include_in_schema=False)
    app.add_route(f"{prefix}/", home, include_in_schema=False)
    app.add_route(f"{prefix}/{{page}}", page, include_in_schema=False)
    app.mount(f"{prefix}/static", StaticFiles(directory=STATIC_DIR), name="dashboard-static")
