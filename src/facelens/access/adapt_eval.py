"""Template adaptation on real data (LFW), without and with the guards, and a poisoning attempt.

Protocol (fixed rules, seed in the report):
- people with ≥ ``min_images`` images are *streamers*: enrolled with their first image (file
  number order = pseudo-time), then their later images arrive one by one, round-robin across
  people; each is scored (max cosine over the identity's current templates) BEFORE it may be
  added, so FNMR is measured online;
- people with 2 … min_images−1 images are shuffled (seed) and split in halves: one half enrolled
  (first image) as *distractor* identities (they make the margin guard realistic), the other
  half are *outsiders* together with the people who have one image;
- FMR: every outsider image against every streamer identity, with the final templates;
- poisoning: for each streamer, the outsider with ≥ 2 images most similar to its enrolment is the
  look-alike attacker; after the genuine stream the attacker presents all their images
  ``rounds`` times; accepted attempts are offered to the adaptation like any granted access.
Modes: ``none`` (enrolment templates only), ``guarded`` (adaptation.guard), ``unguarded`` (every
accepted probe is added, same K limit) to show what the guards prevent.
The quality guard is not exercised here (LFW embeddings carry no capture-quality record).
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import asdict
from pathlib import Path

import numpy as np

from ..constants import DEFAULT_MODEL
from ..errors import BadInputError
from .adaptation import Rules, anchored_score, guard

MODES = ("none", "guarded", "unguarded")


def load_embeddings(cache: Path, model: str = DEFAULT_MODEL) -> tuple[list[str], np.ndarray]:
    try:
        data = np.load(cache, allow_pickle=False)
    except OSError as exc:
        raise BadInputError(f"{cache}: cannot read embeddings cache ({exc})") from None
    if model not in data.files:
        raise BadInputError(f"{cache}: no {model} embeddings (has {', '.join(data.files)})")
    vectors = data[model].astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True) + 1e-12
    return [str(n) for n in data["names"]], vectors


def split(names: list[str], min_images: int, seed: int) -> dict:
    by_person: dict[str, list[int]] = defaultdict(list)
    for i, name in sorted(enumerate(names), key=lambda item: item[1]):  # file number order
        by_person[name.split("/")[0]].append(i)
    streamers = sorted(p for p, idx in by_person.items() if len(idx) >= min_images)
    middle = sorted(p for p, idx in by_person.items() if 2 <= len(idx) < min_images)
    random.Random(seed).shuffle(middle)
    half = len(middle) // 2
    distractors, attackers = sorted(middle[:half]), sorted(middle[half:])
    singles = sorted(p for p, idx in by_person.items() if len(idx) == 1)
    if not streamers:
        raise BadInputError(f"no person has {min_images} or more images")
    return {"by_person": by_person, "streamers": streamers, "distractors": distractors,
            "attackers": attackers, "outsiders": attackers + singles}


class Simulation:
    """Templates of every enrolled identity under one adaptation mode."""

    def __init__(self, vectors: np.ndarray, enrol: dict[str, int], mode: str, rules: Rules, scoring: str = "max"):
        self.vectors, self.mode, self.rules, self.scoring = vectors, mode, rules, scoring
        self.names = sorted(enrol)
        self.enrol = {n: vectors[[enrol[n]]] for n in self.names}
        self.adaptive: dict[str, list[np.ndarray]] = {n: [] for n in self.names}
        self.enrol_matrix = np.concatenate([self.enrol[n] for n in self.names])
        self.added = 0
        self.refused: dict[str, int] = defaultdict(int)

    def templates(self, name: str) -> np.ndarray:
        extra = self.adaptive[name]
        return np.concatenate([self.enrol[name], np.stack(extra)]) if extra else self.enrol[name]

    def score(self, name: str, probe: np.ndarray) -> float:
        return anchored_score(self.enrol[name], self.adaptive[name], probe) if self.scoring == "anchored" \
            else float(np.max(self.templates(name) @ probe))

    def best_other(self, name: str, probe: np.ndarray) -> float:
        sims = self.enrol_matrix @ probe
        own = self.names.index(name)
        sims[own] = -1.0
        best = float(sims.max())
        for other, rows in self.adaptive.items():
            if other != name and rows:
                best = max(best, float(np.max(np.stack(rows) @ probe)))
        return best

    def offer(self, name: str, probe: np.ndarray, similarity: float) -> bool:
        """A granted probe: add it as an adaptive template if the mode allows."""
        if self.mode == "none":
            return False
        if self.mode == "guarded":
            adaptive = np.stack(self.adaptive[name]) if self.adaptive[name] else np.empty((0, probe.size), np.float32)
            verdict = guard(probe, self.enrol[name], adaptive, similarity - self.best_other(name, probe), (), self.rules)
            if not verdict.accepted:
                for reason in verdict.reasons:
                    self.refused[reason.split(":")[0].split(" ")[0]] += 1
                return False
        self.adaptive[name].append(probe)
        if len(self.adaptive[name]) > self.rules.max_adaptive:
            self.adaptive[name].pop(0)
        self.added += 1
        return True


def run(cache: Path, threshold: float, *, min_images: int = 8, seed: int = 0, rounds: int = 5,
        rules: Rules = Rules(), model: str = DEFAULT_MODEL, fixed_fmr: float | None = None,
        command: str = "") -> dict:
    """``threshold`` for every mode, or (``fixed_fmr``) a threshold per mode at which the
    outsiders' FMR against the final templates equals ``fixed_fmr``."""
    names, vectors = load_embeddings(cache, model)
    parts = split(names, min_images, seed)
    by_person = parts["by_person"]
    enrolled = {p: by_person[p][0] for p in parts["streamers"] + parts["distractors"]}
    outsider_rows = np.array([i for p in parts["outsiders"] for i in by_person[p]])
    streams = {p: by_person[p][1:] for p in parts["streamers"]}
    report = {"what": "guarded template adaptation on LFW (pseudo-time = file number)",
              "model": model, "threshold": threshold, "rules": asdict(rules), "seed": seed,
              "min_images": min_images, "streamers": len(parts["streamers"]),
              "genuine_probes": sum(len(s) for s in streams.values()),
              "distractor_identities": len(parts["distractors"]), "outsider_images": int(len(outsider_rows)),
              "fixed_fmr": fixed_fmr, "command": command, "modes": {}}
    # look-alike attacker per streamer, chosen against the enrolment template (what they can see)
    attackers = parts["attackers"]
    attacker_rows = {p: by_person[p] for p in attackers}
    look_alike = {}
    for person in parts["streamers"]:
        target = vectors[enrolled[person]]
        look_alike[person] = max(attackers, key=lambda a: float(np.mean(vectors[attacker_rows[a]] @ target)))
    outsiders = vectors[outsider_rows]
    for mode in MODES:
        for scoring in (("max",) if mode == "none" else ("max", "anchored")):
            thr = threshold
            if fixed_fmr is not None:
                thr = _threshold_for_fmr(vectors, enrolled, mode, rules, scoring, parts, streams, outsiders, fixed_fmr)
            sim = Simulation(vectors, enrolled, mode, rules, scoring)
            stream = _stream(sim, parts["streamers"], streams, vectors, thr)
            fmr_before = _fmr(sim, parts["streamers"], outsiders, thr)
            attack = _attack(sim, parts["streamers"], look_alike, attacker_rows, vectors, thr, rounds)
            attack["fmr_outsiders_after_attack"] = _fmr(sim, parts["streamers"], outsiders, thr)
            report["modes"][mode if mode == "none" else f"{mode}/{scoring}"] = {
                "threshold": thr, **stream, "fmr_outsiders": fmr_before,
                "adaptive_templates_added": sim.added, "guard_refusals": dict(sim.refused), "poisoning": attack,
            }
    return report


