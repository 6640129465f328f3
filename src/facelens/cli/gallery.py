"""`facelens gallery …` and `facelens audit verify`: parse, call facelens.gallery, print."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Optional

import typer

from .common import note as _note
from .common import parse_face_choice

gallery_app = typer.Typer(help="Enrol people and identify them (persistent encrypted gallery).", no_args_is_help=True)
audit_app = typer.Typer(help="The gallery's hash-chained audit log.", no_args_is_help=True)

DB_HELP = "Gallery database: a SQLite file path or a postgresql:// URL (default: $FACELENS_DB or the data dir)."
MODEL_HELP = ("Embedding model: mobilefacenet (default), mobilefacenet_noflip, dlib or fused. Templates of "
              "different models never mix.")
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".pgm", ".ppm", ".tif", ".tiff"}


def register(app: typer.Typer) -> None:
    app.add_typer(gallery_app, name="gallery")
    app.add_typer(audit_app, name="audit")
    from ..evaluation import identification

    gallery_app.command("evaluate")(identification.evaluate_command)


def _open(db: Optional[str], create_key: bool = False, **options):
    from ..gallery import Gallery

    return Gallery(db, create_key=create_key, **options)


def _date(value: Optional[str], what: str) -> Optional[datetime]:
    from ..errors import BadInputError

    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).replace(tzinfo=None)
    except ValueError:
        raise BadInputError(f"{what} must be an ISO date such as 2027-12-31, not {value!r}") from None


def _metadata(items: list[str]) -> dict:
    from ..errors import BadInputError

    out = {}
    for item in items:
        if "=" not in item:
            raise BadInputError(f"--meta takes KEY=VALUE, not {item!r}")
        key, value = item.split("=", 1)
        out[key.strip()] = value
    return out


def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


@gallery_app.command("enrol")
def enrol(
    name: Optional[str] = typer.Argument(None, help="Identity name (omit with --folders)."),
    images: Optional[list[Path]] = typer.Argument(None, help="Image files with this person's face."),
    folders: Optional[Path] = typer.Option(None, "--folders", help="Bulk: a folder of folders, one per person (folder name = identity)."),
    db: Optional[str] = typer.Option(None, "--db", help=DB_HELP),
    model: str = typer.Option("mobilefacenet", help=MODEL_HELP),
    face: str = typer.Option("only", help="only (refuse images with several faces), largest, or an index left to right."),
    consent_by: Optional[str] = typer.Option(None, help="Who gave consent."),
    consent_at: Optional[str] = typer.Option(None, help="When consent was given (ISO date; default now)."),
    consent_purpose: Optional[str] = typer.Option(None, help="What the consent covers."),
    consent_expires: Optional[str] = typer.Option(None, help="Consent expiry (ISO date); purge erases the identity after it."),
    meta: list[str] = typer.Option([], "--meta", help="Free metadata KEY=VALUE (repeatable)."),
    keep_images: bool = typer.Option(False, help="Also store the face crops (encrypted). Off by default."),
    add: bool = typer.Option(False, help="Add templates to an existing identity."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Enrol one person from images, or many with --folders (resumable: existing names are skipped)."""
    from ..errors import BadInputError
    from ..gallery import Consent
    from ..gallery.store import utcnow

    consent = None
    if consent_by or consent_purpose or consent_expires or consent_at:
        consent = Consent(by=consent_by, at=_date(consent_at, "--consent-at") or utcnow(),
                          purpose=consent_purpose, expires=_date(consent_expires, "--consent-expires"))
    metadata = _metadata(meta)
    if folders is not None:
        if name or images:
            raise BadInputError("give either NAME IMAGES... or --folders DIR, not both")
        _enrol_folders(folders, db, model, parse_face_choice(face), metadata, consent, keep_images, as_json)
        return
    if not name or not images:
        raise BadInputError("usage: facelens gallery enrol NAME IMAGE [IMAGE...]  (or --folders DIR)")
    with _open(db, create_key=True) as gallery:
        result = gallery.enrol(name, images, model=model, face=parse_face_choice(face), metadata=metadata,
                               consent=consent, keep_images=keep_images, add=add)
    if as_json:
        print(json.dumps(result))
    else:
        print(f"enrolled {result['name']}: {result['templates']} template(s) ({', '.join(result['models'])})")


