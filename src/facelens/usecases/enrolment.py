"""Enrolment: images → faces → templates → the gallery, for one person or a folder of folders.

The gallery itself stores templates and vectors only; embedding the images (one face each,
refusing several unless told otherwise) happens here, so the CLI, the server and library callers
share one path. Nothing is written for a person unless every image of the call gave a face.

Integrity (``facelens.match.enrolment_checks``): the photos of one call must show one person —
each must match the others (and, when adding, the identity's stored templates) at the
calibrated threshold — and must not match ANOTHER enrolled identity at the open-set
identification threshold. Otherwise the enrolment is refused (``EnrolmentRefused``, a
ConflictError naming the photo); ``force=True`` enrols anyway and writes an ``enrol.forced``
audit entry with what was overridden, in the same transaction as the enrolment.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import groupby
from pathlib import Path
from typing import Any

import numpy as np

from ..constants import DEFAULT_DETECTOR, DEFAULT_MODEL, IMAGE_SUFFIXES
from ..errors import BadInputError, FacelensError
from ..gallery import Consent, EnrolRecord, Gallery, Template, check_name, model_version
from ..gallery.records import AuditItem, normalised, templates_from_vectors
from ..match.enrolment_checks import (
    EnrolmentRefused,
    Finding,
    agreement_threshold,
    disagreeing_photos,
    duplicate_of,
    duplicate_threshold,
    unit_mean,
)
from ..pipeline import FaceChoice
from ..pipeline import embed as embed_image

Photo = tuple[str, Template]
"""(label naming the photo in messages, its template)."""


def templates_from_images(images: Sequence[Any], *, model: str = DEFAULT_MODEL, face: FaceChoice = "only",
                          detector: str = DEFAULT_DETECTOR, keep_images: bool = False) -> list[Template]:
    """One Template per chosen face of each image (``face="only"`` refuses several faces)."""
    version = model_version(model)
    made = []
    for image in images:
        label = str(image) if isinstance(image, (str, Path)) else "image"
        for found in embed_image(image, model=model, detector=detector, face=face, name=label):
            detail = {"detector_score": round(found.score, 4)}
            if found.quality is not None:
                detail.update(found.quality.to_dict())
                detail["problems"] = found.quality.problems()
            made.append(Template(
                vector=found.embedding, model=found.embedding_model or model, model_version=version,
                quality=found.score, quality_detail=detail,
                source=str(image) if isinstance(image, (str, Path)) else None,
                image=_crop_png(image, found.box) if keep_images else None,
            ))
    return made


def enrol(gallery: Gallery, name: str, images: Sequence[Any] = (), *, embeddings: Any = None,
          model: str = DEFAULT_MODEL, face: FaceChoice = "only", detector: str = DEFAULT_DETECTOR,
          metadata: dict[str, Any] | None = None, consent: Consent | None = None, keep_images: bool = False,
          add: bool = False, force: bool = False, by: str | None = None,
          labels: Sequence[str] | None = None) -> dict[str, Any]:
    """Enrol ``name`` from images and/or precomputed ``embeddings`` of ``model`` (``add=True``:
    add templates to an existing identity). Returns {"name", "templates", "models"}.

    Refuses (EnrolmentRefused, exit code 9 / HTTP 409) photos that disagree or duplicate another
    identity; ``force=True`` enrols anyway, audited as ``enrol.forced`` (``by``: who forced it),
    and the result then lists what was overridden under ``"overridden"``. ``labels``: how to name
    each image in messages (default: its file name, else its position)."""
    name = check_name(name)  # before the (slow) embedding: a bad name fails at once
    if labels is not None and len(labels) != len(images):
        raise BadInputError(f"{len(labels)} labels for {len(images)} images")
    photos = photos_from_images(images, labels, model=model, face=face, detector=detector, keep_images=keep_images)
    if embeddings is not None:
        vectors = templates_from_vectors(embeddings, model)
        photos += [(f"embedding {i}" if len(vectors) > 1 else "embedding", t) for i, t in enumerate(vectors, 1)]
    if not photos:
        raise BadInputError(f"nothing to enrol for {name!r}: give images or embeddings")
    # an existing name without add: the gallery refuses it as such, whatever the photos show
    findings = integrity_findings(gallery, name, photos, add=add) if add or name not in gallery else []
    if findings and not force:
        raise EnrolmentRefused(name, findings)
    record = EnrolRecord(name, [t for _, t in photos], dict(metadata or {}), consent)
    result = gallery.enrol_records([record], add=add, also_audit=_forced_entries(name, findings, by))[0]
    if findings:
        result["overridden"] = [f.to_dict() for f in findings]
    return result


def photos_from_images(images: Sequence[Any], labels: Sequence[str] | None = None, *, start: int = 1,
                       **options: Any) -> list[Photo]:
    """(label, template) for each image's chosen face(s), numbered from ``start``; ``labels``: a
    name for each image (default: its file name); ``options``: templates_from_images's."""
    photos: list[Photo] = []
    for position, image in enumerate(images, start):
        label = photo_label(image, position, labels[position - start] if labels is not None else None)
        templates = templates_from_images([image], **options)
        if len(templates) > 1:  # face="all": several faces of one image, each named
            photos += [(f"{label} face {i}", t) for i, t in enumerate(templates, 1)]
        else:
            photos += [(label, t) for t in templates]
    return photos


def photo_label(image: Any, position: int, given: str | None = None) -> str:
    """``photo 2 (biden.jpg)``: the position, and the file name (or the label given) when known."""
    known = given or (Path(image).name if isinstance(image, (str, Path)) else None)
    return f"photo {position} ({known})" if known else f"photo {position}"


