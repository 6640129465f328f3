"""`facelens gallery …` and `facelens audit …`: parse, call facelens.usecases (enrol, identify,
cluster) or the Gallery method that is the whole operation (list, show, delete, export, purge,
audit), print."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer

from ..constants import DEFAULT_MODEL
from ..usecases.inputs import build_consent, parse_face_choice, parse_metadata
from .common import note as _note

gallery_app = typer.Typer(help="Enrol people and identify them (persistent encrypted gallery).", no_args_is_help=True)
audit_app = typer.Typer(help="The gallery's hash-chained audit log.", no_args_is_help=True)

DB_HELP = "Gallery database: a SQLite file path or a postgresql:// URL (default: $FACELENS_DB or the data dir)."
MODEL_HELP = ("Embedding model: mobilefacenet (default), mobilefacenet_noflip, dlib, faceres, fused, fused_faceres, "
              "fused_faceres_mesh, mobilefacenet_mesh or faceres_mesh. Templates of different models never mix.")


def register(app: typer.Typer) -> None:
    app.add_typer(gallery_app, name="gallery")
    app.add_typer(audit_app, name="audit")
    from .evaluate import identification_command

    gallery_app.command("evaluate")(identification_command)


def _open(db: Optional[str], create_key: bool = False, **options):
    from ..gallery import Gallery

    return Gallery(db, create_key=create_key, **options)


@gallery_app.command("enrol")
def enrol(
    name: Optional[str] = typer.Argument(None, help="Identity name (omit with --folders)."),
    images: Optional[list[Path]] = typer.Argument(None, help="Image files with this person's face."),
    folders: Optional[Path] = typer.Option(None, "--folders", help="Bulk: a folder of folders, one per person (folder name = identity)."),
    db: Optional[str] = typer.Option(None, "--db", help=DB_HELP),
    model: str = typer.Option(DEFAULT_MODEL, help=MODEL_HELP),
    face: str = typer.Option("only", help="only (refuse images with several faces), largest, or an index left to right."),
    consent_by: Optional[str] = typer.Option(None, help="Who gave consent."),
    consent_at: Optional[str] = typer.Option(None, help="When consent was given (ISO date; default now)."),
    consent_purpose: Optional[str] = typer.Option(None, help="What the consent covers."),
    consent_expires: Optional[str] = typer.Option(None, help="Consent expiry (ISO date); purge erases the identity after it."),
    meta: list[str] = typer.Option([], "--meta", help="Free metadata KEY=VALUE (repeatable)."),
    keep_images: bool = typer.Option(False, help="Also store the face crops (encrypted). Off by default."),
    add: bool = typer.Option(False, help="Add templates to an existing identity."),
    force: bool = typer.Option(False, "--force", help="Enrol even when the photos disagree with each other (or with "
                               "the identity's templates) or match another enrolled identity; the override is audited."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Enrol one person from images, or many with --folders (resumable: existing names are skipped).

    Refused with exit code 9, naming the photo, when the photos do not all show one person or
    the face is already enrolled under another name (--force overrides, audited)."""
    from ..errors import BadInputError
    from ..usecases.enrolment import enrol as enrol_person

    consent = build_consent(consent_by, consent_at, consent_purpose, consent_expires)
    metadata = parse_metadata(meta)
    choice = parse_face_choice(face)
    if folders is not None:
        if name or images:
            raise BadInputError("give either NAME IMAGES... or --folders DIR, not both")
        _enrol_folders(folders, db, model, choice, metadata, consent, keep_images, force, as_json)
        return
    if not name or not images:
        raise BadInputError("usage: facelens gallery enrol NAME IMAGE [IMAGE...]  (or --folders DIR)")
    with _open(db, create_key=True) as gallery:
        result = enrol_person(gallery, name, images, model=model, face=choice, metadata=metadata,
                              consent=consent, keep_images=keep_images, add=add, force=force, by="cli")
    if as_json:
        print(json.dumps(result))
    else:
        print(f"enrolled {result['name']}: {result['templates']} template(s) ({', '.join(result['models'])})")
    for finding in result.get("overridden", []):
        _note(f"forced past: {_describe(finding)} (audited as enrol.forced)")


def _describe(finding: dict) -> str:
    if finding["check"] == "duplicate":
        return (f"{finding['source']} matches {finding['duplicate_of']!r} "
                f"(similarity {finding['similarity']:.3f} >= {finding['threshold']:.3f})")
    return f"{finding['source']} disagrees (similarity {finding['similarity']:.3f} < {finding['threshold']:.3f})"


