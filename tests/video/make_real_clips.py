"""Cut the real-footage test clips (issue 17) from the shared videos and their benchmark labels.

    python tests/video/make_real_clips.py /path/to/shared/data

Writes to tests/data/video/ (provenance in tests/data/PROVENANCE.md):

* ``hamilton_cut.mp4`` — short_hamilton_clip.mp4 frames 180–250 (640×360): Lin-Manuel Miranda's
  close-up, a shot cut at clip frame 31, then the audience with Barack Obama;
* ``crowd_crossing.mp4`` — crowd_walk_1080p.mp4 frames 0–70, the part x 160–1760, y 520–960,
  scaled to 0.75 (1200×330): a woman crosses in front of a boy, a man walks in front of another;
* ``presenter_pan.mp4`` — presenter_720p.mp4 frames 0–179 seen through a 480×360 window that
  pans away from the presenter (his face leaves the picture for about three seconds) and back;
* ``enrol/presenter_f400.jpg`` — the presenter's face from frame 400 (not in the clip), to enrol;
* ``real_clips.json`` — each clip's labels (bench/labels, same format) cut and moved to the clip.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "tests" / "data" / "video"
LABELS = REPO / "bench" / "labels"


def frames(path: Path, first: int, last: int) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(path))
    capture.set(cv2.CAP_PROP_POS_FRAMES, first)
    out = []
    for _ in range(first, last + 1):
        ok, bgr = capture.read()
        if not ok:
            break
        out.append(bgr)
    return out


def write(path: Path, images: list[np.ndarray], fps: float) -> None:
    height, width = images[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    for image in images:
        writer.write(image)
    writer.release()


def cut_labels(name: str, first: int, last: int, move) -> dict:
    """The labels of frames first..last, renumbered from 0; ``move(frame, box)`` → box or None."""
    labels = json.loads((LABELS / f"{name}.json").read_text())
    faces = []
    for frame, identity, *box in labels["faces"]:
        if first <= frame <= last:
            moved = move(frame, box)
            if moved is not None:
                faces.append([frame - first, identity, *[round(v, 1) for v in moved]])
    ignore = []
    for a, b, *box in labels["ignore"]:
        if b >= first and a <= last:
            for frame in range(max(a, first), min(b, last) + 1):
                moved = move(frame, box)
                if moved is not None:
                    ignore.append([frame - first, frame - first, *[round(v, 1) for v in moved]])
    return {"source": f"{labels['video']} frames {first}-{last}", "fps": labels["fps"], "frames": last - first + 1,
            "cuts": [c - first for c in labels.get("cuts", []) if first < c <= last],
            "min_face_height": labels.get("min_face_height", 0), "identities": labels["identities"],
            "faces": faces, "ignore": ignore}


def pan_offset(frame: int) -> int:
    """Window left edge for the presenter pan: on him, pan right, hold away, pan back, hold."""
    near, away = 400, 800
    if frame < 30:
        return near
    if frame < 60:
        return round(near + (away - near) * (frame - 30) / 30)
    if frame < 120:
        return away
    if frame < 150:
        return round(away - (away - near) * (frame - 120) / 30)
    return near


def main(data: Path) -> None:
    video = data / "video"
    manifest = {}

    images = frames(video / "short_hamilton_clip.mp4", 180, 250)
    write(OUT / "hamilton_cut.mp4", images, 29.97)
    manifest["hamilton_cut"] = {"file": "hamilton_cut.mp4",
                                **cut_labels("short_hamilton_clip", 180, 250, lambda f, box: box)}

    x0, y0, x1, y1, scale = 160, 520, 1760, 960, 0.75
    images = [cv2.resize(image[y0:y1, x0:x1], None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
              for image in frames(video / "crowd_walk_1080p.mp4", 0, 70)]
    write(OUT / "crowd_crossing.mp4", images, 25.0)

    def crop_crowd(frame, box):
        moved = [(box[0] - x0) * scale, (box[1] - y0) * scale, (box[2] - x0) * scale, (box[3] - y0) * scale]
        return _clip(moved, images[0].shape) if _inside(moved, images[0].shape) >= 0.6 else None

    manifest["crowd_crossing"] = {"file": "crowd_crossing.mp4", **cut_labels("crowd_walk_1080p", 0, 70, crop_crowd)}

    source = frames(video / "presenter_720p.mp4", 0, 179)
    top = 20
    images = [image[top:top + 360, pan_offset(i):pan_offset(i) + 480] for i, image in enumerate(source)]
    write(OUT / "presenter_pan.mp4", images, 29.97)

    def crop_pan(frame, box):
        left = pan_offset(frame)
        moved = [box[0] - left, box[1] - top, box[2] - left, box[3] - top]
        return _clip(moved, images[0].shape) if _inside(moved, images[0].shape) >= 0.6 else None

    manifest["presenter_pan"] = {"file": "presenter_pan.mp4", **cut_labels("presenter_720p", 0, 179, crop_pan)}

    (enrol_frame,) = frames(video / "presenter_720p.mp4", 400, 400)
    cv2.imwrite(str(OUT / "enrol" / "presenter_f400.jpg"), enrol_frame[0:420, 380:900], [cv2.IMWRITE_JPEG_QUALITY, 90])
    lines = json.dumps(manifest, indent=None)
    (OUT / "real_clips.json").write_text(lines + "\n")
    for name, info in manifest.items():
        print(name, info["frames"], "frames,", len(info["faces"]), "labelled faces", (OUT / info["file"]).stat().st_size, "bytes")


def _inside(box, shape) -> float:
    height, width = shape[:2]
    w = max(0.0, min(box[2], width) - max(box[0], 0))
    h = max(0.0, min(box[3], height) - max(box[1], 0))
    return w * h / max((box[2] - box[0]) * (box[3] - box[1]), 1e-9)


def _clip(box, shape) -> list[float]:
    height, width = shape[:2]
    return [max(0.0, box[0]), max(0.0, box[1]), min(float(width), box[2]), min(float(height), box[3])]


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else REPO.parent / "shared" / "data")
