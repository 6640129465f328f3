"""Subjects (gallery identities) and their faces (templates); export and erasure."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, File, Form, Query, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict

from ...errors import BadInputError, NotFoundError
from ...usecases.inputs import build_consent, parse_face_choice
from ..auth import OPERATE, VIEW, ApiKey, allow, caller
from ..errors import ApiError
from ..privacy import erase_person, export_person
from ..state import ServerState
from .common import image_bytes, jpeg_response, label, parse_json_field, server

router = APIRouter(tags=["subjects"])
KEEP_HELP = ("keep the face crop (sealed) for thumbnails; default: the server's keep_face_images setting "
             "(refused when that is false)")
STRICT_HELP = ("refuse a photo whose face is blurred, turned, tilted, badly lit or too small (422 poor_quality "
               "with the reasons); default: accept it and record the problems with the template")
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


@router.get("/subjects", **allow(VIEW), summary="List subjects (search by name, pages)")
def list_subjects(q: str | None = Query(None, max_length=200, description="names containing this, any case"),
                  limit: int = Query(1000, ge=1, le=100_000), offset: int = Query(0, ge=0),
                  state: ServerState = Depends(server)) -> dict[str, Any]:
    """Sorted by name; ``total`` counts the subjects that match ``q`` (all without it)."""
    people, total = state.gallery.list_page(q or None, limit, offset)
    return {"identities": people, "total": total, "limit": limit, "offset": offset}


@router.post("/subjects", status_code=201, **allow(OPERATE, body="multipart"), summary="Enrol a subject")
async def create_subject(name: str = Form(...), images: list[UploadFile] = File(...),
                         metadata: str | None = Form(None, description="a JSON object"),
                         consent_by: str | None = Form(None), consent_purpose: str | None = Form(None),
                         consent_expires: str | None = Form(None), face: str = Form("only"),
                         keep_images: bool | None = Form(None, description=KEEP_HELP),
                         strict: bool = Form(False, description=STRICT_HELP),
                         force: bool = Form(False, description=FORCE_HELP),
                         state: ServerState = Depends(server), key: ApiKey = Depends(caller)) -> dict[str, Any]:
    """One identity from one or more photos (one face each); 409 if the name exists, if the photos
    do not all show one person, or if the face is already enrolled under another name (the error
    names the photo; ``force`` overrides, audited with the key's name)."""
    datas = [await image_bytes(image, f"images[{i}]") for i, image in enumerate(images)]
    meta = parse_json_field(metadata, "metadata")
    consent = build_consent(consent_by, None, consent_purpose, consent_expires, expires_name="consent_expires")
    return await state.pool.run(_enrol, state, key, name, datas, meta, consent, parse_face_choice(face),
                                _keep_images(state, keep_images), add=False, force=force, strict=strict,
                                labels=[f"images[{i}]" for i in range(len(images))], files=_file_names(images))


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
async def add_face(name: str, image: UploadFile = File(...), face: str = Form("only"),
                   keep_images: bool | None = Form(None, description=KEEP_HELP),
                   strict: bool = Form(False, description=STRICT_HELP),
                   force: bool = Form(False, description=FORCE_HELP), state: ServerState = Depends(server),
                   key: ApiKey = Depends(caller)) -> dict[str, Any]:
    """409 when the face does not match the subject's templates or matches another subject."""
    data = await image_bytes(image)
    return await state.pool.run(_enrol, state, key, name, [data], None, None, parse_face_choice(face),
                                _keep_images(state, keep_images), add=True, force=force, strict=strict,
                                labels=["image"], files=_file_names([image]))


@router.get("/subjects/{name}/faces", **allow(VIEW), summary="A subject's faces (templates, no embeddings)")
def list_faces(name: str, state: ServerState = Depends(server)) -> dict[str, Any]:
    return {"name": name, "faces": state.gallery.show(name)["templates"]}


@router.get("/subjects/{name}/thumbnail.jpg", **allow(VIEW), response_class=Response,
            summary="The subject's first kept face crop (JPEG); 404 when none was kept")
def thumbnail(name: str, size: int = Query(160, ge=16, le=1024, description="longest side, pixels"),
              state: ServerState = Depends(server)) -> Response:
    kept = next((t["id"] for t in state.gallery.show(name)["templates"] if t["has_image"]), None)
    if kept is None:
        raise NotFoundError(f"no face image is kept for {name!r} (enrolled without keep_images)")
    return jpeg_response(state.gallery.face_image(kept)[1], size)


@router.get("/faces/{face_id}/image.jpg", **allow(VIEW), response_class=Response,
            summary="One face's kept crop (JPEG); 404 when none was kept")
def face_image(face_id: int, size: int | None = Query(None, ge=16, le=4096, description="longest side, pixels"),
               state: ServerState = Depends(server)) -> Response:
    name, png = state.gallery.face_image(face_id)
    if png is None:
        raise NotFoundError(f"no image is kept for face {face_id} of {name!r} (enrolled without keep_images)")
    return jpeg_response(png, size)


@router.delete("/faces/{face_id}", **allow(OPERATE), summary="Delete one face (template)")
def delete_face(face_id: int, state: ServerState = Depends(server), key: ApiKey = Depends(caller)) -> dict[str, Any]:
    name, model = state.gallery.template_owner(face_id)
    removed = state.gallery.remove_templates({model: [face_id]}, f"face of {name} deleted via the API (key {key.name})")
    return {"id": face_id, "name": name, "removed": removed}


@router.get("/subjects/{name}/export", **allow(OPERATE), summary="Everything stored about a subject")
def export_subject(name: str, state: ServerState = Depends(server), key: ApiKey = Depends(caller)) -> dict[str, Any]:
    return export_person(state, name)  # the gallery's export entry names the key (routes/common.py)


@router.post("/subjects/{name}/erase", **allow(OPERATE), summary="Erase a subject everywhere (GDPR)")
def erase_subject(name: str, state: ServerState = Depends(server), key: ApiKey = Depends(caller)) -> dict[str, Any]:
    return erase_person(state, name, by=key.name)


@router.get("/subjects/{name}/negatives", **allow(VIEW), summary="Negative templates learnt from reviews")
def list_negatives(name: str, state: ServerState = Depends(server)) -> dict[str, Any]:
    return {"name": name, "negatives": [n.to_dict() for n in state.negatives.list(name)]}


def _enrol(state: ServerState, key: ApiKey, name: str, images: list[bytes], metadata: dict | None, consent: Any,
           face: Any, keep_images: bool, *, add: bool, force: bool, strict: bool, labels: list[str],
           files: list[str]) -> dict[str, Any]:
    from ...usecases.enrolment import enrol

    detector = state.settings.server.detector
    if strict:
        refuse_poor_quality(images, [f"{where} ({file})" if file else where for where, file in zip(labels, files)],
                            face, detector)
    result = enrol(state.gallery, name, images, model=state.settings.server.model, face=face, metadata=metadata,
                   consent=consent, keep_images=keep_images, add=add, force=force, by=f"api key {key.name}",
                   labels=labels, detector=detector)
    return result  # audited by the gallery (enrol / enrol.add, enrol.forced) with the key as actor


def _keep_images(state: ServerState, asked: bool | None) -> bool:
    """The request's keep_images, or the server's keep_face_images; never more than the server allows."""
    allowed = state.settings.server.keep_face_images
    if asked and not allowed:
        raise BadInputError("this server does not keep face images (keep_face_images = false in its configuration)")
    return allowed if asked is None else asked


def _file_names(uploads: list[UploadFile]) -> list[str]:
    """The file names the client gave (a strict refusal names the photo by its field and file)."""
    return [label(u, "") for u in uploads]


def refuse_poor_quality(images: list[bytes], labels: list[str], face: Any, detector: str) -> None:
    """``strict``: the face enrolment would take from each photo must have no quality problem
    (``Quality.problems()``: blurred, turned, tilted, badly lit, too small); otherwise 422
    ``poor_quality`` naming the photo and the reasons, before anything is embedded or stored.
    The detection is the one enrolment runs next, so its verdict is the quality it would store."""
    from ...pipeline import choose_faces
    from ...usecases.faces import detect

    refused = []
    for data, name in zip(images, labels):
        found = detect(data, detector=detector, label=name)
        for chosen in choose_faces(found.faces, face, name):
            problems = chosen.quality.problems() if chosen.quality is not None else []
            if problems:
                refused.append(f"{name}: {'; '.join(problems)}")
    if refused:
        raise ApiError(422, "poor_quality", "photo refused (strict quality): " + " | ".join(refused))
