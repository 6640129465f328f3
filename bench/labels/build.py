"""Labels from candidate tracks and a person's naming: NAME.names.json + candidates.json → NAME.json.

    python bench/labels/build.py bench/labels/short_hamilton_clip.names.json CANDIDATES.json

NAME.names.json (written by hand after looking at bootstrap.py's strips and sheets):
  "tracks":  candidate track id → identity name, or "ignore" (a real face the benchmark does not
             score: blurred background, cut by the frame edge), or {name: [first, last], ...} when
             the track jumped from one person to another; an unlisted id is not a face (a logo,
             the back of a head) or a duplicate, and is dropped. Where two tracks give the same
             person a box in one frame, the track with more detections wins;
  "drop":    identity → frames to remove (a box the by-eye check found on the wrong thing);
  "ignore_regions": [first, last, x1, y1, x2, y2] extra regions not scored in those frames;
  "min_face_height": faces smaller than this (px) become ignore regions;
  "max_gap": gaps of a named face up to this many frames (same shot) are filled by linear
             interpolation of the two boxes around the gap.
The output lists, per frame, every scored face [frame, identity, x1, y1, x2, y2] and the ignore
regions [first, last, x1, y1, x2, y2]; a hypothesis that matches no face and lies mostly inside an
ignore region is not counted (evaluation/video.py).
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path


def build(names: dict, candidates: list[dict]) -> dict:
    cuts = names.get("cuts", [])
    max_gap = int(names.get("max_gap", 0))
    min_height = float(names.get("min_face_height", 0))
    by_id = {str(t["id"]): t for t in candidates}
    faces: dict[str, dict[int, list[float]]] = {}
    ignore = [list(r) for r in names.get("ignore_regions", [])]
    strength: dict[tuple[str, int], int] = {}
    for track_id, assignment in names["tracks"].items():
        boxes = {int(f): b for f, b in by_id[track_id]["boxes"].items()}
        spans = assignment if isinstance(assignment, dict) else {assignment: [min(boxes), max(boxes)]}
        for identity, (first, last) in spans.items():
            chosen = {f: b for f, b in boxes.items() if first <= f <= last}
            if identity == "ignore":
                ignore += [[f, f, *b] for f, b in chosen.items()]
                continue
            mine = faces.setdefault(identity, {})
            for frame, box in chosen.items():
                if strength.get((identity, frame), -1) < len(boxes):
                    mine[frame] = box
                    strength[(identity, frame)] = len(boxes)
    for identity, frames in names.get("drop", {}).items():
        for frame in frames:
            faces[identity].pop(frame, None)
    rows = []
    for identity, boxes in faces.items():
        filled = interpolate(boxes, max_gap, cuts)
        for frame, box in sorted(filled.items()):
            if box[3] - box[1] < min_height:
                ignore.append([frame, frame, *box])
            else:
                rows.append([frame, identity, *[round(v, 1) for v in box]])
    rows.sort(key=lambda r: (r[0], r[1]))
    return {key: names[key] for key in ("video", "source", "fps", "frames", "size", "cuts", "min_face_height",
                                        "identities", "notes")
            if key in names} | {"faces": rows, "ignore": sorted(ignore)}


def interpolate(boxes: dict[int, list[float]], max_gap: int, cuts: list[int]) -> dict[int, list[float]]:
    def shot(frame: int) -> int:
        return sum(frame >= c for c in cuts)

    out = dict(boxes)
    frames = sorted(boxes)
    for a, b in zip(frames, frames[1:]):
        if 1 < b - a <= max_gap + 1 and shot(a) == shot(b):
            for f in range(a + 1, b):
                t = (f - a) / (b - a)
                out[f] = [(1 - t) * p + t * q for p, q in zip(boxes[a], boxes[b])]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", type=Path)
    parser.add_argument("candidates", type=Path)
    args = parser.parse_args()
    names = json.loads(args.names.read_text())
    labels = build(names, json.loads(args.candidates.read_text()))
    labels["candidates_sha256"] = hashlib.sha256(args.candidates.read_bytes()).hexdigest()
    out = args.names.with_name(args.names.name.replace(".names.json", ".json"))
    lines = ",\n".join(json.dumps(row) for row in labels.pop("faces"))
    ignore = ",\n".join(json.dumps(row) for row in labels.pop("ignore"))
    head = json.dumps(labels, indent=1)[:-2]
    out.write_text(f'{head},\n "faces": [\n{lines}\n],\n "ignore": [\n{ignore}\n]\n}}\n')
    print(f"{out}: {lines.count(chr(10)) + 1 if lines else 0} faces")


if __name__ == "__main__":
    main()
