"""`facelens access …` (check, policy set|show, rollback) and the access evaluations under
`facelens eval …` (fairness, fairness-groups, adaptation, blink, pad, swap): parse, call
facelens.usecases (or the facelens.access function that is the whole operation), print."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer

from ..constants import DEFAULT_DETECTOR, DEFAULT_MODEL
from .common import command_line
from .evaluate import eval_app

access_app = typer.Typer(help="Access control: liveness + verification decisions per door.", no_args_is_help=True)
policy_app = typer.Typer(help="Per-door access policies (stored in the gallery database).", no_args_is_help=True)
access_app.add_typer(policy_app, name="policy")

DB_HELP = "Gallery database: a SQLite file path or a postgresql:// URL (default: $FACELENS_DB or the data dir)."


def register(app: typer.Typer) -> None:
    app.add_typer(access_app, name="access")


def _open(db: Optional[str]):
    from ..gallery import Gallery

    return Gallery(db)


@access_app.command("check")
def check_command(
    camera: Optional[int] = typer.Option(None, "--camera", help="Webcam index."),
    video: Optional[Path] = typer.Option(None, "--video", help="Video file."),
    frames: Optional[Path] = typer.Option(None, "--frames", help="Folder of frames (name order)."),
    claim: Optional[str] = typer.Option(None, "--claim", help="Claimed identity (1:1); omit for walk-up 1:N."),
    door: str = typer.Option("default", "--door", help="Door whose stored policy applies."),
    challenge: Optional[str] = typer.Option(None, "--challenge", help="Fix the challenge: blink, turn_left, turn_right, smile or a sequence a+b."),
    fps: float = typer.Option(15.0, "--fps", help="Frame rate of a --frames folder (for the challenge time-out)."),
    db: Optional[str] = typer.Option(None, "--db", help=DB_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the decision as one JSON object."),
) -> None:
    """Decide one access attempt. Exit code 0 whenever the check ran, granted or not."""
    from ..errors import BadInputError
    from ..usecases.access import check_access

    given = [x for x in (camera, video, frames) if x is not None]
    if len(given) != 1:
        raise BadInputError("give exactly one of --camera N, --video FILE or --frames DIR")

    def announce(name: str) -> None:  # stderr: --json keeps stdout to the one decision object
        print(f"challenge: {name.replace('_', ' ').replace('+', ', then ')}", file=sys.stderr, flush=True)

    with _open(db) as gallery:
        decision = check_access(gallery, given[0], claim=claim, door=door, challenge=challenge,
                                fps=fps if frames is not None else None, announce=announce)
    if as_json:
        print(json.dumps(decision.to_dict()))
        return
    verdict = "GRANTED" if decision.granted else "REFUSED"
    who = decision.identity or decision.claim or "unknown"
    print(f"{verdict}: {who} at door {decision.door} (similarity {decision.to_dict()['similarity']:.3f} / "
          f"threshold {decision.threshold:.3f}; liveness {decision.liveness.challenge} "
          f"{'passed' if decision.liveness.passed else 'failed'}, score {decision.liveness.score:.2f})")
    for reason in decision.reasons:
        print(f"  reason: {reason}")


@policy_app.command("set")
def policy_set(
    door: str = typer.Option("default", "--door", help="Door or zone name."),
    far: Optional[float] = typer.Option(None, "--far", help="False-accept rate the threshold is chosen at (1e-3 or 1e-2)."),
    threshold: Optional[float] = typer.Option(None, "--threshold", help="Explicit cosine threshold (overrides --far)."),
    liveness: Optional[str] = typer.Option(None, "--liveness", help="active, passive, both or none."),
    challenges: Optional[str] = typer.Option(None, "--challenges", help="Comma list the random challenge is drawn from."),
    sequence: Optional[int] = typer.Option(None, "--sequence", help="Challenges per attempt (a short sequence)."),
    timeout: Optional[float] = typer.Option(None, "--timeout", help="Seconds allowed for the challenge."),
    hours: Optional[list[str]] = typer.Option(None, "--hours", help="Allowed hours HH:MM-HH:MM (UTC); repeat; 'always' clears."),
    max_failures: Optional[int] = typer.Option(None, "--max-failures", help="Failed attempts before a lockout."),
    lockout: Optional[float] = typer.Option(None, "--lockout", help="Lockout cool-down in seconds."),
    adaptation: Optional[bool] = typer.Option(None, "--adaptation/--no-adaptation", help="Guarded template adaptation after grants."),
    keep_images: Optional[bool] = typer.Option(None, "--keep-images/--no-keep-images", help="Store an encrypted face crop with each decision."),
    passive_threshold: Optional[float] = typer.Option(None, "--passive-threshold", help="Minimum passive liveness score."),
    db: Optional[str] = typer.Option(None, "--db", help=DB_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the stored policy as JSON."),
) -> None:
    """Create or change a door's policy (unnamed settings keep their current values)."""
    from ..usecases.access import update_policy

    with _open(db) as gallery:
        stored = update_policy(
            gallery, door, far=far, threshold=threshold, liveness=liveness, sequence_length=sequence,
            challenge_timeout_s=timeout, max_failures=max_failures, lockout_s=lockout, adaptation=adaptation,
            keep_images=keep_images, passive_threshold=passive_threshold,
            challenges=None if challenges is None else [c.strip() for c in challenges.split(",") if c.strip()],
            allowed_hours=None if hours is None else ([] if hours == ["always"] else hours))
    print(json.dumps(stored.to_dict()) if as_json else f"policy for door {stored.door!r} stored: "
          f"threshold {stored.threshold:.4f} ({stored.threshold_source}), liveness {stored.liveness}, "
          f"lockout after {stored.max_failures} failures for {stored.lockout_s:g} s")
    _warn_photo_passable([stored])