def integrity_findings(gallery: Gallery, name: str, photos: Sequence[Photo], *, add: bool) -> list[Finding]:
    """What would refuse this enrolment: disagreeing photos first; duplicates are looked for only
    among photos that agree (one disagreeing stranger's face is the agreement check's finding)."""
    findings: list[Finding] = []
    for model, group in groupby(sorted(photos, key=lambda p: p[1].model), key=lambda p: p[1].model):
        labels, templates = zip(*group)
        vectors = _same_size([normalised(t.vector, label) for label, t in zip(labels, templates)], model)
        stored = _same_size([t.vector for t in gallery.templates_of(name, model)], model, vectors) if add else None
        threshold = agreement_threshold(model)
        agreement = disagreeing_photos(vectors, labels, threshold, stored, name) if threshold else []
        findings += agreement or _duplicates(gallery, name, vectors, list(labels), model)
    return findings


def _same_size(rows: list[np.ndarray], model: str, like: np.ndarray | None = None) -> np.ndarray | None:
    """The rows as one matrix (None when there are none); BadInputError when sizes differ."""
    sizes = {row.size for row in rows} | ({like.shape[1]} if like is not None else set())
    if len(sizes) > 1:
        raise BadInputError(f"{model} embeddings of different sizes ({', '.join(map(str, sorted(sizes)))} values): "
                            "different models?")
    return np.stack(rows) if rows else None


def _duplicates(gallery: Gallery, name: str, vectors: np.ndarray, labels: list[str], model: str) -> list[Finding]:
    if len(gallery) == 0:  # nothing to duplicate (and no search index worth building yet)
        return []
    threshold = duplicate_threshold(model, gallery.scoring)
    if threshold is None:
        return []
    probes = [unit_mean(vectors), *vectors] if len(vectors) > 1 else list(vectors)
    found = gallery.search(probes, model, top_k=3, scoring=gallery.scoring, threshold=threshold[0])
    return duplicate_of(name, found[0], found[-len(vectors):], labels, threshold)


def _forced_entries(name: str, findings: Sequence[Finding], by: str | None) -> list[AuditItem]:
    if not findings:
        return []
    return [("enrol.forced", name, {"by": by, "overridden": [f.to_dict() for f in findings]})]


def person_folders(root: Path) -> list[Path]:
    """The sub-folders of ``root`` (one per person, folder name = identity), sorted."""
    root = Path(root)
    if not root.is_dir():
        raise BadInputError(f"{root} is not a folder")
    people = sorted(p for p in root.iterdir() if p.is_dir())
    if not people:
        raise BadInputError(f"{root} holds no sub-folders (one per person expected)")
    return people


def images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def enrol_folders(gallery: Gallery, root: Path, *, model: str = DEFAULT_MODEL, face: FaceChoice = "only",
                  metadata: dict[str, Any] | None = None, consent: Consent | None = None,
                  keep_images: bool = False, force: bool = False, by: str | None = None,
                  on_person: Callable[[str], None] | None = None) -> dict[str, list]:
    """Bulk enrolment from ``root/<name>/*.jpg``; resumable: names already enrolled are skipped.

    An image that gives no usable face is listed under ``image_errors`` and the person is enrolled
    from the others. A folder whose photos disagree, or that duplicates an enrolled identity
    (one enrolled earlier in this run included), is listed under ``refused`` and not enrolled —
    unless ``force``, then it is enrolled, listed under ``forced`` and audited as
    ``enrol.forced``. ``on_person(name)`` is called after each folder (progress display)."""
    summary: dict[str, list] = {"enrolled": [], "skipped_existing": [], "no_usable_image": [], "image_errors": [],
                                "refused": [], "forced": []}
    for person in person_folders(root):
        if person.name in gallery:
            summary["skipped_existing"].append(person.name)
        else:
            photos: list[Photo] = []
            for position, image in enumerate(images_in(person), 1):
                try:
                    photos += photos_from_images([image], start=position, model=model, face=face,
                                                 keep_images=keep_images)
                except FacelensError as exc:
                    summary["image_errors"].append({"image": str(image), "error": str(exc)})
            if photos:
                _enrol_folder(gallery, person.name, photos, metadata, consent, force, by, summary)
            else:
                summary["no_usable_image"].append(person.name)
        if on_person is not None:
            on_person(person.name)
    return summary


def _enrol_folder(gallery: Gallery, name: str, photos: list[Photo], metadata: dict[str, Any] | None,
                  consent: Consent | None, force: bool, by: str | None, summary: dict[str, list]) -> None:
    findings = integrity_findings(gallery, name, photos, add=False)
    if findings and not force:
        summary["refused"].append({"name": name, "error": str(EnrolmentRefused(name, findings)),
                                   "findings": [f.to_dict() for f in findings]})
        return
    record = EnrolRecord(name, [t for _, t in photos], dict(metadata or {}), consent)
    gallery.enrol_records([record], also_audit=_forced_entries(name, findings, by))
    summary["enrolled"].append(name)
    if findings:
        summary["forced"].append({"name": name, "overridden": [f.to_dict() for f in findings]})


def _crop_png(image: Any, box: tuple[float, float, float, float]) -> bytes | None:
    """PNG of the face box (kept, encrypted, only when enrolment asks for images)."""
    import cv2

    from ..imageio import load_image

    rgb = load_image(image)
    x1, y1, x2, y2 = (int(round(v)) for v in box)
    crop = rgb[max(y1, 0):max(y2, 0), max(x1, 0):max(x2, 0)]
    if crop.size == 0:
        return None
    ok, buf = cv2.imencode(".png", cv2.cvtColor(crop, cv2.COLOR_RGB2BGR))
    return buf.tobytes() if ok else None
