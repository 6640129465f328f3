"""What every route module needs: the server state, the caller, uploads, audit entries.

Audit: ``server`` (every route's first dependency) makes the request's API key the audit actor
(``gallery.audit.acting_as``), so every entry the library writes for the request — enrol,
delete, export, review, key.create … — names the key in its own transaction. ``record`` is only
for a mutation the library does not audit itself (starting a camera): one entry of its own."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request, UploadFile
from fastapi.responses import Response

from ...errors import BadInputError, FacelensError
from ...gallery.audit import set_actor
from ..errors import ApiError
from ..state import ServerState

IMAGE_TYPES = ("image/", "application/octet-stream")


async def server(request: Request) -> ServerState:
    """The server state; also sets the request's audit actor. Async on purpose: it runs in the
    request's own task, whose context the endpoint (thread pool, WorkPool) then inherits."""
    key = getattr(request.state, "api_key", None)
    set_actor({"key": key.name, "role": key.role} if key is not None else None)
    return request.app.state.server


async def image_bytes(upload: UploadFile, what: str = "image") -> bytes:
    """The bytes of an uploaded image part (the body size was bounded by the middleware)."""
    declared = (upload.content_type or "").lower()
    if declared and not declared.startswith(IMAGE_TYPES):
        raise ApiError(415, "unsupported_media_type", f"{what}: an image is expected, not {declared}")
    data = await upload.read()
    if not data:
        raise BadInputError(f"{what} ({upload.filename or 'upload'}): empty (0 bytes)")
    return data


def label(upload: UploadFile, what: str = "image") -> str:
    """What results and messages call an upload: its file name as the client gave it."""
    return (upload.filename or what).replace("/", "_")[-200:]


def parse_json_field(text: str | None, what: str) -> dict[str, Any]:
    """A form field holding a JSON object (multipart cannot nest)."""
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadInputError(f"{what} is not valid JSON ({exc.msg})") from None
    if not isinstance(value, dict):
        raise BadInputError(f"{what} must be a JSON object")
    return value


def jpeg_response(image: bytes, max_side: int | None = None) -> Response:
    """A stored image (PNG or JPEG bytes) as a JPEG response, at most ``max_side`` pixels on its
    longest side. Face images are personal data: the browser is told not to keep them."""
    import cv2
    import numpy as np

    headers = {"Cache-Control": "no-store"}
    if max_side is None and image[:3] == b"\xff\xd8\xff":  # a JPEG already (alert snapshots): as it is
        return Response(image, media_type="image/jpeg", headers=headers)
    pixels = cv2.imdecode(np.frombuffer(image, np.uint8), cv2.IMREAD_COLOR)
    if pixels is None:
        raise FacelensError("a stored face image cannot be decoded")  # 500: ours, not the caller's
    longest = max(pixels.shape[:2])
    if max_side is not None and longest > max_side:
        scale = max_side / longest
        pixels = cv2.resize(pixels, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    ok, data = cv2.imencode(".jpg", pixels, [cv2.IMWRITE_JPEG_QUALITY, 88])
    if not ok:
        raise FacelensError("a stored face image cannot be encoded as JPEG")
    return Response(data.tobytes(), media_type="image/jpeg", headers=headers)


def record(state: ServerState, key: Any, event: str, subject: str | None, **details: Any) -> None:
    """The audit entry of a mutating call that has no library entry (one transaction of its own),
    with the key's name and role as ``actor`` like every entry written for a request."""
    state.gallery.audit.append(event, subject, {**details, "actor": {"key": key.name, "role": key.role}})
