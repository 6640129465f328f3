"""Alerts: list and filter, one alert with its snapshot, review (feedback), live stream (SSE)."""

from __future__ import annotations

import base64
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from sse_starlette.sse import EventSourceResponse

from ...errors import NotFoundError
from ...usecases.inputs import parse_naive_utc
from ..auth import OPERATE, VIEW, ApiKey, allow, caller
from ..review import review_alert
from ..state import ServerState
from ..store import STATUSES, AlertQuery
from .common import server

router = APIRouter(tags=["alerts"])
EVENT_KINDS = {"alert", "review", "camera"}


class Review(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal["confirmed", "wrong_person", "dismissed"]
    note: str | None = Field(None, max_length=2000)


@router.get("/alerts", **allow(VIEW), summary="Alerts, newest first (filters, pages)")
def list_alerts(camera: str | None = None, identity: str | None = None,
                status: Literal[STATUSES] | None = None,  # type: ignore[valid-type]
                kind: Literal["match", "unknown"] | None = None,
                since: str | None = Query(None, description="ISO time (UTC)"),
                until: str | None = Query(None, description="ISO time (UTC)"),
                limit: int = Query(50, ge=1, le=1000), offset: int = Query(0, ge=0),
                state: ServerState = Depends(server)) -> dict[str, Any]:
    query = AlertQuery(camera, identity, status, kind, parse_naive_utc(since, "since"), parse_naive_utc(until, "until"),
                       limit, offset)
    alerts, total = state.alerts.query(query)
    return {"alerts": alerts, "total": total, "limit": limit, "offset": offset}


@router.get("/alerts/stream", **allow(VIEW, key_in_query=True), response_class=EventSourceResponse,
            summary="Live events (Server-Sent Events: alert, review, camera)")
async def stream(kinds: str = Query("alert,review,camera", description="comma-separated event kinds"),
                 state: ServerState = Depends(server)) -> EventSourceResponse:
    wanted = {k.strip() for k in kinds.split(",") if k.strip()} & EVENT_KINDS
    return EventSourceResponse(state.sse.stream(wanted or None), ping=15)


@router.get("/alerts/{alert_id}", **allow(VIEW), summary="One alert, its snapshot inline (base64 JPEG)")
def get_alert(alert_id: str, state: ServerState = Depends(server)) -> dict[str, Any]:
    alert = state.alerts.get(alert_id)
    jpeg = state.alerts.snapshot(alert_id)
    alert["snapshot"] = {"mime": "image/jpeg", "base64": base64.b64encode(jpeg).decode()} if jpeg else None
    return alert


@router.get("/alerts/{alert_id}/snapshot.jpg", **allow(VIEW, key_in_query=True), response_class=Response,
            summary="An alert's snapshot (JPEG)")
def get_snapshot(alert_id: str, state: ServerState = Depends(server)) -> Response:
    jpeg = state.alerts.snapshot(alert_id)
    if jpeg is None:
        raise NotFoundError(f"alert {alert_id!r} has no snapshot")
    return Response(jpeg, media_type="image/jpeg")


@router.post("/alerts/{alert_id}/review", **allow(OPERATE, body="json"), summary="Review an alert")
def review(alert_id: str, body: Review, state: ServerState = Depends(server),
           key: ApiKey = Depends(caller)) -> dict[str, Any]:
    """``wrong_person`` stores the stranger as a negative template of the identity, so the same
    face stops matching it (reverted by DELETE on this path)."""
    return review_alert(state, alert_id, body.status, by=key.name, note=body.note)


@router.delete("/alerts/{alert_id}/review", **allow(OPERATE), summary="Revert a review")
def revert_review(alert_id: str, state: ServerState = Depends(server), key: ApiKey = Depends(caller)) -> dict[str, Any]:
    return review_alert(state, alert_id, "new", by=key.name)
