"""Photo-swap and replay attacks against the whole access decision, per capture size, and the
live sequences the defences must not refuse.

Protocol (fixed rules, seeds in the report; nothing hand-picked):

- **Attack pairs**, two real photos of one person, the second showing the asked action:
  blink: every ORL image labelled eyes-closed (``orl_eye_labels.json``, 13) with the subject's
  first eyes-open image; smile: LFW people (sorted) with a neutral and a smiling image in
  ``lfw/smile_labels.txt`` (first of each), up to ``limit``; turn: LFW people (sorted) with ≥ 3
  images among whose first six one is frontal (mesh yaw within ±8°) and another turned ≥ 20°
  from it, up to ``limit``. The person is enrolled from another of their images where there is
  one (else from the first photo).
- **Attacks**: ``attacks.swap_sequence`` — both photos recaptured with one set of artefacts
  (print or screen), held in the hand (a random walk of shift, roll, scale, tilt), the second
  photo swapped in lined up on the first one's eyes. Smile and turn at 15 fps: A×5, B×10; blink
  at 30 fps (below 25 fps the blink challenge is not offered, ``liveness_active.MIN_BLINK_FPS``):
  A×6, B×4, A×6. ``crossfade`` (every band, both simulators, on a screen): a slideshow that
  blends A into B over 133 ms (2 frames at 15 fps, 4 at 30 fps) and, for blink, back. Rendered
  at frame widths 320, 640, 1280 and 1920 (16:9) with the first face ``BANDS[width]`` pixels wide
  (drawn per sequence). Simulators: ``attacks`` (the one the passive model is trained on) and
  ``attacks_holdout`` (never used for training or tuning). With ``extras`` the held-out simulator
  also runs ``gap`` (the hand covers the camera for 2 frames while swapping) and ``careless``
  (the second photo not lined up) at 640 px, and a flat print turned by up to 40° for the turn
  challenge (``turned``).
- **Video replay** (``replay``): each live sequence below shown on a screen (held-out simulator)
  held in the hand in front of the camera, at every band: the real person doing the asked action,
  so only the passive score can refuse it.
- **Live sequences** (bona fide): the real frames in tests/data/access — the Hamilton clip's
  head turns (turn right from frame 84, turn left from frame 140) and the presenter clip's two
  blinks and smile at 15 fps (both frame phases) and 30 fps — resized so the face falls in each
  band and padded to the band's frame size.
- Each sequence runs through ``access.check`` at a door with ``liveness="both"`` and the
  challenge fixed. Counted: granted (the ISO/IEC 30107-3 APCER / BPCER of the whole decision),
  liveness passed, and each line alone (active: challenge completed; passive: mean score ≥ the
  door's threshold).

These are SIMULATED attacks made from real photos; no real presentation-attack data set was
available.
"""

from __future__ import annotations

import json
import secrets
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..errors import BadInputError
from . import attacks, attacks_holdout

BANDS = attacks.CAPTURE_BANDS  # frame width → face width (px)
ASPECT = attacks.FRAME_ASPECT
CHALLENGE_FPS = {"blink": 30, "smile": 15, "turn": 15}  # blink needs ≥ liveness_active.MIN_BLINK_FPS
_FADE_IN_15, _FADE_IN_30 = [(0, 1, 0.33), (0, 1, 0.67)], [(0, 1, w) for w in (0.2, 0.4, 0.6, 0.8)]
SCHEDULES = {
    "blink": [0] * 6 + [1] * 4 + [0] * 6,
    "smile": [0] * 5 + [1] * 10,
    "turn": [0] * 5 + [1] * 10,
}
CROSSFADE = {
    "blink": [0] * 6 + _FADE_IN_30 + [1] * 4 + _FADE_IN_30[::-1] + [0] * 4,
    "smile": [0] * 5 + _FADE_IN_15 + [1] * 10,
    "turn": [0] * 5 + _FADE_IN_15 + [1] * 10,
}
HARD_STYLES = {  # held-out simulator only, at 640 px (``extras``)
    "gap": {"blink": [0] * 6 + [-1] * 4 + [1] * 4 + [-1] * 2 + [0] * 6, "smile": [0] * 5 + [-1] * 2 + [1] * 10,
            "turn": [0] * 5 + [-1] * 2 + [1] * 10},
    "careless": SCHEDULES,
}
SIMULATORS = {"attacks": None, "holdout": attacks_holdout}
ACCESS_DATA = Path(__file__).resolve().parents[3] / "tests" / "data" / "access"


