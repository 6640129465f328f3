"""API keys (stored hashed), roles, and the one declaration every route makes.

A key reads ``flk_<key id>_<secret>``. The key id (public, random) finds the row; the secret
is checked against its argon2id hash (argon2-cffi), so the database never holds a usable key.
Argon2 is slow on purpose (~50 ms), so a verified key is remembered in memory for
``key_cache_s`` seconds under a SHA-256 of the whole key; revoking through the API forgets it at
once, revoking with the CLI (another process) within that time.

Roles:
  admin     keys and settings, and everything below
  operator  enrol, delete, review alerts, start/stop cameras, and everything a viewer can
  viewer    read, detect, identify, verify, analyze
  device    a door or camera client: submit frames and access checks only

A route says who may call it with ``**allow(...)``; the role check runs in the auth middleware
before the request body is read, and the roles are published in the OpenAPI schema
(``x-facelens-roles``), from which the tests build the full route × role matrix.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import Request, Security
from fastapi.security import APIKeyHeader
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from ..errors import BadInputError, ConflictError, FacelensError, NotFoundError
from ..gallery.store import json_ready, utcnow
from .errors import for_exception, response
from .routing import matched_route, route_extra
from .store import ApiKeyRow

ROLES = ("admin", "operator", "viewer", "device")
ADMIN = frozenset({"admin"})
OPERATE = frozenset({"admin", "operator"})
VIEW = frozenset({"admin", "operator", "viewer"})
DEVICE = frozenset({"admin", "operator", "device"})
ANYONE = frozenset(ROLES)  # any valid key (GET /me)
ROLES_EXTENSION = "x-facelens-roles"
KEY_HEADER = "X-API-Key"
KEY_RE = re.compile(r"^flk_([0-9a-f]{16})_([A-Za-z0-9_-]{20,100})$")
NAME_RE = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")  # + "~revoked~<key id>" fits the 100-char column
LAST_USED_EVERY_S = 60.0  # last_used_at is a hint: written at most once a minute per key

_api_key_header = APIKeyHeader(name=KEY_HEADER, auto_error=False, description="An API key: `facelens keys create`")


def allow(roles: frozenset[str], *, body: str | None = None, key_in_query: bool = False) -> dict[str, Any]:
    """Route keyword arguments declaring who may call it: ``@router.get(path, **allow(VIEW))``.

    ``body``: "multipart" or "json" — any other content type is refused with 415 before the body
    is read. ``key_in_query``: also accept ``?api_key=`` (streams opened by <img> or EventSource,
    which cannot send headers)."""
    extra: dict[str, Any] = {ROLES_EXTENSION: sorted(roles)}
    if body is not None:
        extra["x-facelens-body"] = body
    if key_in_query:
        extra["x-facelens-key-in-query"] = True
    return {"dependencies": [Security(_api_key_header)], "openapi_extra": extra}


class AuthMiddleware:
    """Authenticates (401), authorises (403) and rate-limits (429) every /api request before its
    body is read; the key found is left in ``request.state.api_key``."""

    def __init__(self, app: ASGIApp, keys: "KeyStore", limiter: Any, prefix: str = "/api/") -> None:
        self.app = app
        self.keys = keys
        self.limiter = limiter
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        roles = route_extra(scope, ROLES_EXTENSION)
        if matched_route(scope) is None:
            await self.app(scope, receive, send)  # 404 / 405 from the router
            return
        refusal = await self._refusal(scope, roles)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _refusal(self, scope: Scope, roles: list[str] | None):
        presented = _presented_key(scope)
        key = self.keys.cached(presented) if presented else None
        if key is None and presented:
            try:
                key = await run_in_threadpool(self.keys.authenticate, presented)
            except FacelensError as exc:  # the database is down: 503, not a crash
                status, code, message = for_exception(exc)
                return response(status, code, message, {"Retry-After": "5"})
        if key is None:
            why = "missing API key (header X-API-Key)" if not presented else "unknown or revoked API key"
            return response(401, "unauthorized", why, {"WWW-Authenticate": "X-API-Key"})
        if not roles or key.role not in roles:  # a route without roles is closed, never open
            return response(403, "forbidden", f"role {key.role!r} may not call {scope['method']} {scope['path']}")
        wait = self.limiter.acquire(key.name)
        if wait is not None:
            error = self.limiter.refusal(wait)
            return response(error.status, error.code, error.message, error.headers)
        scope.setdefault("state", {})["api_key"] = key
        return None


def _presented_key(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name.lower() == b"x-api-key":
            return value.decode("latin-1").strip() or None
    if route_extra(scope, "x-facelens-key-in-query"):
        values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("api_key")
        return values[0] if values else None
    return None


@dataclass(frozen=True)
class ApiKey:
    """The caller, as the auth middleware found it (``request.state.api_key``)."""

    name: str
    role: str


def caller(request: Request) -> ApiKey:
    """Dependency: the authenticated key of this request."""
    return request.state.api_key


class KeyStore:
    """API keys in the gallery database of ``gallery`` (facelens.gallery.Gallery); creating and
    revoking are audit entries in the same transaction."""

    def __init__(self, gallery: Any, cache_seconds: float = 10.0) -> None:
        self.gallery = gallery
        self.cache_seconds = cache_seconds
        self._hasher = PasswordHasher()
        self._cache: dict[str, tuple[ApiKey, float]] = {}
        self._last_used: dict[str, float] = {}
        self._lock = threading.Lock()

    def create(self, name: str, role: str, *, by: str | None = None) -> dict[str, str]:
        """A new key: ``{"name", "role", "key"}``. The key is shown here once and never again."""
        if not NAME_RE.match(name or ""):
            raise BadInputError("key name must be 1–64 characters: letters, digits, _ . @ -")
        if role not in ROLES:
            raise BadInputError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
        key_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
        try:
            with self.gallery.change() as change:
                db = change.session
                if db.scalars(select(ApiKeyRow.id).where(ApiKeyRow.name == name)).first() is not None:
                    raise ConflictError(f"an API key named {name!r} already exists (revoke it first)")
                db.add(ApiKeyRow(name=name, role=role, key_id=key_id, secret_hash=self._hasher.hash(secret),
                                 created_at=utcnow(), created_by=by))
                db.flush()
                change.audit("key.create", None, {"name": name, "role": role, "by": by})
        except IntegrityError:
            raise ConflictError(f"an API key named {name!r} already exists") from None
        return {"name": name, "role": role, "key": f"flk_{key_id}_{secret}"}

    def revoke(self, name: str, *, by: str | None = None) -> dict[str, Any]:
        """Revoke: the row stays (renamed aside, so the name can be given to a new key)."""
        with self.gallery.change() as change:
            db = change.session
            row = db.scalars(select(ApiKeyRow).where(ApiKeyRow.name == name)).first()
            if row is None:
                raise NotFoundError(f"no API key named {name!r}")
            if row.revoked_at is None:
                row.revoked_at = utcnow()
            # keep the name usable for a new key: the revoked row is renamed out of the way
            row.name = f"{name}~revoked~{row.key_id}"
            change.audit("key.revoke", None, {"name": name, "by": by})
        with self._lock:
            self._cache = {k: v for k, v in self._cache.items() if v[0].name != name}
        return {"name": name, "revoked": True}

    def list(self) -> list[dict[str, Any]]:
        with self.gallery.reading() as db:
            rows = db.scalars(select(ApiKeyRow).order_by(ApiKeyRow.id)).all()
        return [{"name": r.name.split("~revoked~")[0], "role": r.role, "created_at": json_ready(r.created_at),
                 "created_by": r.created_by, "revoked_at": json_ready(r.revoked_at),
                 "last_used_at": json_ready(r.last_used_at)} for r in rows]

    def count_active(self) -> int:
        with self.gallery.reading() as db:
            return len(db.scalars(select(ApiKeyRow.id).where(ApiKeyRow.revoked_at.is_(None))).all())

    def cached(self, presented: str) -> ApiKey | None:
        """The key if it was verified less than ``cache_seconds`` ago (no database, no argon2:
        safe to call on the event loop)."""
        hit = self._cache.get(_digest(presented))
        return hit[0] if hit is not None and hit[1] > time.monotonic() else None

    def authenticate(self, presented: str | None) -> ApiKey | None:
        """The key's owner and role, or None for a missing, malformed, unknown or revoked key.
        Blocking (database read + argon2): call it from a worker thread in async code."""
        if not presented:
            return None
        hit = self.cached(presented)
        if hit is not None:
            return hit
        now = time.monotonic()
        match = KEY_RE.match(presented)
        if match is None:
            return None
        with self.gallery.reading() as db:
            row = db.scalars(select(ApiKeyRow).where(ApiKeyRow.key_id == match.group(1))).first()
        if row is None or row.revoked_at is not None:
            return None
        try:
            self._hasher.verify(row.secret_hash, match.group(2))
        except (VerificationError, InvalidHashError):
            return None
        key = ApiKey(row.name, row.role)
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[_digest(presented)] = (key, now + self.cache_seconds)
        self._touch(key, now)
        return key

    def _touch(self, key: ApiKey, now: float) -> None:
        with self._lock:
            if now - self._last_used.get(key.name, -LAST_USED_EVERY_S) < LAST_USED_EVERY_S:
                return
            self._last_used[key.name] = now
        try:
            with self.gallery.change() as change:
                row = change.session.scalars(select(ApiKeyRow).where(ApiKeyRow.name == key.name)).first()
                if row is not None:
                    row.last_used_at = utcnow()
        except FacelensError:  # a hint, not worth failing a request for
            pass



def _digest(presented: str) -> str:
    return hashlib.sha256(presented.encode("utf-8", "replace")).hexdigest()