def _enrol_folders(root: Path, db, model, face, metadata, consent, keep_images, as_json) -> None:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    from ..errors import BadInputError, FacelensError
    from ..gallery import EnrolRecord

    if not root.is_dir():
        raise BadInputError(f"{root} is not a folder")
    people = sorted(p for p in root.iterdir() if p.is_dir())
    if not people:
        raise BadInputError(f"{root} holds no sub-folders (one per person expected)")
    summary = {"enrolled": [], "skipped_existing": [], "no_usable_image": [], "image_errors": []}
    with _open(db, create_key=True) as gallery, Progress(
        TextColumn("[bold]enrolling"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.description}"),
        TimeRemainingColumn(), transient=as_json, disable=not sys.stderr.isatty() and as_json,
        console=None,
    ) as progress:
        task = progress.add_task("", total=len(people))
        for person in people:
            progress.update(task, description=person.name)
            if person.name in gallery:
                summary["skipped_existing"].append(person.name)
                progress.advance(task)
                continue
            templates = []
            for image in _images_in(person):
                try:
                    templates += gallery.templates_from_images([image], model, face, keep_images)
                except FacelensError as exc:
                    summary["image_errors"].append({"image": str(image), "error": str(exc)})
            if templates:
                gallery.enrol_records([EnrolRecord(person.name, templates, dict(metadata), consent)])
                summary["enrolled"].append(person.name)
            else:
                summary["no_usable_image"].append(person.name)
            progress.advance(task)
    if as_json:
        print(json.dumps(summary))
        return
    print(f"enrolled {len(summary['enrolled'])} people; skipped {len(summary['skipped_existing'])} already enrolled; "
          f"{len(summary['no_usable_image'])} without a usable image; {len(summary['image_errors'])} image(s) refused")
    for item in summary["image_errors"][:20]:
        _note(f"{item['image']}: {item['error']}")