@dataclass(frozen=True)
class Pair:
    challenge: str  # blink, smile, turn_left, turn_right
    person: str
    photos: tuple[Path, Path]  # before (open / neutral / frontal), after (closed / smiling / turned)
    enrol: Path


def _read(path: Path, scale: float = 1.0) -> np.ndarray:
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise BadInputError(f"cannot read {path}")
    if scale != 1.0:
        bgr = cv2.resize(bgr, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _orl_scale(path: Path) -> float:
    return 3.0 if path.suffix == ".pgm" else 1.0  # ORL's 92×112 faces, enlarged as in eval blink


def blink_pairs(orl: Path) -> list[Pair]:
    labels = json.loads((Path(__file__).resolve().parent / "orl_eye_labels.json").read_text())
    unusable = set(labels["closed"]) | set(labels["partly_closed"])
    pairs = []
    for closed in labels["closed"]:
        subject = closed.split("/")[0]
        open_ids = [i for i in range(1, 11) if f"{subject}/{i}" not in unusable]
        if len(open_ids) < 2:
            continue
        folder = Path(orl) / subject
        if not folder.is_dir():  # a partial ORL copy (tests/data/access/orl holds five subjects)
            continue
        pairs.append(Pair("blink", f"orl-{subject}", (folder / f"{open_ids[0]}.pgm", folder / f"{closed.split('/')[1]}.pgm"),
                          folder / f"{open_ids[-1]}.pgm"))
    return pairs


def smile_pairs(lfw: Path, limit: int) -> list[Pair]:
    labels = defaultdict(lambda: {0: [], 1: []})
    for line in (Path(lfw) / "smile_labels.txt").read_text().splitlines():
        name, _, label = line.strip().rpartition(" ")
        if name and label in ("0", "1"):
            labels[name.split("/")[0]][int(label)].append(name)
    pairs = []
    for person in sorted(labels):
        neutral, smiling = sorted(labels[person][0]), sorted(labels[person][1])
        if neutral and smiling and len(pairs) < limit:
            images = Path(lfw) / "images"
            others = sorted(set(p.relative_to(images).as_posix() for p in (images / person).glob("*.jpg"))
                            - {neutral[0], smiling[0]})
            pairs.append(Pair("smile", person, (images / neutral[0], images / smiling[0]),
                              images / (others[0] if others else neutral[0])))
    return pairs


def _yaw(path: Path) -> float | None:
    from ..attributes.mesh import face_mesh, yaw_degrees
    from ..pipeline import detect_rgb

    rgb = _read(path)
    faces = detect_rgb(rgb)
    return yaw_degrees(face_mesh(rgb, max(faces, key=lambda f: f.area))) if faces else None


def turn_pairs(lfw: Path, limit: int) -> list[Pair]:
    images = Path(lfw) / "images"
    pairs = []
    for folder in sorted(p for p in images.iterdir() if p.is_dir()):
        if len(pairs) >= limit:
            break
        files = sorted(folder.glob("*.jpg"))
        if len(files) < 3:
            continue
        yaws = {f: _yaw(f) for f in files[:6]}
        frontal = [f for f, y in yaws.items() if y is not None and abs(y) <= 8]
        if not frontal:
            continue
        base = yaws[frontal[0]]
        turned = [f for f, y in yaws.items() if y is not None and abs(y - base) >= 20]
        if turned:
            direction = "turn_left" if yaws[turned[0]] > base else "turn_right"
            enrol = next((f for f in files if f not in (frontal[0], turned[0])), frontal[0])
            pairs.append(Pair(direction, folder.name, (frontal[0], turned[0]), enrol))
    return pairs


def _policy():
    from .policy import Policy

    policy = Policy(door="swap-eval", liveness="both", max_failures=10**6, lockout_s=0)
    try:
        return policy.resolved()
    except BadInputError:  # no calibration file: the LFW FAR 1e-3 point measured in docs/access.md
        return Policy(door="swap-eval", liveness="both", max_failures=10**6, lockout_s=0, threshold=0.4341,
                      threshold_source="LFW FAR 1e-3 (docs/access.md)")


def _outcome(decision, policy) -> dict:
    live = decision.liveness
    return {"granted": decision.granted, "liveness": live.passed,
            "active": live.active is not None and live.active >= 1.0,
            "passive": live.passive is not None and live.passive >= policy.passive_threshold,
            "passive_score": None if live.passive is None else round(live.passive, 4),
            "similarity": round(float(decision.similarity), 4) if np.isfinite(decision.similarity) else None,
            "reasons": list(decision.reasons)}


def live_sequences() -> list[dict]:
    """Real bona fide frame sequences from tests/data/access (see the module doc)."""
    ham = sorted((ACCESS_DATA / "hamilton").glob("*.jpg"))
    pres = {int(p.stem[1:]): p for p in (ACCESS_DATA / "presenter").glob("*.jpg")}

    def span(first, last, step):
        return [pres[i] for i in range(first, last + 1, step)]

    return [
        {"name": "hamilton turn_right", "person": "lin", "challenge": "turn_right", "frames": ham, "fps": 15},
        {"name": "hamilton turn_left", "person": "lin", "challenge": "turn_left", "frames": ham[28:], "fps": 15},
        {"name": "presenter blink 1 (15 fps, even)", "person": "presenter", "challenge": "blink", "frames": span(100, 124, 2), "fps": 15},
        {"name": "presenter blink 1 (15 fps, odd)", "person": "presenter", "challenge": "blink", "frames": span(101, 123, 2), "fps": 15},
        {"name": "presenter blink 2 (15 fps, even)", "person": "presenter", "challenge": "blink", "frames": span(404, 436, 2), "fps": 15},
        {"name": "presenter blink 2 (15 fps, odd)", "person": "presenter", "challenge": "blink", "frames": span(405, 435, 2), "fps": 15},
        {"name": "presenter blink 1 (30 fps)", "person": "presenter", "challenge": "blink", "frames": span(100, 124, 1), "fps": 30},
        {"name": "presenter blink 2 (30 fps)", "person": "presenter", "challenge": "blink", "frames": span(404, 436, 1), "fps": 30},
        {"name": "presenter smile (15 fps, even)", "person": "presenter", "challenge": "smile", "frames": span(140, 170, 2), "fps": 15},
        {"name": "presenter smile (15 fps, odd)", "person": "presenter", "challenge": "smile", "frames": span(141, 169, 2), "fps": 15},
        {"name": "presenter smile (30 fps)", "person": "presenter", "challenge": "smile", "frames": span(140, 170, 1), "fps": 30},
    ]


def fit_to_band(frames: list[np.ndarray], width: int, face_width: float) -> list[np.ndarray]:
    """Resize real frames so that their face is ``face_width`` px wide and pad/crop them to a
    width × 9/16 frame around the face (replicating the border: the scene goes on)."""
    from ..pipeline import detect_rgb

    faces = detect_rgb(frames[0])
    if not faces:
        raise BadInputError("the first live frame shows no face")
    face = max(faces, key=lambda f: f.area)
    scale = face_width / face.width
    height = int(round(width * ASPECT))
    cx, cy = face.center
    matrix = np.float32([[scale, 0, width / 2 - scale * cx], [0, scale, height / 2 - scale * cy]])
    flags = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    return [cv2.warpAffine(f, matrix, (width, height), flags=flags, borderMode=cv2.BORDER_REPLICATE) for f in frames]


def run(orl: Path, lfw: Path | None, out: Path, limit: int = 8, seed: int = 0, widths=tuple(BANDS),
        command: str = "", progress=None, both_kinds: bool = False, extras: bool = True, replay: bool = True,
        live: bool = True, simulators=tuple(SIMULATORS)) -> dict:
    """Run the protocol of the module doc; ``lfw`` None: the ORL blink pairs only. Writes
    ``out``/swap-report.json and returns the report."""
    from ..gallery import Gallery
    from ..usecases.enrolment import enrol
    from .decision import check

    started = time.perf_counter()
    for folder in (orl, lfw):
        if folder is not None and not Path(folder).is_dir():
            raise BadInputError(f"{folder}: not a folder")
    pairs = blink_pairs(orl) + (smile_pairs(lfw, limit) + turn_pairs(lfw, limit) if lfw is not None else [])
    if not pairs:
        raise BadInputError(f"no attack pairs: {orl} has no ORL subject with a labelled eyes-closed image"
                            + ("" if lfw else " (and no --lfw for smile and turn pairs)"))
    policy = _policy()
    rows, live_rows = [], []
    throwaway_key = secrets.token_bytes(32)  # the eval's own temporary gallery: no key file needed
    with tempfile.TemporaryDirectory() as tmp, Gallery(Path(tmp) / "swap-eval.db", key=throwaway_key) as gallery:
        enrol(gallery, "lin", [ACCESS_DATA / "enrol" / "lin-manuel-miranda.jpg"])
        enrol(gallery, "presenter", [ACCESS_DATA / "enrol" / "presenter.jpg"])
        for person, image in {pair.person: pair.enrol for pair in pairs}.items():
            enrol(gallery, person, [_read(image, _orl_scale(image))], face="largest")
        photos = {pair: [_read(p, _orl_scale(p)) for p in pair.photos] for pair in pairs}

        def attack(pair, index, simulator, kind, width, style, schedule, aligned=True):
            rng = np.random.default_rng([seed, index, width, len(style)])
            face_width = float(rng.uniform(*BANDS[width]))
            frames = attacks.swap_sequence(photos[pair], schedule, width, face_width, kind, seed=int(rng.integers(2**31)),
                                           simulator=SIMULATORS[simulator], aligned=aligned)
            fps = CHALLENGE_FPS[pair.challenge.split("_")[0]]
            decision = check(frames, pair.person, policy, gallery=gallery, challenge=pair.challenge, fps=fps)
            rows.append({"simulator": simulator, "kind": kind, "style": style, "width": width, "fps": fps,
                         "face_width": round(face_width), "challenge": pair.challenge, "person": pair.person,
                         "photos": [p.name for p in pair.photos], **_outcome(decision, policy)})
            if progress:
                progress(len(rows))

        for index, pair in enumerate(pairs):
            schedule_name = "turn" if pair.challenge.startswith("turn") else pair.challenge
            for simulator in simulators:
                for position, width in enumerate(widths):
                    # print and screen alternate over bands and pairs (half the renders; every
                    # band × species cell still gets half of the pairs), or both with both_kinds
                    kinds = attacks.KINDS if both_kinds else (attacks.KINDS[(position + index) % 2],)
                    for kind in kinds:
                        attack(pair, index, simulator, kind, width, "aligned cut", SCHEDULES[schedule_name])
                    # a slideshow needs a screen
                    attack(pair, index, simulator, "screen", width, "crossfade", CROSSFADE[schedule_name])
                if extras and simulator == "holdout" and 640 in widths:
                    for style, schedules in HARD_STYLES.items():
                        attack(pair, index, simulator, attacks.KINDS[index % 2], 640, style, schedules[schedule_name],
                               aligned=style != "careless")
        if extras:
            for index, pair in enumerate(p for p in pairs if p.challenge.startswith("turn")):
                rows.extend(_turned_print_attack(pair, photos[pair][0], index, seed, gallery, policy, widths))
        for number, sequence in enumerate(live_sequences() if live or replay else []):
            frames = [_read(p) for p in sequence["frames"]]
            for width in widths:
                rng = np.random.default_rng([seed, width, len(sequence["name"])])
                fitted = fit_to_band(frames, width, float(rng.uniform(*BANDS[width])))
                if live:
                    decision = check(fitted, sequence["person"], policy, gallery=gallery, challenge=sequence["challenge"],
                                     fps=sequence["fps"])
                    live_rows.append({"sequence": sequence["name"], "challenge": sequence["challenge"],
                                      "fps": sequence["fps"], "width": width, **_outcome(decision, policy)})
                if replay:
                    shown = attacks.replay_sequence(fitted, "screen", seed=int(rng.integers(2**31)),
                                                    simulator=attacks_holdout)
                    decision = check(shown, sequence["person"], policy, gallery=gallery, challenge=sequence["challenge"],
                                     fps=sequence["fps"])
                    rows.append({"simulator": "holdout", "kind": "screen", "style": "video replay", "width": width,
                                 "fps": sequence["fps"], "face_width": None, "challenge": sequence["challenge"],
                                 "person": sequence["person"], "photos": [sequence["name"]], **_outcome(decision, policy)})
                if progress:
                    progress(len(rows) + len(live_rows))
    report = {"what": __doc__.split("\n\n")[0], "protocol": "see facelens.access.swap_eval",
              "simulated": "SIMULATED attacks from real photos; no real presentation-attack data set was available",
              "seed": seed, "limit": limit, "policy": {"liveness": policy.liveness, "threshold": policy.threshold,
                                                        "passive_threshold": policy.passive_threshold},
              "pairs": {c: sum(p.challenge.startswith(c) for p in pairs) for c in ("blink", "smile", "turn")},
              "summary": summarise(rows, live_rows), "attacks": rows, "live": live_rows,
              "seconds": round(time.perf_counter() - started, 1), "command": command}
    out.mkdir(parents=True, exist_ok=True)
    (out / "swap-report.json").write_text(json.dumps(report, indent=1) + "\n")
    return report


def _turned_print_attack(pair: Pair, photo: np.ndarray, index: int, seed: int, gallery, policy, widths) -> list[dict]:
    """A flat print of the frontal photo turned 0 → 40° in the asked direction over 10 frames."""
    from .decision import check

    rows = []
    sign = 1.0 if pair.challenge == "turn_left" else -1.0
    for kind in attacks.KINDS:
        width = 640 if 640 in widths else widths[0]
        rng = np.random.default_rng([seed, index, 99])
        face_width = float(rng.uniform(*BANDS[width]))
        placed = attacks.place_photos([photo], width, face_width, rng)[0]
        recaptured = attacks_holdout.simulate(placed, kind, np.random.default_rng([seed, index, 98]))
        centre = (width / 2, placed.shape[0] / 2)
        angles = [0.0] * 5 + [sign * a for a in np.linspace(4, 40, 10)]
        frames = [attacks.camera_jitter(attacks_holdout.turned_print(recaptured, -a, centre), rng) for a in angles]
        decision = check(frames, pair.person, policy, gallery=gallery, challenge=pair.challenge)
        rows.append({"simulator": "holdout", "kind": kind, "style": "turned", "width": width,
                     "face_width": round(face_width), "challenge": pair.challenge, "person": pair.person,
                     "photos": [pair.photos[0].name], **_outcome(decision, policy)})
    return rows


def _rate(rows: list[dict], key: str) -> dict:
    n = len(rows)
    k = sum(bool(r[key]) for r in rows)
    return {"n": n, "accepted": k, "rate": round(k / n, 4) if n else None}


def summarise(rows: list[dict], live_rows: list[dict]) -> dict:
    """APCER (attacks accepted) per simulator × species × band, per challenge and per swap
    style; BPCER (live refused) per band; for the decision and for each liveness line alone."""
    out: dict = {"apcer": {}, "apcer_by_band": {}, "apcer_by_challenge": {}, "apcer_by_style": {}, "bpcer": {}}
    by_band = defaultdict(list)
    for r in rows:
        by_band[(r["style"], r["simulator"], r["width"])].append(r)
    out["apcer_by_band"] = {f"{style}/{simulator}/{width}": {key: _rate(g, key) for key in ("granted", "active", "passive")}
                            for (style, simulator, width), g in sorted(by_band.items())}
    groups = defaultdict(list)
    for r in rows:
        if r["style"] == "aligned cut":
            groups[(r["simulator"], r["kind"], r["width"])].append(r)
    for (simulator, kind, width), group in sorted(groups.items()):
        out["apcer"][f"{simulator}/{kind}/{width}"] = {key: _rate(group, key) for key in ("granted", "liveness", "active", "passive")}
    by_challenge = defaultdict(list)
    for r in rows:
        by_challenge[r["challenge"].split("_")[0]].append(r)
    out["apcer_by_challenge"] = {c: {key: _rate(g, key) for key in ("granted", "active", "passive")} for c, g in by_challenge.items()}
    by_style = defaultdict(list)
    for r in rows:
        by_style[(r["simulator"], r["style"])].append(r)
    out["apcer_by_style"] = {f"{s}/{style}": {key: _rate(g, key) for key in ("granted", "active", "passive")}
                             for (s, style), g in sorted(by_style.items())}
    out["apcer_all"] = {key: _rate(rows, key) for key in ("granted", "liveness", "active", "passive")}
    by_width = defaultdict(list)
    for r in live_rows:
        by_width[r["width"]].append(r)
    for width, group in sorted(by_width.items()):
        refused = {key: {"n": len(group), "refused": sum(not g[key] for g in group),
                         "rate": round(sum(not g[key] for g in group) / len(group), 4)}
                   for key in ("granted", "liveness", "active", "passive")}
        out["bpcer"][str(width)] = refused
    out["bpcer_all"] = {"n": len(live_rows), "refused": sum(not r["granted"] for r in live_rows)}
    by_kind = defaultdict(list)
    for r in live_rows:
        by_kind[(r["challenge"].split("_")[0], r["fps"], r["width"])].append(r)
    out["bpcer_by_challenge"] = {f"{c}/{fps}fps/{width}": {"n": len(g), "refused": sum(not x["granted"] for x in g)}
                                 for (c, fps, width), g in sorted(by_kind.items())}
    return out


STYLE_NAMES = {"aligned cut": "photo swap, lined up", "crossfade": "screen slideshow cross-fade",
               "video replay": "live video replayed on a screen", "gap": "swap behind the hand (640 px)",
               "careless": "swap not lined up (640 px)", "turned": "flat print turned (640 px)"}


def summary_table(summary: dict) -> str:
    """Markdown: attacks granted per attack × band (APCER of the whole decision), then the live
    sequences refused per challenge × band (BPCER)."""
    cells: dict = defaultdict(dict)
    for key, row in summary["apcer_by_band"].items():
        style, simulator, width = key.rsplit("/", 2)
        cells[(style, simulator)][int(width)] = row["granted"]
    widths = sorted({w for row in cells.values() for w in row}
                    | {int(k.rsplit("/", 1)[1]) for k in summary["bpcer_by_challenge"]})
    head = "| | " + " | ".join(f"{w} px" for w in widths) + " | all |"
    rule = "|---" * (len(widths) + 2) + "|"

    def cell(rates: list[dict]) -> str:
        n = sum(r["n"] for r in rates)
        k = sum(r.get("accepted", r.get("refused", 0)) for r in rates)
        return f"{k} / {n}" if n else "–"

    lines = ["APCER: attacks granted at a liveness-both door", head, rule]
    for (style, simulator), row in sorted(cells.items()):
        label = f"{STYLE_NAMES.get(style, style)} ({'held-out' if simulator == 'holdout' else 'trained'} simulator)"
        lines.append(f"| {label} | " + " | ".join(cell([row[w]] if w in row else []) for w in widths)
                     + f" | {cell(list(row.values()))} |")
    lines += ["", "BPCER: live sequences refused", head, rule]
    live: dict = defaultdict(dict)
    for key, row in summary["bpcer_by_challenge"].items():
        challenge, fps, width = key.split("/")
        live[(challenge, fps)][int(width)] = row
    for (challenge, fps), row in sorted(live.items()):
        per_band = " | ".join(cell([row[w]] if w in row else []) for w in widths)
        lines.append(f"| {challenge} at {fps.replace('fps', ' fps')} | {per_band} | {cell(list(row.values()))} |")
    return "\n".join(lines)


def parse_widths(text: str) -> tuple[int, ...]:
    """'320,640' → (320, 640); only the evaluated capture bands."""
    try:
        widths = tuple(int(w) for w in str(text).split(",") if w.strip())
    except ValueError:
        raise BadInputError(f"--widths must be frame widths separated by commas, not {text!r}") from None
    unknown = [w for w in widths if w not in BANDS]
    if not widths or unknown:
        raise BadInputError(f"--widths must be among {', '.join(map(str, BANDS))}, not {text!r}")
    return widths


def parse_simulators(text: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in str(text).split(",") if n.strip())
    if not names or any(n not in SIMULATORS for n in names):
        raise BadInputError(f"--simulators must be among {', '.join(SIMULATORS)}, not {text!r}")
    return names


def main(argv: list[str] | None = None) -> int:
    import argparse
    import shlex
    import sys

    parser = argparse.ArgumentParser(prog="python -m facelens.access.swap_eval", description=__doc__.split("\n\n")[0])
    parser.add_argument("--orl", type=Path, required=True, help="ORL folder (s1/1.pgm …)")
    parser.add_argument("--lfw", type=Path, default=None, help="LFW folder with images/ and smile_labels.txt (smile and turn pairs)")
    parser.add_argument("--out", type=Path, default=Path("runs/access/swap"))
    parser.add_argument("--limit", type=int, default=8, help="LFW smile and turn pairs, each")
    parser.add_argument("--widths", default="320,640,1280,1920")
    parser.add_argument("--simulators", default=",".join(SIMULATORS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--both-kinds", action="store_true", help="print AND screen for every pair and band (twice the time)")
    parser.add_argument("--no-extras", action="store_true", help="skip the gap / careless / turned-print styles")
    parser.add_argument("--no-replay", action="store_true", help="skip the video replays on a screen")
    parser.add_argument("--no-live", action="store_true", help="skip the live (bona fide) sequences")
    args = parser.parse_args(argv)
    try:
        widths, simulators = parse_widths(args.widths), parse_simulators(args.simulators)
        command = "python -m facelens.access.swap_eval " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
        report = run(args.orl, args.lfw, args.out, args.limit, args.seed, widths, command, both_kinds=args.both_kinds,
                     extras=not args.no_extras, replay=not args.no_replay, live=not args.no_live, simulators=simulators,
                     progress=lambda n: print(f"\r{n} sequences", end="", file=sys.stderr, flush=True))
    except BadInputError as exc:
        raise SystemExit(f"error: {exc}") from None
    print(json.dumps(report["summary"], indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
