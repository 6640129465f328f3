"""One error type → one HTTP status and one code, in one table (beside errors.py's exit codes).

Every error leaves the server as ``{"error": message, "code": code}``. Messages of client
errors (4xx) say what was wrong, with any server file path cut to its last part; server-side
failures (5xx) say only what kind of failure it was — details go to the log, never a traceback,
a path or a database URL to the client.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import errors

log = logging.getLogger("facelens.server")

HTTP_STATUS: dict[type[errors.FacelensError], tuple[int, str]] = {
    errors.BadInputError: (400, "bad_input"),
    errors.SourceError: (400, "bad_source"),
    errors.NoFaceError: (422, "no_face"),
    errors.MultipleFacesError: (422, "multiple_faces"),
    errors.NotFoundError: (404, "not_found"),
    errors.ConflictError: (409, "conflict"),
    errors.StorageError: (503, "storage_unavailable"),
    errors.ModelError: (500, "model_error"),
    errors.KeyMaterialError: (500, "key_error"),
    errors.FacelensError: (500, "error"),
}
GENERIC_5XX = {
    "storage_unavailable": "the database is unavailable; retry shortly",
    "model_error": "a model file is missing or damaged on the server",
    "key_error": "the server's encryption key does not open its data",
    "error": "the server could not complete the request",
    "internal": "internal server error",
}
HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
              405: "method_not_allowed", 409: "conflict", 413: "payload_too_large",
              415: "unsupported_media_type", 422: "validation", 429: "rate_limited", 503: "unavailable"}
_PATH = re.compile(r"(?<![\w:])(/[^\s'\"/:]+)+/([^\s'\"/]+)")


class ApiError(Exception):
    """An HTTP error raised by the server itself (auth, limits, content type)."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


def scrub(message: str) -> str:
    """Cut absolute server paths down to their last part (``/srv/x/people.db`` → ``people.db``)."""
    return _PATH.sub(lambda m: m.group(2), message)


def body(message: str, code: str) -> dict[str, str]:
    return {"error": message, "code": code}


def response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body(message, code), status_code=status, headers=headers)


def for_exception(exc: BaseException) -> tuple[int, str, str]:
    """(status, code, client message) for any exception."""
    if isinstance(exc, ApiError):
        return exc.status, exc.code, exc.message
    if isinstance(exc, errors.FacelensError):
        status, code = next(v for k, v in HTTP_STATUS.items() if isinstance(exc, k))
        if status >= 500:
            log.error("%s: %s", type(exc).__name__, exc)
            return status, code, GENERIC_5XX[code]
        return status, code, scrub(str(exc))
    log.exception("unexpected error", exc_info=exc)
    return 500, "internal", GENERIC_5XX["internal"]


def install(app: FastAPI) -> None:
    """Exception handlers: every error in the one JSON shape."""

    async def on_error(_: Request, exc: Exception) -> JSONResponse:
        status, code, message = for_exception(exc)
        headers = exc.headers if isinstance(exc, ApiError) else None
        if status == 503 and not headers:
            headers = {"Retry-After": "5"}
        return response(status, code, message, headers)

    async def on_http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = HTTP_CODES.get(exc.status_code, "error")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        if exc.status_code == 400 and "parsing the body" in message:
            message = "malformed request body (multipart or JSON could not be parsed)"
        return response(exc.status_code, code, message, getattr(exc, "headers", None))

    async def on_validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        if any(e.get("type") == "json_invalid" for e in exc.errors()):
            return response(400, "bad_request", "malformed request body (JSON could not be parsed)")
        problems = [_describe(e) for e in exc.errors()[:5]]
        return response(422, "validation", "; ".join(problems) or "invalid request")

    app.add_exception_handler(ApiError, on_error)
    app.add_exception_handler(errors.FacelensError, on_error)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(Exception, on_error)


def _describe(error: dict[str, Any]) -> str:
    where = ".".join(str(p) for p in error.get("loc", ()) if p not in ("body", "query", "path"))
    return f"{where}: {error.get('msg', 'invalid')}" if where else str(error.get("msg", "invalid"))
