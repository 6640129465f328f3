"""Access control for door devices: a challenge, a check on the filmed frames, door events."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, File, Form, Query, UploadFile
from pydantic import BaseModel, ConfigDict, Field

from ..auth import DEVICE, VIEW, allow
from ..state import ServerState
from .common import image_bytes, server

router = APIRouter(tags=["access"])
MAX_FRAMES = 200


class ChallengeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    door: str = Field("default", min_length=1, max_length=100)


@router.post("/access/challenge", **allow(DEVICE, body="json"), summary="Draw the liveness challenge to show")
def challenge(body: ChallengeRequest, state: ServerState = Depends(server)) -> dict[str, Any]:
    return state.extra["challenges"].issue(state.gallery, body.door)


@router.post("/access/check", **allow(DEVICE, body="multipart"), summary="Decide one access attempt")
async def check(frames: list[UploadFile] = File(..., description="the attempt's frames, in order"),
                door: str = Form("default"), claim: str | None = Form(None),
                challenge_id: str | None = Form(None, description="from POST /access/challenge"),
                fps: float = Form(15.0, gt=0, le=120), state: ServerState = Depends(server)) -> dict[str, Any]:
    """The decision JSON of ``facelens access check --json``. A door whose policy asks for an
    active challenge needs the ``challenge_id`` issued for it; without one the check is refused."""
    from ...errors import BadInputError

    if len(frames) > MAX_FRAMES:
        raise BadInputError(f"at most {MAX_FRAMES} frames per check, got {len(frames)}")
    datas = [await image_bytes(f, f"frames[{i}]") for i, f in enumerate(frames)]
    challenge_text = state.extra["challenges"].redeem(challenge_id, door) if challenge_id else None
    decision = await state.pool.run(_check, state, datas, door, claim or None, challenge_text, fps)
    return decision.to_dict()


def _check(state: ServerState, datas: list[bytes], door: str, claim: str | None, challenge: str | None, fps: float):
    from ...access import check, get_policy
    from ...errors import BadInputError
    from ...imageio import load_image

    if challenge is None and get_policy(state.gallery, door).requires_active:
        raise BadInputError(f"door {door!r} asks for an active liveness challenge: get one from "
                            "POST /api/v1/access/challenge and send its challenge_id")
    frames = [load_image(data, "rgb") for data in datas]
    return check(frames, claim, door, gallery=state.gallery,
                 challenge=None if challenge in (None, "none") else challenge, fps=fps,
                 detector=state.settings.server.detector)


@router.get("/access/doors", **allow(VIEW), summary="Door policies")
def doors(state: ServerState = Depends(server)) -> dict[str, Any]:
    from ...access import list_policies

    return {"doors": [p.to_dict() for p in list_policies(state.gallery)]}


@router.get("/access/events", **allow(VIEW), summary="Door events (access decisions), newest first")
def events(door: str | None = None, subject: str | None = None, granted: bool | None = None,
           limit: int = Query(100, ge=1, le=10_000), offset: int = Query(0, ge=0),
           state: ServerState = Depends(server)) -> dict[str, Any]:
    entries = state.gallery.audit.entries(subject=subject, event="access.decision")
    wanted = [e for e in reversed(entries) if (door is None or e.details.get("door") == door)
              and (granted is None or e.details.get("granted") == granted)]
    rows = [{"seq": e.seq, "at": e.at, "subject": e.subject,
             **{k: v for k, v in e.details.items() if k != "face_image"}} for e in wanted]
    return {"events": rows[offset:offset + limit], "total": len(rows), "limit": limit, "offset": offset}
