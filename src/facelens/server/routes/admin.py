"""Administration: API keys and the running settings (admin role only); who the caller is (any key)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict

from ..auth import ADMIN, ANYONE, ROLES, ApiKey, allow, caller
from ..state import ServerState
from .common import server

router = APIRouter(tags=["admin"])


class NewKey(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    role: str


@router.get("/me", **allow(ANYONE), summary="The calling key's name and role")
def me(key: ApiKey = Depends(caller)) -> dict[str, str]:
    """What a client (the dashboard's log-in) needs to know about its key: whose it is and what
    it may do (the roles table in docs/service.md)."""
    return {"name": key.name, "role": key.role}


@router.get("/keys", **allow(ADMIN), summary="API keys (never the keys themselves)")
def list_keys(state: ServerState = Depends(server)) -> dict[str, Any]:
    return {"keys": state.keys.list(), "roles": list(ROLES)}


@router.post("/keys", status_code=201, **allow(ADMIN, body="json"), summary="Create a key (shown once)")
def create_key(body: NewKey, state: ServerState = Depends(server), key: ApiKey = Depends(caller)) -> dict[str, str]:
    return state.keys.create(body.name, body.role, by=key.name)


@router.delete("/keys/{name}", **allow(ADMIN), summary="Revoke a key")
def revoke_key(name: str, state: ServerState = Depends(server), key: ApiKey = Depends(caller)) -> dict[str, Any]:
    return state.keys.revoke(name, by=key.name)


@router.get("/settings", **allow(ADMIN), summary="The running configuration (secrets hidden)")
def settings(state: ServerState = Depends(server)) -> dict[str, Any]:
    return state.settings.public()
