"""Which route a request is for, before FastAPI routes it (the auth and body-limit middlewares
decide on the route's declared roles and body type without reading the body).

``RouteTable`` is built once from the routers, in their order, with Starlette's own path
compiler, so it matches exactly the paths FastAPI will route."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from fastapi.routing import APIRoute
from starlette.routing import compile_path
from starlette.types import Scope


@dataclass(frozen=True)
class RouteInfo:
    pattern: re.Pattern
    methods: frozenset[str]
    path: str
    extra: dict[str, Any]


class RouteTable:
    def __init__(self) -> None:
        self.routes: list[RouteInfo] = []

    def add_router(self, router: Any, prefix: str = "") -> None:
        for route in router.routes:
            if isinstance(route, APIRoute):
                pattern, _, _ = compile_path(prefix + route.path)
                self.routes.append(RouteInfo(pattern, frozenset(route.methods), prefix + route.path,
                                             dict(route.openapi_extra or {})))

    def match(self, method: str, path: str) -> RouteInfo | None:
        for route in self.routes:
            if method in route.methods and route.pattern.match(path):
                return route
        return None


def matched_route(scope: Scope) -> RouteInfo | None:
    """The route this request will reach (path and method), or None (404/405 follow)."""
    if "facelens.route" not in scope:
        app = scope.get("app")
        table = getattr(getattr(app, "state", None), "route_table", None)
        scope["facelens.route"] = table.match(scope["method"], scope["path"]) if table is not None else None
    return scope["facelens.route"]


def route_extra(scope: Scope, key: str) -> Any:
    """A value the matched route declared in its ``openapi_extra`` (see auth.allow)."""
    route = matched_route(scope)
    return route.extra.get(key) if route is not None else None
