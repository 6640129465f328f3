"""`facelens demo`: the whole recognition path on the bundled sample photos.

Detects the faces of a group photo and three portraits, writes annotated copies, verifies the
same person across two photos and two different people, and prints what happened and how long
each stage took.
"""

from __future__ import annotations

import time
from importlib import resources
from pathlib import Path

from .constants import DEFAULT_MODEL
from .draw import draw_faces, save_rgb
from .imageio import load_image
from .pipeline import choose_faces, detect_rgb, embed_faces
from .usecases.faces import verify

SAMPLES = ("group.jpg", "obama_a.jpg", "obama_b.jpg", "biden.jpg")


def sample_path(name: str) -> Path:
    return Path(str(resources.files("facelens") / "samples" / name))


def run_demo(out: Path, model: str = DEFAULT_MODEL, echo=print) -> dict:
    """The stages one by one (to time them), then the verify use case on the embeddings."""
    out.mkdir(parents=True, exist_ok=True)
    embeddings = {}
    timings = {"detect+quality": 0.0, "embed": 0.0}
    for name in SAMPLES:
        rgb = load_image(sample_path(name))
        start = time.perf_counter()
        faces = detect_rgb(rgb, keep_crop=True)
        timings["detect+quality"] += time.perf_counter() - start
        save_rgb(out / name, draw_faces(rgb, faces))
        echo(f"{name:12s} {rgb.shape[1]}×{rgb.shape[0]}: {len(faces)} face(s) → {out / name}")
        if name != "group.jpg":
            start = time.perf_counter()
            embeddings[name] = embed_faces(rgb, choose_faces(faces, "largest", name), model)[0].embedding
            timings["embed"] += time.perf_counter() - start
    results = {}
    for a, b in (("obama_a.jpg", "obama_b.jpg"), ("obama_a.jpg", "biden.jpg")):
        result = verify(embeddings[a], embeddings[b], model=model).verification
        verdict = "same person" if result.verified else "different people"
        results[f"{a} vs {b}"] = result.similarity
        echo(f"verify {a} vs {b}: similarity {result.similarity:.3f} (threshold {result.threshold:.3f}, "
             f"{result.operating_point}) → {verdict}")
    echo("time: " + ", ".join(f"{k} {1000 * v:.0f} ms" for k, v in timings.items())
         + f" for {len(SAMPLES)} images")
    return results
