"""How well does each eye cue see a closed eye? ORL faces with eye-state labels.

Protocol (fixed, no tuning on the result): every ORL image is upscaled ×3 (92×112 is smaller than
a face at a door camera), the largest BlazeFace face gets the mesh, and each cue is computed —
``iris`` (``attributes.mesh.eye_opening``: the iris model's lid gap / eye width, both eyes' mean)
and ``mesh`` (the 468-point mesh's own eye aspect ratio). Each image's value is divided by the
median over that person's eyes-open images (the challenge's "own baseline", here from all of
them), and the blink rule (``liveness_active.BLINK_DROP``: ≥ 25 % below baseline = closed) is
applied. Labels: ``orl_eye_labels.json`` (by eye; "partly closed" squints and downward looks are
reported apart, counted neither way).
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from ..errors import BadInputError
from .liveness_active import BLINK_DROP

LABELS = Path(__file__).resolve().parent / "orl_eye_labels.json"
CUES = ("iris", "mesh")


def measure(path: Path, scale: float = 3.0) -> dict[str, float] | None:
    from ..attributes.mesh import eye_aspect_ratio, eye_opening, face_mesh
    from ..imageio import load_image
    from ..pipeline import detect_rgb

    rgb = load_image(path, channels="rgb")
    rgb = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    faces = detect_rgb(rgb)
    if not faces:
        return None
    points = face_mesh(rgb, max(faces, key=lambda f: f.area))
    return {"iris": float(np.mean(list(eye_opening(rgb, points).values()))), "mesh": eye_aspect_ratio(points)}


def run(orl: Path, progress=None) -> dict:
    labels = json.loads(LABELS.read_text())
    closed, partly = set(labels["closed"]), set(labels["partly_closed"])
    if not Path(orl).is_dir():
        raise BadInputError(f"{orl}: not a folder (expected the ORL layout s1/1.pgm … s40/10.pgm)")
    people = sorted((p for p in Path(orl).iterdir() if p.is_dir() and p.name.startswith("s")),
                    key=lambda p: int(p.name[1:]) if p.name[1:].isdigit() else 0)
    if not people:
        raise BadInputError(f"{orl}: expected the ORL layout s1/1.pgm … s40/10.pgm")
    rows, no_face = [], []
    for person in people:
        values = {}
        for image in sorted(person.glob("*.pgm"), key=lambda p: int(p.stem) if p.stem.isdigit() else 0):
            key = f"{person.name}/{image.stem}"
            got = measure(image)
            if got is None:
                no_face.append(key)
            else:
                values[key] = got
        open_keys = [k for k in values if k not in closed and k not in partly]
        if not open_keys:
            continue
        base = {cue: float(np.median([values[k][cue] for k in open_keys])) for cue in CUES}
        for key, got in values.items():
            state = "closed" if key in closed else "partly_closed" if key in partly else "open"
            rows.append({"image": key, "state": state,
                         **{f"{cue}_ratio": round(got[cue] / base[cue], 4) for cue in CUES}})
        if progress:
            progress(person.name)
    return {"protocol": __doc__.split("\n\n")[1].replace("\n", " "), "labels": str(LABELS.name),
            "blink_drop": BLINK_DROP, "no_face": no_face, "summary": summarise(rows), "images": rows}


def summarise(rows: list[dict]) -> dict:
    out = {}
    for cue in CUES:
        flagged = {state: [r["image"] for r in rows if r["state"] == state and r[f"{cue}_ratio"] <= 1 - BLINK_DROP]
                   for state in ("closed", "open", "partly_closed")}
        counts = {state: sum(r["state"] == state for r in rows) for state in flagged}
        ratios = [r[f"{cue}_ratio"] for r in rows if r["state"] == "closed"]
        out[cue] = {
            "closed_detected": f"{len(flagged['closed'])}/{counts['closed']}",
            "open_called_closed": f"{len(flagged['open'])}/{counts['open']}",
            "partly_closed_called_closed": f"{len(flagged['partly_closed'])}/{counts['partly_closed']}",
            "closed_ratio_range": [min(ratios), max(ratios)] if ratios else None,
            "open_called_closed_images": flagged["open"],
        }
    return out