@policy_app.command("show")
def policy_show(
    door: Optional[str] = typer.Option(None, "--door", help="One door (default: all stored policies)."),
    db: Optional[str] = typer.Option(None, "--db", help=DB_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show stored policies (or the default a door without one would get)."""
    from ..usecases.access import show_policies

    with _open(db) as gallery:
        policies = show_policies(gallery, door)
    if as_json:
        print(json.dumps({"policies": [p.to_dict() for p in policies]}))
        return
    if not policies:
        print("no policies stored (doors use the default policy)")
    for p in policies:
        print(json.dumps(p.to_dict(), indent=1))
    _warn_photo_passable(policies)


def _warn_photo_passable(policies) -> None:
    """stderr (stdout stays the policy or its JSON): doors stored with blink or smile — the
    default before head turns — are passed by a cross-faded photo slideshow."""
    for policy in policies:
        weak = policy.photo_passable_challenges
        if weak:
            print(f"warning: door {policy.door!r} accepts {' and '.join(weak)}, which a cross-faded photo slideshow "
                  f"passes (docs/access.md); head turns only: facelens access policy set --door {policy.door} "
                  f"--challenges turn_left,turn_right --sequence 1", file=sys.stderr)


@access_app.command("rollback")
def rollback_command(
    name: str = typer.Argument(..., help="Identity whose adaptive templates are removed."),
    db: Optional[str] = typer.Option(None, "--db", help=DB_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Restore the enrolment state of NAME (remove every adaptive template; audited)."""
    from ..access.adaptation import rollback

    with _open(db) as gallery:
        result = rollback(gallery, name)
    print(json.dumps(result) if as_json else
          f"{name}: removed {sum(result['removed'].values())} adaptive template(s); enrolment templates kept: "
          + ", ".join(f"{m} {n}" for m, n in result["enrolment_templates"].items()))


# ---------------------------------------------------------------- evaluations (under `facelens eval`)


@eval_app.command("fairness")
def fairness_command(
    pairs: Path = typer.Option(..., help="LFW-style pairs file."),
    images: Path = typer.Option(..., help="Folder holding NAME/NAME_0001.jpg images."),
    groups: Path = typer.Option(..., help="CSV image,group (make one with `facelens eval fairness-groups`)."),
    model: str = typer.Option(DEFAULT_MODEL, help="mobilefacenet or dlib."),
    threshold: Optional[float] = typer.Option(None, help="Operating threshold (default: the calibrated FAR points)."),
    detector: str = typer.Option(DEFAULT_DETECTOR, help="Detector used to find each face."),
    cache: Optional[Path] = typer.Option(None, help="Embeddings cache .npz (default OUT/embeddings-DETECTOR.npz)."),
    out: Path = typer.Option(Path("runs/eval-fairness"), help="Folder for report.json, table.md and fairness.png."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as one JSON object."),
) -> None:
    """FMR and FNMR per group at the operating threshold, 95 % intervals, ratios between groups."""
    from ..usecases.evaluation import evaluate_fairness, fairness_table

    report = evaluate_fairness(pairs, images, groups, model=model, threshold=threshold, detector=detector,
                               cache=cache, out=out, command=command_line())
    if as_json:
        print(json.dumps(report, default=float))
    else:
        print(fairness_table(report))
        print(f"report: {out / 'report.json'}, plot: {out / 'fairness.png'}")


@eval_app.command("fairness-groups")
def fairness_groups_command(
    lists: list[str] = typer.Option(..., "--list", help="GROUP=FILE with one image file name per line; repeat."),
    out: Path = typer.Option(..., "--out", help="CSV to write (image,group)."),
) -> None:
    """Build the groups CSV from per-group name lists (e.g. LFW female_names.txt / male_names.txt)."""
    from ..access.fairness import groups_from_lists
    from ..usecases.inputs import parse_pairs

    parsed = {group: Path(path) for group, path in parse_pairs(lists, "--list", "GROUP=FILE")}
    count, conflicts = groups_from_lists(parsed, out)
    print(f"{out}: {count} images in {len(parsed)} groups"
          + (f"; left out {len(conflicts)} listed in several groups: {', '.join(conflicts[:5])}" if conflicts else ""))


@eval_app.command("adaptation")
def adaptation_command(
    cache: Path = typer.Option(..., help="Embeddings .npz of LFW images (names + model arrays; from `facelens eval verification`)."),
    threshold: Optional[float] = typer.Option(None, help="Operating threshold (default: calibrated FAR 1e-3)."),
    fixed_fmr: bool = typer.Option(True, "--fixed-fmr/--fixed-threshold", help="Re-threshold each mode to the no-adaptation FMR."),
    min_images: int = typer.Option(8, help="People with at least this many images stream probes."),
    rounds: int = typer.Option(5, help="Times the look-alike attacker presents all their images."),
    seed: int = typer.Option(0),
    model: str = typer.Option(DEFAULT_MODEL),
    out: Path = typer.Option(Path("runs/eval-adaptation"), help="Folder for report.json."),
) -> None:
    """FNMR without/with guarded adaptation at a fixed FMR, and a look-alike poisoning attempt."""
    from ..usecases.evaluation import evaluate_adaptation

    report = evaluate_adaptation(cache, threshold=threshold, fixed_fmr=fixed_fmr, min_images=min_images,
                                 rounds=rounds, seed=seed, model=model, out=out, command=command_line())
    print("| mode | threshold | FNMR | FNMR late half | outsider FMR | look-alike acceptance: round 1 → later rounds | templates added |")
    print("|---|---|---|---|---|---|---|")
    for mode, row in report["modes"].items():
        p = row["poisoning"]
        print(f"| {mode} | {row['threshold']:.4f} | {100 * row['fnmr']:.2f} % | {100 * row['fnmr_late_half']:.2f} % | "
              f"{100 * row['fmr_outsiders']:.3f} % | {100 * p['first_round_acceptance']:.1f} % → {100 * p['last_rounds_acceptance']:.1f} % | "
              f"{row['adaptive_templates_added']} |")
    print(f"report: {out / 'report.json'}")


@eval_app.command("blink")
def blink_command(
    orl: Path = typer.Option(..., "--orl", help="ORL faces folder (s1/1.pgm … s40/10.pgm), see ../shared/DATA.md."),
    out: Path = typer.Option(Path("runs/eval-blink"), help="Folder for report.json."),
) -> None:
    """Blink cue: how often the iris-model eye opening and the mesh's EAR see labelled closed eyes."""
    from ..usecases.evaluation import evaluate_blink

    report = evaluate_blink(orl, out=out)
    for cue, row in report["summary"].items():
        low, high = row["closed_ratio_range"] or (float("nan"), float("nan"))
        print(f"{cue:5s} closed detected {row['closed_detected']}, open called closed {row['open_called_closed']}, "
              f"partly closed called closed {row['partly_closed_called_closed']}; closed images at {low:.2f}–{high:.2f} "
              f"of the open baseline")
    print(f"report: {out / 'report.json'}")


@eval_app.command("pad")
def pad_command(
    lfw: Path = typer.Option(..., "--lfw", help="LFW images folder (NAME/NAME_0001.jpg): real photos the attacks are made from."),
    out: Path = typer.Option(Path("runs/eval-pad"), help="Folder for report, plot and feature caches."),
    limit: int = typer.Option(1500, help="People used (first LFW images after a seeded shuffle)."),
    seed: int = typer.Option(0),
    write_model: bool = typer.Option(False, "--write-model", help="Write the trained model into the package."),
    bona_fide: Optional[list[Path]] = typer.Option(None, "--bona-fide", help="Folder of other real images: BPCER outside LFW; repeat."),
) -> None:
    """Passive liveness: simulated print/screen attacks, APCER/BPCER (ISO/IEC 30107-3) split by person."""
    from ..access.liveness_passive import MODEL_FILE
    from ..usecases.evaluation import evaluate_pad

    report = evaluate_pad(lfw, out=out, limit=limit, seed=seed, write_model=write_model, bona_fide=bona_fide or (),
                          command=command_line())
    for folder, row in report.get("bona_fide_elsewhere", {}).items():
        print(f"real images in {folder}: BPCER {row['bpcer']} over {row['images'] - row['no_face']} faces "
              f"({row['no_face']} without a detected face)")
    at = report["at_model_threshold"]
    print(f"SIMULATED attacks, test people: BPCER {100 * at['bpcer']:.2f} %, "
          + ", ".join(f"APCER {k} {100 * v['apcer']:.2f} %" for k, v in at["apcer"].items()))
    for target, row in report["apcer_at_bpcer"].items():
        print(f"at BPCER {float(target) * 100:g} %: worst APCER {100 * row['apcer_worst']:.2f} % (threshold {row['threshold']:.3f})")
    print(f"report: {out / 'pad-report.json'}" + (f"; model written to {MODEL_FILE}" if write_model else ""))


@eval_app.command("swap")
def swap_command(
    orl: Path = typer.Option(..., "--orl", help="ORL faces folder (s1/1.pgm …): the eyes-closed photos of the blink swaps."),
    lfw: Optional[Path] = typer.Option(None, "--lfw", help="LFW folder with images/ and smile_labels.txt: smile and turn swaps."),
    out: Path = typer.Option(Path("runs/eval-swap"), help="Folder for swap-report.json."),
    limit: int = typer.Option(4, help="LFW smile and turn pairs, each."),
    widths: str = typer.Option("320,640,1280,1920", help="Frame widths (capture bands) to render, comma-separated."),
    simulators: str = typer.Option("attacks,holdout", help="Recapture simulators: attacks (trained on), holdout (held out)."),
    seed: int = typer.Option(1),
    extras: bool = typer.Option(True, "--extras/--no-extras", help="Also the gap / careless / turned-print styles (640 px)."),
    replay: bool = typer.Option(True, "--replay/--no-replay", help="Also the live videos replayed on a screen."),
    live: bool = typer.Option(True, "--live/--no-live", help="Also the live sequences (BPCER)."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as one JSON object."),
) -> None:
    """Photo-swap, cross-fade and video-replay attacks against the whole access decision per capture
    band: APCER / BPCER (ISO/IEC 30107-3) of a liveness-both door. SIMULATED attacks from real photos."""
    from ..access import swap_eval

    def progress(done: int) -> None:
        if not as_json:
            print(f"\r{done} sequences", end="", file=sys.stderr, flush=True)

    report = swap_eval.run(orl, lfw, out, limit=limit, seed=seed, widths=swap_eval.parse_widths(widths),
                           simulators=swap_eval.parse_simulators(simulators), extras=extras, replay=replay, live=live,
                           command=command_line(), progress=progress)
    if as_json:
        print(json.dumps(report["summary"]))
        return
    print(file=sys.stderr)
    print(swap_eval.summary_table(report["summary"]))
    print(f"SIMULATED attacks from real photos (no real presentation-attack data set); report: {out / 'swap-report.json'}")
