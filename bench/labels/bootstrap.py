"""Bootstrap face labels for a video: candidate face tracks for a person to name and check by eye.

    python bench/labels/bootstrap.py VIDEO OUT_DIR [--tile 480] [--upsample 1] [--cuts 20,82,211]

Every frame is searched by three detectors — BlazeFace full-range on the whole frame, BlazeFace
on overlapping tiles (``--tile``), and dlib's HOG detector (``--upsample``) — and their boxes are
merged by non-maximum suppression (IoU 0.3). Boxes are then linked frame to frame by IoU ≥ 0.25
(gaps up to 6 frames, never across a shot cut given by ``--cuts``). Writes OUT_DIR/candidates.json
(track id → frame → box) and, for checking by eye, OUT_DIR/strips_NN.png (one row of crops per
candidate track) and OUT_DIR/sheet_NN.png (frames with the candidate boxes drawn).
A person then writes NAME.names.json (track id → identity, "ignore" or "not_a_face") and runs
build.py. See README.md.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np

from facelens.detection import get_detector
from facelens.detection.base import iou_matrix


def detections(video: Path, tile: int | None, upsample: int) -> list[list[list]]:
    """Per frame: [x1, y1, x2, y2, score, detector] merged over the three detectors."""
    import dlib

    whole = get_detector("blazeface", min_score=0.55)
    tiled = get_detector("blazeface", min_score=0.6, tile_size=tile) if tile else None
    hog = dlib.get_frontal_face_detector()
    capture = cv2.VideoCapture(str(video))
    frames = []
    while True:
        ok, bgr = capture.read()
        if not ok:
            return frames
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        found = [[*map(float, f.box), f.score, "blazeface"] for f in whole.detect(rgb)]
        if tiled is not None:
            found += [[*map(float, f.box), f.score, "blazeface_tiles"] for f in tiled.detect(rgb)]
        rects, scores, _ = hog.run(rgb, upsample, 0.0)
        found += [[r.left(), r.top(), r.right(), r.bottom(), 0.5 + 0.1 * float(s), "hog"] for r, s in zip(rects, scores)]
        frames.append(nms(found))


def nms(boxes: list[list], threshold: float = 0.3) -> list[list]:
    kept: list[list] = []
    for box in sorted(boxes, key=lambda b: -b[4]):
        if not kept or iou_matrix(np.array([box[:4]]), np.array([k[:4] for k in kept]))[0].max() < threshold:
            kept.append(box)
    return kept


def link(frames: list[list[list]], cuts: list[int], max_gap: int = 6) -> list[dict]:
    def shot(index: int) -> int:
        return sum(index >= c for c in cuts)

    tracks: list[dict] = []
    live: list[dict] = []
    for index, boxes in enumerate(frames):
        live = [t for t in live if index - max(t) <= max_gap and shot(max(t)) == shot(index)]
        used: set[int] = set()
        if live and boxes:
            overlaps = iou_matrix(np.array([b[:4] for b in boxes]), np.array([t[max(t)][:4] for t in live]))
            while overlaps.size and overlaps.max() >= 0.25:
                i, j = np.unravel_index(overlaps.argmax(), overlaps.shape)
                live[j][index] = boxes[i]
                used.add(int(i))
                overlaps[i, :] = 0
                overlaps[:, j] = 0
        for i, box in enumerate(boxes):
            if i not in used:
                track = {index: box}
                tracks.append(track)
                live.append(track)
    return [{"id": k, "first": min(t), "last": max(t), "n": len(t),
             "detectors": sorted({b[5] for b in t.values()}),
             "boxes": {str(f): [round(v, 1) for v in b[:4]] for f, b in sorted(t.items())}}
            for k, t in enumerate(tracks)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("video", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--tile", type=int, default=0, help="BlazeFace tile size (0: no tiled pass)")
    parser.add_argument("--upsample", type=int, default=1, help="dlib HOG upsampling")
    parser.add_argument("--cuts", default="", help="first frames of new shots, comma-separated")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    cuts = [int(c) for c in args.cuts.split(",") if c]
    tracks = link(detections(args.video, args.tile or None, args.upsample), cuts)
    (args.out / "candidates.json").write_text(json.dumps(tracks))
    from sheets import contact_sheets, track_strips

    track_strips(args.video, tracks, args.out / "strips")
    contact_sheets(args.video, tracks, args.out / "sheet", step=4)
    print(f"{len(tracks)} candidate tracks → {args.out}")


if __name__ == "__main__":
    main()