def _fmr(sim: Simulation, people: list[str], outsiders: np.ndarray, threshold: float) -> float:
    accepted = total = 0
    for person in people:
        scores = np.max(outsiders @ sim.templates(person).T, axis=1)
        accepted += int((scores >= threshold).sum())
        total += len(scores)
    return accepted / max(total, 1)


def _stream(sim: Simulation, people: list[str], streams: dict[str, list[int]], vectors: np.ndarray,
            threshold: float) -> dict:
    rejects = late_rejects = late_total = total = 0
    longest = max(len(s) for s in streams.values())
    for step in range(longest):
        for person in people:
            if step >= len(streams[person]):
                continue
            probe = vectors[streams[person][step]]
            score = sim.score(person, probe)
            late = step >= len(streams[person]) // 2
            total += 1
            late_total += late
            if score >= threshold:
                sim.offer(person, probe, score)
            else:
                rejects += 1
                late_rejects += late
    return {"fnmr": rejects / max(total, 1), "fnmr_late_half": late_rejects / max(late_total, 1)}


def _attack(sim: Simulation, people: list[str], look_alike: dict[str, str], attacker_rows: dict[str, list[int]],
            vectors: np.ndarray, threshold: float, rounds: int) -> dict:
    attempts = accepted = breached_targets = 0
    first_round = first_accepted = 0
    for person in people:
        rows = attacker_rows[look_alike[person]]
        breached = False
        for round_ in range(rounds):
            for row in rows:
                probe = vectors[row]
                score = sim.score(person, probe)
                attempts += 1
                first_round += round_ == 0
                if score >= threshold:
                    accepted += 1
                    first_accepted += round_ == 0
                    breached = True
                    sim.offer(person, probe, score)
        breached_targets += breached
    return {"attempts": attempts, "accepted": accepted, "acceptance": accepted / max(attempts, 1),
            "first_round_acceptance": first_accepted / max(first_round, 1),
            "last_rounds_acceptance": (accepted - first_accepted) / max(attempts - first_round, 1),
            "targets_breached": breached_targets, "targets": len(people)}


def _threshold_for_fmr(vectors, enrolled, mode, rules, scoring, parts, streams, outsiders, target: float) -> float:
    """Bisection on the threshold: outsider FMR after the genuine stream ≈ target (≤)."""
    low, high = 0.0, 1.0
    for _ in range(14):
        mid = (low + high) / 2
        sim = Simulation(vectors, enrolled, mode, rules, scoring)
        _stream(sim, parts["streamers"], streams, vectors, mid)
        if _fmr(sim, parts["streamers"], outsiders, mid) > target:
            low = mid
        else:
            high = mid
    return high
