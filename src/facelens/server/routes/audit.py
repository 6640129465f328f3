"""The hash-chained audit log: read it, verify it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query

from ..auth import OPERATE, VIEW, allow
from ..state import ServerState
from .common import server

router = APIRouter(tags=["audit"])


@router.get("/audit", **allow(OPERATE), summary="Audit entries, newest first")
def entries(subject: str | None = None, event: str | None = None, limit: int = Query(100, ge=1, le=10_000),
            offset: int = Query(0, ge=0), state: ServerState = Depends(server)) -> dict[str, Any]:
    found = state.gallery.audit.entries(subject=subject, event=event)
    page = [e.to_dict() for e in reversed(found)][offset:offset + limit]
    return {"entries": page, "total": len(found), "limit": limit, "offset": offset}


@router.post("/audit/verify", **allow(VIEW), summary="Check the chain (edited, inserted, removed entries)")
def verify(state: ServerState = Depends(server)) -> dict[str, Any]:
    return state.gallery.audit.verify().to_dict()
