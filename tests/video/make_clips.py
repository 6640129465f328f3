"""Build the short test clips in tests/data/video/ from real photos (run once; outputs committed).

    python tests/video/make_clips.py /path/to/shared/data

Each clip composites real face photos moving over a plain background, so the ground truth
(who is where, when) is known exactly; ``clips.json`` records it. The Hamilton excerpt is a
cut of a real stage video at reduced size. See tests/data/PROVENANCE.md.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import cv2
import numpy as np

OUT = Path(__file__).resolve().parents[1] / "data" / "video"
SIZE = (480, 272)  # width, height (multiples of 16 for the codec)
FPS = 15.0

# camera → (seconds, [(person, photo, t_in, t_out, (x0, y0), (x1, y1), face height px)])
SCENES = {
    "corridor": (8.0, [
        ("obama", "photos/obama2.jpg", 0.4, 4.2, (-0.05, 0.45), (0.55, 0.40), 92),
        ("sheldon", "faceapi/sheldon/sheldon3.png", 2.0, 6.4, (1.05, 0.55), (0.35, 0.50), 84),
        ("penny", "faceapi/penny/penny3.png", 4.6, 8.0, (0.30, 1.05), (0.80, 0.45), 80),
    ]),
    "lobby": (6.0, [
        ("sheldon", "faceapi/sheldon/sheldon4.png", 0.3, 3.6, (0.20, -0.05), (0.30, 0.50), 88),
        ("raj", "faceapi/raj/raj3.png", 1.0, 5.6, (1.05, 0.40), (0.60, 0.45), 84),
        ("leonard", "faceapi/leonard/leonard3.png", 3.0, 6.0, (-0.05, 0.60), (0.25, 0.50), 86),
    ]),
}
ENROL = {"obama": ["photos/obama.jpg"], "sheldon": ["faceapi/sheldon/sheldon1.png", "faceapi/sheldon/sheldon2.png"],
         "leonard": ["faceapi/leonard/leonard1.png", "faceapi/leonard/leonard2.png"]}


def head_patch(data: Path, photo: str) -> np.ndarray:
    """The face region of a photo, widened for context (crops of faceapi are already tight)."""
    image = cv2.imread(str(data / photo))
    if "faceapi" in photo:
        return image
    import facelens

    face = max(facelens.detect(image), key=lambda f: f.area)
    cx, cy = face.center
    half = max(face.width, face.height) * 0.75
    x1, y1 = int(max(cx - half, 0)), int(max(cy - half * 1.1, 0))
    x2, y2 = int(min(cx + half, image.shape[1])), int(min(cy + half * 0.9, image.shape[0]))
    return image[y1:y2, x1:x2]


def background(height: int, width: int) -> np.ndarray:
    rng = np.random.default_rng(7)
    ys = np.linspace(0, 1, height)[:, None]
    base = (90 + 60 * ys) * np.ones((1, width))
    frame = np.stack([base * 0.9, base * 0.95, base], axis=-1)
    for _ in range(12):  # a few "doors" and "posters"
        x, y = rng.integers(0, width - 60), rng.integers(0, height - 80)
        w, h = rng.integers(30, 90), rng.integers(40, 120)
        frame[y : y + h, x : x + w] = rng.integers(40, 200, 3)
    frame += rng.normal(0, 4, frame.shape)
    return np.clip(frame, 0, 255).astype(np.uint8)


def paste(frame: np.ndarray, patch: np.ndarray, cx: float, cy: float, height: int) -> tuple | None:
    scale = height / patch.shape[0]
    patch = cv2.resize(patch, (max(2, round(patch.shape[1] * scale)), height), interpolation=cv2.INTER_AREA)
    ph, pw = patch.shape[:2]
    mask = np.zeros((ph, pw), np.float32)
    cv2.ellipse(mask, (pw // 2, ph // 2), (int(pw * 0.47), int(ph * 0.49)), 0, 0, 360, 1.0, -1)
    mask = cv2.GaussianBlur(mask, (0, 0), max(1.0, pw * 0.04))[..., None]
    x1, y1 = round(cx - pw / 2), round(cy - ph / 2)
    fx1, fy1 = max(x1, 0), max(y1, 0)
    fx2, fy2 = min(x1 + pw, frame.shape[1]), min(y1 + ph, frame.shape[0])
    if fx2 <= fx1 or fy2 <= fy1:
        return None
    sub = patch[fy1 - y1 : fy2 - y1, fx1 - x1 : fx2 - x1].astype(np.float32)
    m = mask[fy1 - y1 : fy2 - y1, fx1 - x1 : fx2 - x1]
    region = frame[fy1:fy2, fx1:fx2].astype(np.float32)
    frame[fy1:fy2, fx1:fx2] = (m * sub + (1 - m) * region).astype(np.uint8)
    return (x1, y1, x1 + pw, y1 + ph)


def make_scene(data: Path, camera: str, seconds: float, actors: list) -> dict:
    width, height = SIZE
    patches = {name: head_patch(data, photo) for name, photo, *_ in actors}
    bg = background(height, width)
    path = OUT / f"{camera}.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, SIZE)
    truth = []
    for index in range(int(seconds * FPS)):
        t = index / FPS
        frame = bg.copy()
        for name, photo, t_in, t_out, (x0, y0), (x1, y1), face_h in actors:
            if not t_in <= t < t_out:
                continue
            a = (t - t_in) / (t_out - t_in)
            cx = (x0 + a * (x1 - x0)) * width
            cy = (y0 + a * (y1 - y0)) * height + 4 * np.sin(t * 6)  # a walking bob
            box = paste(frame, patches[name], cx, cy, int(face_h * (0.9 + 0.2 * a)))
            if box:
                truth.append({"frame": index, "person": name, "box": [int(v) for v in box]})
        writer.write(frame)
    writer.release()
    people = {name: {"photo": photo, "t_in": t_in, "t_out": t_out} for name, photo, t_in, t_out, *_ in actors}
    return {"file": path.name, "fps": FPS, "frames": int(seconds * FPS), "people": people, "truth": truth}


def hamilton(data: Path, start: int = 70, frames: int = 150) -> dict:
    capture = cv2.VideoCapture(str(data / "video" / "short_hamilton_clip.mp4"))
    capture.set(cv2.CAP_PROP_POS_FRAMES, start)
    fps = capture.get(cv2.CAP_PROP_FPS)
    path = OUT / "hamilton_excerpt.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (480, 272))
    for _ in range(frames):
        ok, frame = capture.read()
        if not ok:
            break
        writer.write(cv2.resize(frame, (480, 272), interpolation=cv2.INTER_AREA))
    writer.release()
    return {"file": path.name, "fps": fps, "frames": frames, "source_frames": [start, start + frames]}


def main(data: Path) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    enrol_dir = OUT / "enrol"
    enrol_dir.mkdir(exist_ok=True)
    enrol = {}
    for name, photos in ENROL.items():
        enrol[name] = []
        for photo in photos:
            target = enrol_dir / f"{name}_{Path(photo).name}"
            if photo.startswith("photos/"):  # large portraits: keep a 400 px copy
                image = cv2.imread(str(data / photo))
                scale = 400 / max(image.shape[:2])
                cv2.imwrite(str(target.with_suffix(".jpg")), cv2.resize(image, None, fx=scale, fy=scale,
                            interpolation=cv2.INTER_AREA), [cv2.IMWRITE_JPEG_QUALITY, 90])
                target = target.with_suffix(".jpg")
            else:
                shutil.copy(data / photo, target)
            enrol[name].append(f"enrol/{target.name}")
    for portrait in ("lin-manuel-miranda.png", "alex-lacamoire.png"):
        image = cv2.imread(str(data / "photos" / portrait))
        scale = 300 / max(image.shape[:2])
        cv2.imwrite(str(enrol_dir / portrait.replace(".png", ".jpg")),
                    cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA),
                    [cv2.IMWRITE_JPEG_QUALITY, 90])
    manifest = {"enrol": enrol, "clips": {cam: make_scene(data, cam, *scene) for cam, scene in SCENES.items()},
                "hamilton": hamilton(data)}
    (OUT / "clips.json").write_text(json.dumps(manifest, indent=1))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
