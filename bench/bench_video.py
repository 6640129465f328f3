"""Video throughput: the watch pipeline (adaptive detection + tracking) against detecting on
every frame, measured in the same run.

    nice -n 10 python bench/bench_video.py --data ../shared/data [--frames 300] [--json out.json]

Cases (720p): one face (video/presenter_720p.mp4), five faces (a clip composited here from five
faceapi portraits moving over a 1280×720 background, written to a temporary folder), and 1 vs 4
concurrent streams of the one-face file (one thread per stream, as `facelens watch A B C D`).
Each case runs three ways: adaptive N (the default: detect as often as keeps up with the
source's frame rate), a fixed N = 5, and detection on every frame (the peer).
fps = frames processed ÷ wall time, decoding included, per stream (the slowest stream). Goals (issue 7): ≥ 25 fps for
one 720p stream with one face; ≥ 8 fps per stream with 4 streams, on 2 cores.

A second part (``--identity``) measures track voting against single-frame decisions on the
test clips (ground truth in tests/data/video/clips.json): see docs/video.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "video"))


def five_face_clip(data: Path, folder: Path, seconds: float = 10.0, fps: float = 30.0) -> Path:
    """1280×720 clip: five real faces (head-and-shoulders cut from portraits, 170–230 px tall)
    drifting across the frame."""
    from make_clips import background, head_patch, paste  # noqa: PLC0415 - the test-clip helpers

    photos = ["photos/biden.jpg", "photos/lin-manuel-miranda.png", "photos/alex-lacamoire.png",
              "photos/obama2.jpg", "photos/two_people.jpg"]
    patches = [head_patch(data, photo) for photo in photos]
    bg = background(720, 1280)
    path = folder / "five_faces_720p.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (1280, 720))
    rng = np.random.default_rng(0)
    start = rng.uniform([150, 150], [1130, 570], size=(5, 2))
    velocity = rng.uniform(-60, 60, size=(5, 2))  # px per second
    for index in range(int(seconds * fps)):
        frame = bg.copy()
        t = index / fps
        for k, patch in enumerate(patches):
            x, y = start[k] + velocity[k] * t
            x = 150 + abs((x - 150) % 1960 - 980)  # bounce inside the frame
            y = 150 + abs((y - 150) % 840 - 420)
            paste(frame, patch, x, y, 170 + 15 * k)
        writer.write(frame)
    writer.release()
    return path


def watchlist(data: Path):
    from facelens.video.identity import MemoryWatchlist

    people = {"obama": [data / "photos" / "obama.jpg"],
              "sheldon": [data / "faceapi" / "sheldon" / "sheldon1.png"],
              "leonard": [data / "faceapi" / "leonard" / "leonard1.png"]}
    return MemoryWatchlist.from_images(people)


def run(paths: list[Path], wl, detect_every: int | None, frames: int) -> dict:
    from facelens.video.watch import SourceSpec, WatchConfig, watch

    sources = [SourceSpec(str(p), f"cam{i}", options={"end_frame": frames}) for i, p in enumerate(paths)]
    summary = watch(sources, wl, config=WatchConfig(detect_every=detect_every))
    cameras = summary.to_dict()["cameras"]
    return {"streams": len(paths), "detect_every": detect_every or "adaptive",
            "fps_per_stream": round(min(c["fps"] for c in cameras), 1),
            "fps_total": round(summary.frames / summary.seconds, 1),
            "mean_N": round(float(np.mean([c["mean_detect_every"] for c in cameras])), 2),
            "faces_per_detection": round(sum(c["faces"] for c in cameras) / max(1, sum(c["detection_frames"] for c in cameras)), 2),
            "errors": [c["error"] for c in cameras if c["error"]]}


def throughput(data: Path, frames: int, repeat: int = 1) -> list[dict]:
    """Every case ``repeat`` times, interleaved; the best run of each case is kept (the machine
    is shared: the best run is the one least disturbed by other jobs, as ``timeit`` does)."""
    wl = watchlist(data)
    one = data / "video" / "presenter_720p.mp4"
    best: dict[tuple, dict] = {}
    with tempfile.TemporaryDirectory() as folder:
        five = five_face_clip(data, Path(folder))
        run([one], wl, 1, 30)  # warm-up: model loading is not part of the measurement
        cases = (("720p, 1 face", [one]), ("720p, 5 faces", [five]), ("720p, 1 face × 4 streams", [one] * 4))
        for attempt in range(repeat):
            for label, paths in cases:
                for every in (None, 5, 1):
                    row = run(paths, wl, every, frames)
                    row["case"] = label
                    row["attempt"] = attempt
                    print(json.dumps(row), flush=True)
                    key = (label, row["detect_every"])
                    if key not in best or row["fps_per_stream"] > best[key]["fps_per_stream"]:
                        best[key] = row
    rows = list(best.values())
    print("\n| case | detection | fps per stream | fps total | mean N |\n|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['case']} | {_how(row['detect_every'])} "
              f"| {row['fps_per_stream']} | {row['fps_total']} | {row['mean_N']} |")
    return rows


def ray_streams(data: Path, frames: int, streams: int = 4) -> list[dict]:
    """The 4-stream case as one Ray actor per stream on a local Ray instance (2 CPUs)."""
    import ray

    from facelens.video.distributed import watch_streams
    from facelens.video.watch import SourceSpec, WatchConfig

    wl = watchlist(data)
    one = str(data / "video" / "presenter_720p.mp4")
    ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
    rows = []
    for every in (None, 1):
        summary = watch_streams([SourceSpec(one, f"cam{i}", options={"end_frame": frames}) for i in range(streams)],
                                wl, WatchConfig(detect_every=every), cpus_per_actor=os.cpu_count() / streams)
        row = {"case": f"720p, 1 face × {streams} Ray actors", "detect_every": every or "adaptive",
               "fps_per_stream": [round(c.fps, 1) for c in summary.cameras],
               "mean_N": [round(c.mean_detect_every, 2) for c in summary.cameras]}
        print(json.dumps(row), flush=True)
        rows.append(row)
    ray.shutdown()
    return rows


def _how(every) -> str:
    return {1: "every frame", "adaptive": "adaptive N"}.get(every, f"every {every} frames")


def identity(clips: Path) -> dict:
    """Per-detection decisions: one frame alone vs the track rule at that moment (causal)."""
    from facelens.detection.base import iou_matrix
    from facelens.pipeline import detect_rgb, embed_faces
    from facelens.video.identity import PENDING, MemoryWatchlist, decide, single_frame
    from facelens.video.sources import open_source
    from facelens.video.tracking import Tracker, capture_score

    manifest = json.loads((clips / "clips.json").read_text())
    wl = MemoryWatchlist.from_images({n: [clips / p for p in ps] for n, ps in manifest["enrol"].items()})
    enrolled = set(manifest["enrol"])
    counts = {"frame": [0, 0], "track": [0, 0], "frame_false_alerts": 0, "track_false_alerts": 0,
              "pending": 0, "threshold": round(wl.threshold, 4), "threshold_source": wl.threshold_source}
    for info in manifest["clips"].values():
        truth_by_frame: dict[int, list] = {}
        for row in info["truth"]:
            truth_by_frame.setdefault(row["frame"], []).append(row)
        tracker = Tracker(max_age=10)
        history: dict[int, list] = {}
        with open_source(clips / info["file"]) as source:
            for frame in source:
                faces = embed_faces(frame.image, detect_rgb(frame.image, keep_crop=True, min_score=0.35))
                rows = truth_by_frame.get(frame.index, [])
                for face in tracker.update(faces, frame.index, frame.timestamp):
                    if not rows:
                        continue
                    overlap = iou_matrix(np.array([face.box]), np.array([r["box"] for r in rows]))[0]
                    if overlap.max() < 0.3:
                        continue
                    person = rows[int(overlap.argmax())]["person"]
                    expected = person if person in enrolled else "unknown"
                    history.setdefault(face.attributes["track_id"], []).append(face)
                    single = single_frame(face, wl).state
                    track = decide(sorted(history[face.attributes["track_id"]], key=lambda f: -capture_score(f))[:5], wl).state
                    counts["frame"][0] += single == expected
                    counts["frame"][1] += 1
                    counts["frame_false_alerts"] += single not in ("unknown", expected)
                    if track == PENDING:
                        counts["pending"] += 1
                        continue
                    counts["track"][0] += track == expected
                    counts["track"][1] += 1
                    counts["track_false_alerts"] += track not in ("unknown", expected)
    counts["frame_accuracy"] = round(counts["frame"][0] / counts["frame"][1], 4)
    counts["track_accuracy"] = round(counts["track"][0] / counts["track"][1], 4)
    counts["hamilton_closeup"] = hamilton_closeup(clips)
    return counts


def hamilton_closeup(clips: Path) -> dict:
    """Real stage video: on the close-up of Lin-Manuel Miranda (the longest track of the excerpt,
    every frame detected), how often does one frame name him, and the track rule (causal)?"""
    from facelens.pipeline import detect_rgb, embed_faces
    from facelens.video.identity import PENDING, MemoryWatchlist, decide, single_frame
    from facelens.video.sources import open_source
    from facelens.video.tracking import Tracker, capture_score

    wl = MemoryWatchlist.from_images({"lin-manuel-miranda": [clips / "enrol" / "lin-manuel-miranda.jpg"],
                                      "alex-lacamoire": [clips / "enrol" / "alex-lacamoire.jpg"]})
    tracker = Tracker(max_age=10)
    faces_by_track: dict[int, list] = {}
    with open_source(clips / "hamilton_excerpt.mp4") as source:
        for frame in source:
            faces = embed_faces(frame.image, detect_rgb(frame.image, keep_crop=True, min_score=0.35))
            for face in tracker.update(faces, frame.index, frame.timestamp):
                faces_by_track.setdefault(face.attributes["track_id"], []).append(face)
    closeup = max(faces_by_track.values(), key=len)
    single = [single_frame(f, wl).state == "lin-manuel-miranda" for f in closeup]
    track = [decide(sorted(closeup[: i + 1], key=lambda f: -capture_score(f))[:5], wl).state for i in range(len(closeup))]
    decided = [t for t in track if t != PENDING]
    return {"frames": len(closeup), "single_frame_named": round(float(np.mean(single)), 4),
            "track_named": round(float(np.mean([t == "lin-manuel-miranda" for t in decided])), 4),
            "first_named_frame_single": single.index(True) if any(single) else None,
            "first_named_frame_track": track.index("lin-manuel-miranda") if "lin-manuel-miranda" in track else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--frames", type=int, default=300, help="frames per stream (default 300)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per case; the best is kept")
    parser.add_argument("--ray", action="store_true", help="only the 4 streams as 4 Ray actors")
    parser.add_argument("--identity", action="store_true", help="only the identity-voting measurement")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    result = {"cpu_count": os.cpu_count(), "load_before": os.getloadavg()[0]}
    if args.ray:
        result["ray"] = ray_streams(args.data, args.frames)
    elif args.identity:
        result["identity"] = identity(REPO / "tests" / "data" / "video")
        print(json.dumps(result["identity"]))
    else:
        if not (args.data / "video" / "presenter_720p.mp4").exists():
            sys.exit(f"{args.data}: no video/presenter_720p.mp4 (pass --data DIR)")
        result["throughput"] = throughput(args.data, args.frames, args.repeat)
        result["load_after"] = os.getloadavg()[0]
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    started = time.perf_counter()
    main()
    print(f"# {time.perf_counter() - started:.0f} s", file=sys.stderr)
