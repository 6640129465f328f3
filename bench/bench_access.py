"""Edge budget of the access check: ms per 640×480 frame, per stage and for the whole check.

Runs with FACELENS_THREADS=1 (one core) unless told otherwise. Frames: the real Hamilton frames
in tests/data/access/hamilton (one performer turning his head), centred on a 640×480 canvas, or
any video with --video (resized/letterboxed to 640×480). Stages per frame: BlazeFace detection,
468-point mesh (challenge cues), MobileFaceNet embedding (flip TTA), passive liveness features +
score, emotion model (only the smile challenge needs it), iris model eye opening (only the blink
challenge), 1:N match against a gallery of --gallery identities (real LFW embeddings when
--embeddings is given, else random unit vectors), and the whole ``facelens.access.check``
(liveness both, challenge turn_right) timed end to end.
The peer, measured in the same run: detect + embed only (what a plain verification costs).

    FACELENS_THREADS=1 python bench/bench_access.py [--video FILE] [--repeat 3] [--embeddings runs/...npz]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("FACELENS_THREADS", "1")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
FRAMES = ROOT / "tests/data/access/hamilton"
ENROL = ROOT / "tests/data/access/enrol/lin-manuel-miranda.jpg"


def to_640x480(rgb: np.ndarray) -> np.ndarray:
    h, w = rgb.shape[:2]
    scale = min(640 / w, 480 / h, 1.0)
    if scale < 1.0:
        rgb = cv2.resize(rgb, (int(w * scale), int(h * scale)), interpolation=cv2.INTER_AREA)
        h, w = rgb.shape[:2]
    canvas = np.zeros((480, 640, 3), np.uint8)
    y, x = (480 - h) // 2, (640 - w) // 2
    canvas[y:y + h, x:x + w] = rgb
    return canvas


def load_frames(video: Path | None) -> list[np.ndarray]:
    if video is None:
        paths = sorted(FRAMES.glob("*.jpg"))
        return [to_640x480(cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB)) for p in paths]
    capture, frames = cv2.VideoCapture(str(video)), []
    while len(frames) < 120:
        ok, bgr = capture.read()
        if not ok:
            break
        frames.append(to_640x480(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)))
    return frames


def gallery_matrix(size: int, embeddings: Path | None) -> np.ndarray:
    if embeddings is not None:
        data = np.load(embeddings)
        return data["mobilefacenet"][:size].astype(np.float32)
    rng = np.random.default_rng(0)
    matrix = rng.normal(size=(size, 192)).astype(np.float32)
    return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


def per_stage(frames: list[np.ndarray], matrix: np.ndarray, clock=time.perf_counter) -> dict[str, list[float]]:
    from facelens.access.liveness_passive import passive_score
    from facelens.attributes.emotion import predict_emotions
    from facelens.attributes.mesh import eye_opening, face_mesh
    from facelens.pipeline import detect_rgb, embed_faces

    times: dict[str, list[float]] = {k: [] for k in ("detect", "mesh", "embed", "passive", "emotion", "match",
                                                     "eyes")}
    for rgb in frames:
        t0 = clock()
        faces = detect_rgb(rgb, keep_crop=True)
        t1 = clock()
        if not faces:
            continue
        face = faces[0]
        points = face_mesh(rgb, face)
        t2 = clock()
        vector = embed_faces(rgb, [face])[0].embedding
        t3 = clock()
        passive_score(rgb, face)
        t4 = clock()
        predict_emotions(rgb, [face])
        t5 = clock()
        np.argsort(matrix @ vector)[-2:]
        t6 = clock()
        eye_opening(rgb, points)  # blink challenge only
        t7 = clock()
        for key, value in zip(times, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5, t7 - t6)):
            times[key].append(1000 * value)
    return times


def whole_check(frames: list[np.ndarray], challenge: str) -> tuple[float, float, int, bool, float]:
    """(wall ms per frame, wall ms first frame → decision, frames used, granted, CPU ms per frame)."""
    import base64

    os.environ.setdefault("FACELENS_KEY", base64.b64encode(os.urandom(32)).decode())
    from facelens.access import Policy, check
    from facelens.gallery import Gallery
    from facelens.usecases.enrolment import enrol

    with tempfile.TemporaryDirectory() as folder, Gallery(Path(folder) / "bench.db") as gallery:
        enrol(gallery, "lin", [ENROL])
        policy = Policy(threshold=0.4341, liveness="both")
        start, cpu = time.perf_counter(), time.process_time()
        decision = check(frames, "lin", policy, gallery=gallery, challenge=challenge)
        total = 1000 * (time.perf_counter() - start)
        cpu_total = 1000 * (time.process_time() - cpu)
    return total / max(decision.frames, 1), total, decision.frames, decision.granted, cpu_total / max(decision.frames, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--gallery", type=int, default=1000)
    parser.add_argument("--embeddings", type=Path, help="LFW embeddings .npz for a real 1:N gallery")
    parser.add_argument("--cpu-time", action="store_true", help="Time stages by process CPU time instead of wall time")
    args = parser.parse_args()
    from facelens import config

    frames = load_frames(args.video)
    matrix = gallery_matrix(args.gallery, args.embeddings)
    per_stage(frames[:3], matrix)  # warm-up: model loading is not per-frame cost
    # Wall time on a shared, loaded machine mostly measures waiting for a core. With one thread,
    # the process CPU time is what the same work costs on an idle core: report both.
    clock = time.process_time if args.cpu_time else time.perf_counter
    runs = [per_stage(frames, matrix, clock) for _ in range(args.repeat)]
    medians = {k: statistics.median(v for run in runs for v in run[k]) for k in runs[0]}
    lows = {k: min(v for run in runs for v in run[k]) for k in runs[0]}
    load = os.getloadavg()[0]
    print(f"threads={config.threads()}  frames={len(frames)} at 640x480  repeat={args.repeat}  "
          f"cpu={os.cpu_count()}  load average={load:.1f}  clock={'process CPU time' if args.cpu_time else 'wall'}")
    for key in medians:
        print(f"  {key:8s} median {medians[key]:7.2f}  min {lows[key]:7.2f} ms/frame")
    for label, values in (("median", medians), ("min", lows)):
        full = sum(values.values())
        # check() embeds and scores passively on every 2nd frame (decision.EMBED_EVERY)
        amortised = values["detect"] + values["mesh"] + (values["embed"] + values["passive"]) / 2 + values["match"]
        peer = values["detect"] + values["embed"]
        print(f"  [{label}] every stage on every frame {full:.2f} ms; as check() runs them "
              f"{amortised:.2f} ms/frame (+{values['emotion']:.2f} for a smile, +{values['eyes']:.2f} for a blink); "
              f"peer detect+embed {peer:.2f} ms -> ratio {amortised / peer:.2f}")
    checks = [whole_check(frames, "turn_right") for _ in range(args.repeat)]
    per_frame = statistics.median(c[0] for c in checks)
    cpu_frame = statistics.median(c[4] for c in checks)
    print(f"  access.check (turn_right, liveness both, audit write included): wall {per_frame:.2f} ms/frame, "
          f"CPU {cpu_frame:.2f} ms/frame; decision {statistics.median(c[1] for c in checks):.0f} ms (wall) after the "
          f"first frame over {checks[0][2]} frames (granted={checks[0][3]}); goal 50 ms/frame on one core: "
          f"{'met' if cpu_frame <= 50 else 'NOT met'} by CPU time, {'met' if per_frame <= 50 else 'NOT met'} by wall time")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