def _enrol_folders(root: Path, db, model, face, metadata, consent, keep_images, force, as_json) -> None:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    from ..usecases.enrolment import enrol_folders, person_folders

    total = len(person_folders(root))  # checks the folder before the key is created or the bar drawn
    with _open(db, create_key=True) as gallery, Progress(
        TextColumn("[bold]enrolling"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.description}"),
        TimeRemainingColumn(), transient=as_json, disable=not sys.stderr.isatty() and as_json,
        console=None,
    ) as progress:
        task = progress.add_task("", total=total)
        summary = enrol_folders(gallery, root, model=model, face=face, metadata=metadata, consent=consent,
                                keep_images=keep_images, force=force, by="cli",
                                on_person=lambda person: progress.update(task, advance=1, description=person))
    if as_json:
        print(json.dumps(summary))
        return
    print(f"enrolled {len(summary['enrolled'])} people; skipped {len(summary['skipped_existing'])} already enrolled; "
          f"{len(summary['no_usable_image'])} without a usable image; {len(summary['image_errors'])} image(s) refused")
    if summary["refused"] or summary["forced"]:
        print(f"refused {len(summary['refused'])} people whose photos disagree or duplicate an enrolled identity "
              f"(--force to enrol them); forced {len(summary['forced'])}")
    for item in summary["image_errors"][:20]:
        _note(f"{item['image']}: {item['error']}")
    for item in summary["refused"][:20]:
        _note(f"{item['name']}: " + "; ".join(_describe(f) for f in item["findings"]))
    for item in summary["forced"][:20]:
        _note(f"{item['name']} forced past: " + "; ".join(_describe(f) for f in item["overridden"]))


@gallery_app.command("identify")
def identify(
    image: Path = typer.Argument(..., help="Image to search for known people (every face in it)."),
    db: Optional[str] = typer.Option(None, "--db", help=DB_HELP),
    top_k: int = typer.Option(5, "--top-k", help="Candidates listed per face."),
    model: str = typer.Option(DEFAULT_MODEL, help=MODEL_HELP),
    scoring: str = typer.Option("max", help="Identity score over its templates: max or mean."),
    threshold: Optional[float] = typer.Option(None, help="Override the calibrated open-set threshold."),
    record_unknown: bool = typer.Option(False, help="Keep unmatched faces (encrypted) for `gallery cluster`."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Who is in this image? Each face: best identity above the threshold, or unknown."""
    from ..usecases.identification import identify as identify_faces

    with _open(db) as gallery:
        result = identify_faces(gallery, str(image), top_k=top_k, model=model, scoring=scoring, threshold=threshold,
                                record_unknown=record_unknown)
    if as_json:
        print(json.dumps({"image": str(image), **result.to_dict()}))
        return
    if not result.faces:
        print(f"{image}: no face found")
        return
    print(f"{image}: {len(result.faces)} face(s), threshold {result.threshold:.3f} ({result.scoring})")
    for r in result.faces:
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
    out: Optional[Path] = typer.Option(None, "--out", help="Write the JSON here, owner-readable only (0600); "
                                             "a symlink there is refused (default: stdout)."),
    db: Optional[str] = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Everything stored about one person as JSON (embeddings decrypted, audit entries included)."""
    from ..gallery.crypto import write_private

    with _open(db) as gallery:
        data = gallery.export(name)
    text = json.dumps(data, indent=2)
    if out:
        write_private(out, (text + "\n").encode("utf-8"))  # decrypted personal data: 0600, never via a link
        print(f"wrote {out} (mode 0600)", file=sys.stderr)
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
    model: str = typer.Option(DEFAULT_MODEL, help=MODEL_HELP),
    method: str = typer.Option("dbscan", help="dbscan, agglomerative or kmeans."),
    distance: Optional[float] = typer.Option(None, help="Cosine distance that joins two faces (default: 1 − identification threshold)."),
    min_size: int = typer.Option(2, help="Smallest cluster reported."),
    k: Optional[int] = typer.Option(None, help="Number of clusters (kmeans only)."),
    promote: Optional[int] = typer.Option(None, help="Promote this cluster number to a new identity (needs --name)."),
    name: Optional[str] = typer.Option(None, help="Name of the promoted identity."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Cluster faces that matched nobody (stored by `identify --record-unknown`); promote one."""
    from ..usecases.gallery import cluster_unknowns

    with _open(db) as gallery:
        result = cluster_unknowns(gallery, model=model, method=method, distance=distance, min_size=min_size, k=k,
                                  promote=promote, name=name)
    if result.promoted is not None:
        print(json.dumps(result.to_dict()) if as_json else
              f"promoted cluster {promote} to {name}: {result.promoted['templates']} template(s)")
        return
    if as_json:
        print(json.dumps(result.to_dict()))
        return
    for c in result.clusters:
        print(f"cluster {c.label}: {len(c.unknown_ids)} faces, cohesion {c.cohesion:.3f}")
    print(f"{len(result.clusters)} cluster(s)", file=sys.stderr)


@audit_app.command("verify")
def audit_verify(
    db: Optional[str] = typer.Option(None, "--db", help=DB_HELP),
    report_only: bool = typer.Option(False, "--report-only",
                                     help="Print the report and exit 0 even when the log was tampered with."),
    strict: bool = typer.Option(False, "--strict", hidden=True,
                                help="Accepted for compatibility: exiting 6 on tampering is now the default."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Check the audit log against its chain and keyed seal: edited, inserted, removed, truncated
    or wiped entries. Exits 6 (storage error) on any tampering unless --report-only."""
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
    if not report.ok and not report_only:
        raise StorageError(f"audit log verification failed: {len(report.problems)} problem(s), "
                           f"first at entry {report.first_bad_seq}")


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
