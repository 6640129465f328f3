"""Subjects (gallery identities) and their faces (templates); export and erasure."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, File, Form, Query, UploadFile
from pydantic import BaseModel, ConfigDict

from ...usecases.inputs import build_consent, parse_face_choice
from ..auth import OPERATE, VIEW, ApiKey, allow, caller
from ..privacy import erase_person, export_person
from ..state import ServerState
from .common import image_bytes, parse_json_field, record, server

router = APIRouter(tags=["subjects"])
FORCE_HELP = ("enrol even when the photos disagree or match another subject (operator role; audited as "
              "enrol.forced with the key's name)")


class ConsentPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    by: str | None = None
    at: str | None = None
    purpose: str | None = None
    expires: str | None = None


class SubjectPatch(BaseModel):
    """Metadata keys are merged into the stored ones (``replace_metadata``: replaced whole)."""

    model_config = ConfigDict(extra="forbid")
    metadata: dict[str, Any] | None = None
    replace_metadata: bool = False
    consent: ConsentPatch | None = None


@router.get("/subjects", **allow(VIEW), summary="List subjects")
def list_subjects(state: ServerState = Depends(server), limit: int = Query(1000, ge=1, le=100_000),
                  offset: int = Query(0, ge=0)) -> dict[str, Any]:
    people = state.gallery.list()
    return {"identities": people[offset:offset + limit], "total": len(people), "limit": limit, "offset": offset}


@router.post("/subjects", status_code=201, **allow(OPERATE, body="multipart"), summary="Enrol a subject")
async def create_subject(name: str = Form(...), images: list[UploadFile] = File(...),
                         metadata: str | None = Form(None, description="a JSON object"),
                         consent_by: str | None = Form(None), consent_purpose: str | None = Form(None),
                         consent_expires: str | None = Form(None), face: str = Form("only"),
                         keep_images: bool = Form(False), force: bool = Form(False, description=FORCE_HELP),
                         state: ServerState = Depends(server), key: ApiKey = Depends(caller)) -> dict[str, Any]:
    """One identity from one or more photos (one face each); 409 if the name exists, if the photos
    do not all show one person, or if the face is already enrolled under another name (the error
    names the photo; ``force`` overrides, audited with the key's name)."""
    datas = [await image_bytes(image, f"images[{i}]") for i, image in enumerate(images)]
    meta = parse_json_field(metadata, "metadata")
    consent = build_consent(consent_by, None, consent_purpose, consent_expires, expires_name="consent_expires")
    labels = [f"images[{i}]" for i in range(len(images))]
    return await state.pool.run(_enrol, state, key, name, datas, meta, consent, parse_face_choice(face), keep_images,
                                add=False, force=force, labels=labels)


@router.get("/subjects/{name}", **allow(VIEW), summary="One subject (metadata, consent, templates)")
def get_subject(name: str, state: ServerState = Depends(server)) -> dict[str, Any]:
    return state.gallery.show(name)


@router.patch("/subjects/{name}", **allow(OPERATE, body="json"), summary="Change metadata or consent")
def patch_subject(name: str, patch: SubjectPatch, state: ServerState = Depends(server),
                  key: ApiKey = Depends(caller)) -> dict[str, Any]:
    consent = None
    if patch.consent is not None:
        c = patch.consent
        consent = build_consent(c.by, c.at, c.purpose, c.expires, at_name="consent.at", expires_name="consent.expires")
    return state.gallery.update(name, metadata=patch.metadata, consent=consent,
                           replace_metadata=patch.replace_metadata, by=key.name)


@router.delete("/subjects/{name}", **allow(OPERATE), summary="Delete a subject from the gallery")
def delete_subject(name: str, state: ServerState = Depends(server), key: ApiKey = Depends(caller)) -> dict[str, Any]:
    return state.gallery.delete(name, reason=f"deleted via the API (key {key.name})")


@router.post("/subjects/{name}/faces", status_code=201, **allow(OPERATE, body="multipart"),
             summary="Add a face (template) to a subject")
async def add_face(name: str, image: UploadFile = File(...), face: str = Form("only"), keep_images: bool = Form(False),
                   force: bool = Form(False, description=FORCE_HELP), state: ServerState = Depends(server),
                   key: ApiKey = Depends(caller)) -> dict[str, Any]:
    """409 when the face does not match the subject's templates or matches another subject."""
    data = await image_bytes(image)
    return await state.pool.run(_enrol, state, key, name, [data], None, None, parse_face_choice(face), keep_images,
                                add=True, force=force, labels=["image"])


@router.get("/subjects/{name}/faces", **allow(VIEW), summary="A subject's faces (templates, no embeddings)")
def list_faces(name: str, state: ServerState = Depends(server)) -> dict[str, Any]:
    return {"name": name, "faces": state.gallery.show(name)["templates"]}


@router.delete("/faces/{face_id}", **allow(OPERATE), summary="Delete one face (template)")
def delete_face(face_id: int, state: ServerState = Depends(server), key: ApiKey = Depends(caller)) -> dict[str, Any]:
    name, model = state.gallery.template_owner(face_id)
    removed = state.gallery.remove_templates({model: [face_id]}, f"face of {name} deleted via the API (key {key.name})")
    return {"id": face_id, "name": name, "removed": removed}


@router.get("/subjects/{name}/export", **allow(OPERATE), summary="Everything stored about a subject")
def export_subject(name: str, state: ServerState = Depends(server), key: ApiKey = Depends(caller)) -> dict[str, Any]:
    data = export_person(state, name)
    record(state, key, "export", name)
    return data


@router.post("/subjects/{name}/erase", **allow(OPERATE), summary="Erase a subject everywhere (GDPR)")
def erase_subject(name: str, state: ServerState = Depends(server), key: ApiKey = Depends(caller)) -> dict[str, Any]:
    return erase_person(state, name, by=key.name)


@router.get("/subjects/{name}/negatives", **allow(VIEW), summary="Negative templates learnt from reviews")
def list_negatives(name: str, state: ServerState = Depends(server)) -> dict[str, Any]:
    return {"name": name, "negatives": [n.to_dict() for n in state.negatives.list(name)]}


def _enrol(state: ServerState, key: ApiKey, name: str, images: list[bytes], metadata: dict | None, consent: Any,
           face: Any, keep_images: bool, *, add: bool, force: bool, labels: list[str]) -> dict[str, Any]:
    from ...usecases.enrolment import enrol

    result = enrol(state.gallery, name, images, model=state.settings.server.model, face=face, metadata=metadata,
                   consent=consent, keep_images=keep_images, add=add, force=force, by=f"api key {key.name}",
                   labels=labels)
    forced = {"forced": True} if result.get("overridden") else {}
    record(state, key, "enrol.add" if add else "enrol", name, templates=result["templates"], **forced)
    return result
