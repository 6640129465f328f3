"""Stateless recognition on uploaded images: detect, embed, verify, identify, analyze."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, File, Form, UploadFile

from ...errors import BadInputError
from ...models.registry import is_path
from ...usecases.inputs import parse_face_choice
from ..auth import VIEW, allow
from ..state import ServerState
from .common import image_bytes, label, server

router = APIRouter(tags=["recognition"])


@router.post("/detect", **allow(VIEW, body="multipart"), summary="Faces in an image")
async def detect(image: UploadFile = File(...), detector: str | None = Form(None),
                 tile_size: str | None = Form(None, description="small faces: a tile side in pixels, or 'auto' "
                                                                 "(tiles only on frames of ≥ 768 px)"),
                 state: ServerState = Depends(server)) -> dict[str, Any]:
    from ...usecases.faces import detect as run

    data = await image_bytes(image)
    chosen = detector or state.settings.server.detector
    return (await state.pool.run(run, data, detector=chosen, label=label(image), tile_size=tile_size)).to_dict()


@router.post("/embed", **allow(VIEW, body="multipart"), summary="Embeddings of the faces in an image")
async def embed(image: UploadFile = File(...), face: str = Form("all"),
                state: ServerState = Depends(server)) -> dict[str, Any]:
    from ...usecases.faces import embed as run

    data = await image_bytes(image)
    result = await state.pool.run(run, data, model=state.settings.server.model, face=parse_face_choice(face),
                                  detector=state.settings.server.detector, label=label(image))
    return result.to_dict()


@router.post("/verify", **allow(VIEW, body="multipart"), summary="Are two images the same person?")
async def verify(a: UploadFile = File(...), b: UploadFile = File(...), face: str = Form("largest"),
                 state: ServerState = Depends(server)) -> dict[str, Any]:
    from ...usecases.faces import verify as run

    first, second = await image_bytes(a, "a"), await image_bytes(b, "b")
    result = await state.pool.run(run, first, second, model=state.settings.server.model, face=parse_face_choice(face),
                                  labels=(label(a, "a"), label(b, "b")))
    return result.to_dict()


@router.post("/identify", **allow(VIEW, body="multipart"), summary="Who is in an image (1:N, open-set)")
async def identify(image: UploadFile = File(...), top_k: int = Form(5, ge=1, le=100),
                   state: ServerState = Depends(server)) -> dict[str, Any]:
    """Every face: the top-k candidates with their similarity and the open-set decision
    (``identity`` null = unknown at the calibrated threshold)."""
    from ...usecases.identification import identify as run

    data = await image_bytes(image)
    result = await state.pool.run(run, state.gallery, data, top_k=top_k, model=state.settings.server.model)
    return {"image": label(image), **result.to_dict()}


@router.post("/analyze", **allow(VIEW, body="multipart"), summary="Emotion, gender, age of each face")
async def analyze(image: UploadFile = File(...), actions: str = Form("emotion,gender,age"),
                  emotion_model: str | None = Form(None), gender_model: str | None = Form(None),
                  state: ServerState = Depends(server)) -> dict[str, Any]:
    from ...usecases.analysis import analyze_image

    models = {"emotion_model": emotion_model, "gender_model": gender_model}
    for option, ref in models.items():
        if ref is not None and is_path(ref):  # a remote caller names models; it never loads a path
            raise BadInputError(f"{option}: give a model name (see GET /health), not a path")
    data = await image_bytes(image)
    result = await state.pool.run(analyze_image, data, actions, label=label(image),
                                  detector=state.settings.server.detector,
                                  **{k: v for k, v in models.items() if v is not None})
    return result.to_dict()
