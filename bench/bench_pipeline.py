"""Pipeline time per image and per stage: facelens vs dlib's HOG + ResNet pipeline, same run.

dlib's pipeline is what the face_recognition package does (face_locations with HOG and one
upsample, 5-point landmarks, face_encodings); both run on the same images in this process, and
the ratio is printed. Run:  python bench/bench_pipeline.py [IMAGE ...] [--repeat 10]
Default images are the test fixtures: one portrait and a six-face group photo.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

from facelens import config
from facelens.alignment import align_face
from facelens.detection import get_detector
from facelens.embedding import get_embedder
from facelens.imageio import load_image

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_IMAGES = [ROOT / "tests/data/faces/obama.jpg", ROOT / "tests/data/faces/bbt4.jpg"]


def timed(function, repeat: int) -> tuple[float, object]:
    samples, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = function()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples), result


def facelens_stages(rgb: np.ndarray, model: str) -> dict[str, float]:
    detector, embedder = get_detector("blazeface"), get_embedder(model)
    start = time.perf_counter()
    faces = detector.detect(rgb)
    detected = time.perf_counter()
    faces = [align_face(rgb, f) for f in faces]
    aligned = time.perf_counter()
    embedder.embed(rgb, faces)
    done = time.perf_counter()
    return {"detect": detected - start, "align+quality": aligned - detected, "embed": done - aligned,
            "total": done - start, "faces": len(faces)}


def dlib_pipeline(rgb: np.ndarray) -> dict[str, float]:
    import dlib

    from facelens.embedding.dlib_resnet import _dlib_models

    _, shape_predictor, net = _dlib_models()
    hog = _hog()
    start = time.perf_counter()
    rects = hog(rgb, 1)
    detected = time.perf_counter()
    shapes = [shape_predictor(rgb, r) for r in rects]
    aligned = time.perf_counter()
    [np.array(net.compute_face_descriptor(rgb, s)) for s in shapes]
    done = time.perf_counter()
    del dlib
    return {"detect": detected - start, "align+quality": aligned - detected, "embed": done - aligned,
            "total": done - start, "faces": len(rects)}


_HOG = None


def _hog():
    global _HOG
    if _HOG is None:
        import dlib

        _HOG = dlib.get_frontal_face_detector()
    return _HOG


def median_stages(function, rgb, repeat) -> dict[str, float]:
    runs = [function(rgb) for _ in range(repeat)]
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("images", nargs="*", type=Path, default=DEFAULT_IMAGES)
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    print(f"threads per model runtime: {config.threads()} (FACELENS_THREADS)")
    header = f"{'image':14s} {'pipeline':22s} {'faces':>5s} {'detect':>8s} {'align':>8s} {'embed':>8s} {'total ms':>9s} {'ms/face':>8s}"
    print(header)
    for path in args.images:
        rgb = load_image(path)
        rows = {}
        for name, function in (
            ("facelens mobilefacenet", lambda im: facelens_stages(im, "mobilefacenet")),
            ("facelens mfn no flip", lambda im: facelens_stages(im, "mobilefacenet_noflip")),
            ("facelens fused", lambda im: facelens_stages(im, "fused")),
            ("facelens faceres", lambda im: facelens_stages(im, "faceres")),
            ("facelens fused_faceres", lambda im: facelens_stages(im, "fused_faceres")),
            ("facelens fused_faceres_mesh", lambda im: facelens_stages(im, "fused_faceres_mesh")),
            ("dlib HOG+ResNet", dlib_pipeline),
        ):
            function(rgb)  # warm-up: model loading is not pipeline time
            rows[name] = median_stages(function, rgb, args.repeat)
        for name, r in rows.items():
            per_face = 1000 * r["total"] / max(r["faces"], 1)
            print(f"{path.name:14s} {name:22s} {r['faces']:5.0f} {1000 * r['detect']:8.1f} "
                  f"{1000 * r['align+quality']:8.1f} {1000 * r['embed']:8.1f} {1000 * r['total']:9.1f} {per_face:8.1f}")
        base = rows["dlib HOG+ResNet"]["total"]
        for name in ("facelens mobilefacenet", "facelens mfn no flip", "facelens fused", "facelens faceres",
                     "facelens fused_faceres", "facelens fused_faceres_mesh"):
            print(f"{'':14s} speed-up of {name} over dlib: {base / rows[name]['total']:.1f}×")


if __name__ == "__main__":
    main()
