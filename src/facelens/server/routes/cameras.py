"""Cameras: state, start/stop, the latest frame, an annotated MJPEG stream, pushed frames."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends, File, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response, StreamingResponse

from ...errors import ConflictError
from ..auth import DEVICE, OPERATE, VIEW, ApiKey, allow, caller
from ..errors import ApiError
from ..state import ServerState
from .common import image_bytes, record, server

router = APIRouter(tags=["cameras"])
BOUNDARY = "facelens-frame"


@router.get("/cameras", **allow(VIEW), summary="Every configured camera and its state")
def list_cameras(state: ServerState = Depends(server)) -> dict[str, Any]:
    return {"cameras": state.daemon.states()}


@router.get("/cameras/{camera_id}", **allow(VIEW), summary="One camera's state")
def get_camera(camera_id: str, state: ServerState = Depends(server)) -> dict[str, Any]:
    return state.daemon.worker(camera_id).describe()


@router.post("/cameras/{camera_id}/start", **allow(OPERATE), summary="Start a camera (no-op when running)")
def start_camera(camera_id: str, state: ServerState = Depends(server), key: ApiKey = Depends(caller)) -> dict[str, Any]:
    worker = state.daemon.worker(camera_id)
    worker.start()
    record(state, key, "camera.start", None, camera=camera_id)
    return worker.describe()


@router.post("/cameras/{camera_id}/stop", **allow(OPERATE), summary="Stop a camera")
def stop_camera(camera_id: str, state: ServerState = Depends(server), key: ApiKey = Depends(caller)) -> dict[str, Any]:
    worker = state.daemon.worker(camera_id)
    worker.stop()
    record(state, key, "camera.stop", None, camera=camera_id)
    return worker.describe()


@router.get("/cameras/{camera_id}/snapshot.jpg", **allow(VIEW, key_in_query=True), response_class=Response,
            summary="The latest frame (JPEG, annotated unless annotate=false)")
def snapshot(camera_id: str, annotate: bool = Query(True), state: ServerState = Depends(server)) -> Response:
    latest = state.daemon.worker(camera_id).latest()
    if latest is None:
        raise ConflictError(f"camera {camera_id!r} has delivered no frame yet")
    return Response(_jpeg(latest, annotate), media_type="image/jpeg")


@router.get("/cameras/{camera_id}/stream.mjpg", **allow(VIEW, key_in_query=True), response_class=StreamingResponse,
            summary="Annotated live view (multipart/x-mixed-replace MJPEG)")
async def stream(camera_id: str, request: Request, fps: float = Query(5.0, gt=0, le=30),
                 state: ServerState = Depends(server)) -> StreamingResponse:
    worker = state.daemon.worker(camera_id)

    async def parts():
        shown = None
        while not await request.is_disconnected():
            latest = worker.latest()
            if latest is not None and latest[0] != shown:
                shown = latest[0]
                jpeg = await run_in_threadpool(_jpeg, latest, True)
                yield (f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n".encode()
                       + jpeg + b"\r\n")
            await asyncio.sleep(1.0 / fps)

    return StreamingResponse(parts(), media_type=f"multipart/x-mixed-replace; boundary={BOUNDARY}")


@router.post("/cameras/{camera_id}/frames", status_code=202, **allow(DEVICE, body="multipart"),
             summary="A device pushes one frame to a push camera")
async def push_frame(camera_id: str, image: UploadFile = File(...),
                     state: ServerState = Depends(server)) -> dict[str, Any]:
    from ...imageio import load_image

    worker = state.daemon.worker(camera_id)
    data = await image_bytes(image)
    rgb = await state.pool.run(load_image, data, "rgb")
    if not worker.push(rgb):
        raise ApiError(503, "overloaded", f"camera {camera_id!r} is still busy with earlier frames; retry shortly",
                       {"Retry-After": "1"})
    return {"camera": camera_id, "queued": True, "frames": worker.frames}


def _jpeg(latest: tuple[int, Any, list], annotate: bool) -> bytes:
    import cv2

    from ...draw import RED, draw_faces

    _, rgb, faces = latest
    if annotate and faces:
        labels = [_caption(f.attributes) for f in faces]
        colours = [RED if f.attributes.get("identity") else (160, 160, 160) for f in faces]
        rgb = draw_faces(rgb, faces, labels, colours)
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 80])
    if not ok:
        raise ConflictError("the latest frame could not be encoded")
    return data.tobytes()


def _caption(attributes: dict[str, Any]) -> str:
    track = f"#{attributes.get('track_id', '?')}"
    if attributes.get("identity"):
        similarity = attributes.get("similarity")
        return f"{track} {attributes['identity']}" + (f" {similarity:.2f}" if similarity is not None else "")
    return f"{track} {attributes.get('identity_state') or ''}".strip()
