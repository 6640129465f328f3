"""Pictures for checking labels by eye (OpenCV → PNG): contact sheets of frames with the boxes and
names drawn, and one strip of face crops per track.

    python bench/labels/sheets.py VIDEO LABELS.json OUT_PREFIX [--step 3] [--width 480]

draws a finished labels file (build.py's output): faces in colour with their identity, ignore
regions in grey.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np


def _frames(video: Path) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(video))
    frames = []
    while True:
        ok, bgr = capture.read()
        if not ok:
            return frames
        frames.append(bgr)


def _colour(name: str) -> tuple[int, int, int]:
    seed = sum(ord(c) * (i + 1) for i, c in enumerate(name))
    return tuple(int(v) for v in np.random.default_rng(seed).integers(60, 256, 3))


def contact_sheets(video: Path, tracks: list[dict], prefix: Path, step: int = 4, width: int = 480,
                   per_sheet: int = 12, columns: int = 3, ignore: list[list] = (),
                   crop: tuple[int, int, int, int] | None = None) -> int:
    """Frames every ``step``, boxes drawn with each track's ``name`` (or id), optionally cut to
    ``crop`` (x1, y1, x2, y2: where the faces are); returns the number of sheets written."""
    by_frame: dict[int, list] = {}
    for track in tracks:
        for frame, box in track["boxes"].items():
            by_frame.setdefault(int(frame), []).append((str(track.get("name", track["id"])), box))
    tiles = []
    for index, bgr in enumerate(_frames(video)):
        if index % step:
            continue
        canvas = bgr.copy()
        scale = width / canvas.shape[1]
        thick = max(1, round(1.5 / scale))
        for first, last, *box in ignore:
            if first <= index <= last:
                cv2.rectangle(canvas, (int(box[0]), int(box[1])), (int(box[2]), int(box[3])), (128, 128, 128), thick)
        for name, box in by_frame.get(index, []):
            colour = _colour(name)
            cv2.rectangle(canvas, (int(box[0]), int(box[1])), (int(box[2]), int(box[3])), colour, thick)
            cv2.putText(canvas, name, (int(box[0]), max(12, int(box[1]) - 4)), cv2.FONT_HERSHEY_SIMPLEX,
                        0.45 / scale, colour, thick)
        if crop is not None:
            canvas = canvas[crop[1]:crop[3], crop[0]:crop[2]]
            scale = width / canvas.shape[1]
        small = cv2.resize(canvas, (width, round(canvas.shape[0] * scale)), interpolation=cv2.INTER_AREA)
        cv2.putText(small, str(index), (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 255, 255), 1)
        tiles.append(small)
    count = 0
    for start in range(0, len(tiles), per_sheet):
        chunk = tiles[start:start + per_sheet]
        chunk += [np.zeros_like(tiles[0])] * (-len(chunk) % columns)
        rows = [np.hstack(chunk[r:r + columns]) for r in range(0, len(chunk), columns)]
        cv2.imwrite(f"{prefix}_{count:02d}.png", np.vstack(rows))
        count += 1
    return count


def track_strips(video: Path, tracks: list[dict], prefix: Path, per_row: int = 10, rows_per_image: int = 12) -> int:
    """One row per track: up to ``per_row`` crops spread over its frames (box widened by 30 %)."""
    frames = _frames(video)
    rows = []
    for track in tracks:
        numbers = sorted(int(f) for f in track["boxes"])
        picks = [numbers[int(round(i))] for i in np.linspace(0, len(numbers) - 1, min(per_row, len(numbers)))]
        cells = []
        for frame in picks:
            x1, y1, x2, y2 = track["boxes"][str(frame)]
            w, h = x2 - x1, y2 - y1
            image = frames[frame]
            top, bottom = int(max(0, y1 - 0.3 * h)), int(min(image.shape[0], y2 + 0.3 * h))
            left, right = int(max(0, x1 - 0.3 * w)), int(min(image.shape[1], x2 + 0.3 * w))
            crop = image[top:bottom, left:right]
            cell = cv2.resize(crop, (80, 80)) if crop.size else np.zeros((80, 80, 3), np.uint8)
            cv2.putText(cell, str(frame), (2, 10), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (0, 255, 255), 1)
            cells.append(cell)
        cells += [np.zeros((80, 80, 3), np.uint8)] * (per_row - len(cells))
        label = np.zeros((80, 130, 3), np.uint8)
        cv2.putText(label, str(track.get("name", track["id"])), (2, 30), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (255, 255, 255), 1)
        cv2.putText(label, f"{numbers[0]}-{numbers[-1]} n{len(numbers)}", (2, 55), cv2.FONT_HERSHEY_SIMPLEX, 0.4,
                    (200, 200, 200), 1)
        rows.append(np.hstack([label, *cells]))
    for count, start in enumerate(range(0, len(rows), rows_per_image)):
        cv2.imwrite(f"{prefix}_{count:02d}.png", np.vstack(rows[start:start + rows_per_image]))
    return -(-len(rows) // rows_per_image)


def labels_as_tracks(labels: dict) -> list[dict]:
    tracks: dict[str, dict] = {}
    for frame, name, *box in labels["faces"]:
        tracks.setdefault(name, {"id": name, "name": name, "boxes": {}})["boxes"][str(frame)] = box
    return list(tracks.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("video", type=Path)
    parser.add_argument("labels", type=Path)
    parser.add_argument("prefix", type=Path)
    parser.add_argument("--step", type=int, default=3)
    parser.add_argument("--width", type=int, default=480)
    parser.add_argument("--crop", help="x1,y1,x2,y2: show only this part of each frame")
    parser.add_argument("--strips", action="store_true", help="also one crop strip per identity")
    args = parser.parse_args()
    labels = json.loads(args.labels.read_text())
    tracks = labels_as_tracks(labels)
    crop = tuple(int(v) for v in args.crop.split(",")) if args.crop else None
    sheets = contact_sheets(args.video, tracks, args.prefix, args.step, args.width, ignore=labels.get("ignore", []),
                            crop=crop)
    if args.strips:
        track_strips(args.video, tracks, Path(f"{args.prefix}_strips"))
    print(f"{sheets} contact sheets → {args.prefix}_NN.png")


if __name__ == "__main__":
    main()
