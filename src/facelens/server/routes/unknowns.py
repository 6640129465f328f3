"""Unknown faces: the faces cameras saw that matched nobody, clustered; a cluster the operator
recognises is promoted to a new person.

Cameras record them when their watchlist says ``record_unknowns = true`` (daemon.UnknownFaces);
``facelens identify --record-unknown`` records them too. Clustering is the library's
(``usecases.gallery.cluster_unknowns``), promotion too (``gallery.cluster.promote``); the server
adds what only it keeps: an unknown face pictured by its alert's snapshot keeps that picture as
its template's face image, so the new person has a photo on the dashboard.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ...errors import ConflictError, NotFoundError
from ..auth import OPERATE, VIEW, ApiKey, allow, caller
from ..state import ServerState
from .common import jpeg_response, server

router = APIRouter(tags=["unknowns"])
Method = Literal["dbscan", "agglomerative", "kmeans"]
ALERT_SOURCE = "alert:"
PICTURES_PER_CLUSTER = 6


class Clustering(BaseModel):
    """How to cluster: the same values give the same cluster numbers for the same faces."""

    model_config = ConfigDict(extra="forbid")
    method: Method = "dbscan"
    distance: float | None = Field(None, gt=0, le=2, description="cosine distance; default from the threshold")
    min_size: int = Field(2, ge=1, le=10_000)
    k: int | None = Field(None, ge=1, le=10_000, description="kmeans only: the number of clusters")


class Promotion(Clustering):
    name: str = Field(min_length=1, max_length=200)
    cluster: int | None = Field(None, ge=0, description="a cluster number from GET /unknowns/clusters (same method…)")
    unknown_ids: list[int] | None = Field(None, min_length=1, max_length=100_000)
    metadata: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _one_choice(self) -> "Promotion":
        if (self.cluster is None) == (self.unknown_ids is None):
            raise ValueError("give either cluster or unknown_ids")
        return self


@router.get("/unknowns/clusters", **allow(VIEW), summary="Clusters of the faces that matched nobody")
async def clusters(method: Method = "dbscan", distance: float | None = Query(None, gt=0, le=2),
                   min_size: int = Query(2, ge=1, le=10_000), k: int | None = Query(None, ge=1, le=10_000),
                   state: ServerState = Depends(server)) -> dict[str, Any]:
    """Largest first: ``{"cluster", "size", "unknown_ids", "cohesion", "picture_ids"}``;
    ``picture_ids``: members with a picture (GET /unknowns/{id}/image.jpg), at most six."""
    options = Clustering(method=method, distance=distance, min_size=min_size, k=k)
    return await state.pool.run(_clusters, state, options)


@router.get("/unknowns/{unknown_id}/image.jpg", **allow(VIEW), response_class=Response,
            summary="An unknown face's picture (the snapshot of the camera's unknown alert)")
def picture(unknown_id: int, state: ServerState = Depends(server)) -> Response:
    jpeg = _pictures(state, [unknown_id]).get(unknown_id)
    if jpeg is None:
        raise NotFoundError(f"no picture is kept for unknown face {unknown_id}")
    return jpeg_response(jpeg)


@router.post("/unknowns/promote", status_code=201, **allow(OPERATE, body="json"),
             summary="Enrol a cluster (or chosen unknown faces) as a new person")
async def promote(body: Promotion, state: ServerState = Depends(server),
                  key: ApiKey = Depends(caller)) -> dict[str, Any]:
    """The faces become the person's templates and leave the unknowns; audited with the key's
    name. A face pictured by its alert's snapshot keeps the picture as its face image (unless the
    server's keep_face_images is off). 409 when the name is taken; 404 when a face (or the
    cluster) no longer exists."""
    return await state.pool.run(_promote, state, key, body)


def _find(state: ServerState, options: Clustering) -> list[Any]:
    from ...usecases.gallery import cluster_unknowns

    return cluster_unknowns(state.gallery, model=state.settings.server.model, method=options.method,
                            distance=options.distance, min_size=options.min_size, k=options.k).clusters


def _clusters(state: ServerState, options: Clustering) -> dict[str, Any]:
    found = _find(state, options)
    sources = state.gallery.unknown_sources([i for c in found for i in c.unknown_ids])
    out = []
    for cluster in found:
        pictured = [i for i in cluster.unknown_ids if (sources.get(i) or "").startswith(ALERT_SOURCE)]
        out.append({**cluster.to_dict(), "picture_ids": pictured[:PICTURES_PER_CLUSTER]})
    return {"clusters": out, "model": state.settings.server.model, **options.model_dump()}


def _pictures(state: ServerState, unknown_ids: list[int]) -> dict[int, bytes]:
    """The picture (JPEG of the face with a margin: its unknown alert's snapshot) of each of
    these unknown faces that has one."""
    found = {}
    for unknown_id, source in state.gallery.unknown_sources(unknown_ids).items():
        if source and source.startswith(ALERT_SOURCE):
            jpeg = state.alerts.snapshot(source[len(ALERT_SOURCE):])
            if jpeg:
                found[unknown_id] = jpeg
    return found


def _promote(state: ServerState, key: ApiKey, body: Promotion) -> dict[str, Any]:
    from ...gallery.cluster import promote as promote_faces

    if body.name in state.gallery:  # before the clustering: a taken name is the common mistake
        raise ConflictError(f"an identity named {body.name!r} already exists")
    ids = body.unknown_ids
    if ids is None:
        found = _find(state, body)
        if body.cluster >= len(found):
            raise NotFoundError(f"no cluster {body.cluster} (found {len(found)}; cluster again?)")
        ids = found[body.cluster].unknown_ids
    pictures = _pictures(state, ids) if state.settings.server.keep_face_images else {}
    # audited by the gallery (enrol, cluster.promote) with the key as actor (routes/common.py)
    result = promote_faces(state.gallery, ids, body.name, state.settings.server.model,
                           metadata=body.metadata, images=pictures)
    return {**result, "unknown_ids": ids}