@gallery_app.command("identify")
def identify(
    image: Path = typer.Argument(..., help="Image to search for known people (every face in it)."),
    db: Optional[str] = typer.Option(None, "--db", help=DB_HELP),
    top_k: int = typer.Option(5, "--top-k", help="Candidates listed per face."),
    model: str = typer.Option("mobilefacenet", help=MODEL_HELP),
    scoring: str = typer.Option("max", help="Identity score over its templates: max or mean."),
    threshold: Optional[float] = typer.Option(None, help="Override the calibrated open-set threshold."),
    record_unknown: bool = typer.Option(False, help="Keep unmatched faces (encrypted) for `gallery cluster`."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Who is in this image? Each face: best identity above the threshold, or unknown."""
    from ..gallery.identify import threshold_for

    with _open(db) as gallery:
        results = gallery.identify(str(image), top_k=top_k, model=model, scoring=scoring, threshold=threshold,
                                   record_unknown=record_unknown)
    limit = threshold if threshold is not None else threshold_for(model, scoring)[0]
    if as_json:
        print(json.dumps({"image": str(image), "model": model, "scoring": scoring, "threshold": round(limit, 6),
                          "faces": [r.to_dict() for r in results]}))
        return
    if not results:
        print(f"{image}: no face found")
        return
    print(f"{image}: {len(results)} face(s), threshold {limit:.3f} ({scoring})")
    for r in results:
        box = ", ".join(f"{v:.0f}" for v in r.box) if r.box else "-"
        who = r.identity or "unknown"
        others = ", ".join(f"{c.identity} {c.similarity:.3f}" for c in r.candidates[:top_k])
        print(f"  [{box}] {who} ({r.similarity:.3f})  candidates: {others}")


@gallery_app.command("list")
def list_identities(
    db: Optional[str] = typer.Option(None, "--db", help=DB_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Enrolled identities with their template counts."""
    with _open(db) as gallery:
        people = gallery.list()
    if as_json:
        print(json.dumps({"identities": people}))
        return
    for person in people:
        expiry = f"  consent until {person['consent_expires']}" if person["consent_expires"] else ""
        print(f"{person['name']}\t{person['templates']} template(s){expiry}")
    print(f"{len(people)} identities", file=sys.stderr)


@gallery_app.command("show")
def show(
    name: str = typer.Argument(..., help="Identity name."),
    db: Optional[str] = typer.Option(None, "--db", help=DB_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Metadata, consent and templates of one identity (no embeddings)."""
    with _open(db) as gallery:
        info = gallery.show(name)
    if as_json:
        print(json.dumps(info))
        return
    print(f"{info['name']}  (id {info['id']}, enrolled {info['created_at']})")
    consent = info["consent"]
    if any(consent.values()):
        parts = [f"{label} {consent[key]}" for label, key in (("by", "by"), ("at", "at"), ("for", "purpose"),
                                                                ("expires", "expires")) if consent[key]]
        print("  consent: " + ", ".join(parts))
    for key, value in info["metadata"].items():
        print(f"  {key}: {value}")
    for t in info["templates"]:
        print(f"  template {t['id']}: {t['model']} {t['model_version']} quality={t['quality']} source={t['source']} at {t['created_at']}")


@gallery_app.command("delete")
def delete(
    name: str = typer.Argument(..., help="Identity to erase."),
    db: Optional[str] = typer.Option(None, "--db", help=DB_HELP),
    reason: str = typer.Option("erasure request", help="Recorded in the audit log."),
) -> None:
    """Erase an identity and its templates from the database and the search index."""
    with _open(db) as gallery:
        result = gallery.delete(name, reason=reason)
    print(f"erased {result['name']}: {result['templates_removed']} template(s) removed from database and index")


@gallery_app.command("export")
def export(
    name: str = typer.Argument(..., help="Identity to export."),
    out: Optional[Path] = typer.Option(None, "--out", help="Write the JSON here (default: stdout)."),
    db: Optional[str] = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Everything stored about one person as JSON (embeddings decrypted, audit entries included)."""
    with _open(db) as gallery:
        data = gallery.export(name)
    text = json.dumps(data, indent=2)
    if out:
        out.write_text(text + "\n")
        print(f"wrote {out}", file=sys.stderr)
    else:
        print(text)


@gallery_app.command("purge")
def purge(
    db: Optional[str] = typer.Option(None, "--db", help=DB_HELP),
    max_age_days: Optional[float] = typer.Option(None, help="Remove templates older than this many days."),
    dry_run: bool = typer.Option(False, help="Report what would be removed, remove nothing."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Retention: erase identities past consent expiry and templates older than --max-age-days."""
    with _open(db) as gallery:
        report = gallery.purge(max_age_days=max_age_days, dry_run=dry_run)
    if as_json:
        print(json.dumps(report))
        return
    verb = "would erase" if dry_run else "erased"
    print(f"{verb} {len(report['identities_consent_expired'])} identities past consent expiry, "
          f"{len(report['identities_aged_out'])} identities with only old templates, "
          f"{report['templates_aged_out']} old template(s)")


@gallery_app.command("cluster")
def cluster(
    db: Optional[str] = typer.Option(None, "--db", help=DB_HELP),
    model: str = typer.Option("mobilefacenet", help=MODEL_HELP),
    method: str = typer.Option("dbscan", help="dbscan, agglomerative or kmeans."),
    distance: Optional[float] = typer.Option(None, help="Cosine distance that joins two faces (default: 1 − identification threshold)."),
    min_size: int = typer.Option(2, help="Smallest cluster reported."),
    k: Optional[int] = typer.Option(None, help="Number of clusters (kmeans only)."),
    promote: Optional[int] = typer.Option(None, help="Promote this cluster number to a new identity (needs --name)."),
    name: Optional[str] = typer.Option(None, help="Name of the promoted identity."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Cluster faces that matched nobody (stored by `identify --record-unknown`); promote one."""
    from ..errors import BadInputError, NotFoundError
    from ..gallery.cluster import cluster_unknowns
    from ..gallery.cluster import promote as promote_cluster

    with _open(db) as gallery:
        clusters = cluster_unknowns(gallery, model, method, distance=distance, min_size=min_size, k=k)
        if promote is not None:
            if not name:
                raise BadInputError("--promote needs --name")
            if not 0 <= promote < len(clusters):
                raise NotFoundError(f"no cluster {promote} (found {len(clusters)})")
            result = promote_cluster(gallery, clusters[promote].unknown_ids, name, model)
            print(json.dumps(result) if as_json else f"promoted cluster {promote} to {name}: {result['templates']} template(s)")
            return
    if as_json:
        print(json.dumps({"clusters": [c.to_dict() for c in clusters]}))
        return
    for c in clusters:
        print(f"cluster {c.label}: {len(c.unknown_ids)} faces, cohesion {c.cohesion:.3f}")
    print(f"{len(clusters)} cluster(s)", file=sys.stderr)


@audit_app.command("verify")
def audit_verify(
    db: Optional[str] = typer.Option(None, "--db", help=DB_HELP),
    strict: bool = typer.Option(False, help="Exit with the storage error code (6) when the log was tampered with."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Check the audit log's hash chain: detects edited, inserted or removed entries."""
    from ..errors import StorageError

    with _open(db) as gallery:
        report = gallery.audit.verify()
    if as_json:
        print(json.dumps(report.to_dict()))
    elif report.ok:
        print(f"audit log intact: {report.entries} entries")
    else:
        print(f"audit log TAMPERED: {len(report.problems)} problem(s) in {report.entries} entries")
        for problem in report.problems[:50]:
            print(f"  {problem}")
    if strict and not report.ok:
        raise StorageError("audit log verification failed")


@audit_app.command("list")
def audit_list(
    db: Optional[str] = typer.Option(None, "--db", help=DB_HELP),
    subject: Optional[str] = typer.Option(None, help="Only entries about this identity."),
    event: Optional[str] = typer.Option(None, help="Only this event type."),
) -> None:
    """Print audit entries as JSON lines."""
    with _open(db) as gallery:
        for entry in gallery.audit.entries(subject=subject, event=event):
            print(json.dumps(entry.to_dict()))
