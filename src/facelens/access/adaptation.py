"""Guarded template adaptation: faces change (beard, glasses, ageing), templates may follow —
but only under guards that keep an impostor from walking the templates towards themselves.

After a granted, live access the probe embedding may become an *adaptive* template when all of:
- quality: the capture has no quality problem (size, blur, light, pose; ``Quality.problems``);
- margin: similarity to the identity exceeds the best *other* identity by ≥ ``margin_floor``;
- drift: similarity to the identity's ENROLMENT templates (never to adaptive ones) is ≥
  ``enrol_floor`` — a chain of small steps cannot lead away from the enrolled face;
- novelty: the probe is not a near-duplicate of a template already held (≥ ``duplicate_ceiling``),
  so the K slots hold varied appearances.
At most ``max_adaptive`` adaptive templates per identity (the oldest leaves first); enrolment
templates are never replaced or removed here; every addition, eviction and rollback is audited;
``rollback`` restores the enrolment state.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..constants import DEFAULT_MODEL
from ..gallery import EnrolRecord, Template, model_version
from .templates import ADAPTIVE, identity_templates, is_adaptive


@dataclass(frozen=True)
class Rules:
    margin_floor: float = 0.10
    enrol_floor: float = 0.60  # LFW: 0.5 let look-alike attempts in (docs/access.md)
    duplicate_ceiling: float = 0.95
    max_adaptive: int = 3


@dataclass(frozen=True)
class Verdict:
    accepted: bool
    reasons: tuple[str, ...]
    enrol_similarity: float
    margin: float


def guard(probe: np.ndarray, enrol: np.ndarray, adaptive: np.ndarray, margin: float,
          quality_problems: list[str] | tuple[str, ...] = (), rules: Rules = Rules()) -> Verdict:
    """Pure decision (also used by the LFW experiment). ``enrol``/``adaptive``: K×D unit rows."""
    probe = np.asarray(probe, np.float32)
    enrol_sim = float(np.max(enrol @ probe)) if len(enrol) else float("-inf")
    reasons = [f"quality: {p}" for p in quality_problems]
    if margin < rules.margin_floor:
        reasons.append(f"margin over the next identity {margin:.3f} < {rules.margin_floor}")
    if enrol_sim < rules.enrol_floor:
        reasons.append(f"drift: similarity to enrolment {enrol_sim:.3f} < {rules.enrol_floor}")
    held = np.concatenate([enrol, adaptive]) if len(adaptive) else enrol
    if len(held) and float(np.max(held @ probe)) >= rules.duplicate_ceiling:
        reasons.append("near-duplicate of a template already held")
    return Verdict(not reasons, tuple(reasons), enrol_sim, float(margin))


def anchored_score(enrol: np.ndarray, adaptive, probe: np.ndarray) -> float:
    """Similarity with adaptive templates that stays anchored to enrolment:
    max(enrolment, (enrolment + best adaptive) / 2). An adaptive template can lift a score by at
    most half its lead over the enrolment score, so templates alone never carry an acceptance
    far from the enrolled face."""
    enrol_sim = float(np.max(enrol @ probe))
    if adaptive is None or len(adaptive) == 0:
        return enrol_sim
    adaptive_sim = float(np.max(np.stack(list(adaptive)) @ probe))
    return max(enrol_sim, (enrol_sim + adaptive_sim) / 2.0)


def second_best(gallery, name: str, probe: np.ndarray, model: str) -> float:
    """Best similarity of the probe to any identity other than ``name`` (-1 when none)."""
    found = gallery.search([probe], model, top_k=3)[0]
    others = [c.similarity for c in found.candidates if c.identity != name]
    return float(others[0]) if others else -1.0


def propose(gallery, name: str, probe: np.ndarray, similarity: float, *, model: str = DEFAULT_MODEL,
            quality_problems: list[str] | tuple[str, ...] = (), rules: Rules = Rules(),
            context: dict | None = None) -> Verdict:
    """Consider a granted probe as an adaptive template of ``name``; audited either way."""
    probe = np.asarray(probe, np.float32)
    probe = probe / max(float(np.linalg.norm(probe)), 1e-12)
    templates = identity_templates(gallery, name, model)
    enrol = np.stack([t.vector for t in templates if not is_adaptive(t)]) if templates else np.empty((0, probe.size))
    adaptive_rows = [t for t in templates if is_adaptive(t)]
    adaptive = np.stack([t.vector for t in adaptive_rows]) if adaptive_rows else np.empty((0, probe.size))
    margin = similarity - second_best(gallery, name, probe, model)
    verdict = guard(probe, enrol, adaptive, margin, quality_problems, rules)
    details = {"accepted": verdict.accepted, "reasons": list(verdict.reasons),
               "enrol_similarity": round(verdict.enrol_similarity, 4), "margin": round(margin, 4),
               "similarity": round(float(similarity), 4), "rules": asdict(rules), **(context or {})}
    if not verdict.accepted:
        gallery.audit.append("access.adapt.rejected", name, details)
        return verdict
    template = Template(vector=probe, model=model, model_version=model_version(model),
                        source=f"{ADAPTIVE}", quality_detail={"adaptive": True, **{k: details[k] for k in (
                            "enrol_similarity", "margin", "similarity")}})
    gallery.enrol_records([EnrolRecord(name, [template])], add=True, also_audit=[("access.adapt.added", name, details)])
    surplus = len(adaptive_rows) + 1 - rules.max_adaptive
    if surplus > 0:
        oldest = [t.id for t in adaptive_rows[:surplus]]
        gallery.remove_templates({model: oldest}, f"adaptive template limit {rules.max_adaptive} for {name}", also_audit=[
            ("access.adapt.evicted", name, {"template_ids": oldest, "max_adaptive": rules.max_adaptive})])
    return verdict


def rollback(gallery, name: str, model: str | None = None) -> dict:
    """Remove every adaptive template of ``name`` (all models unless given): enrolment state.
    The removal and its ``access.rollback`` entry are one transaction."""
    models = [model] if model else _models_of(gallery, name)
    held = {m: identity_templates(gallery, name, m) for m in models}
    removed = {m: [t.id for t in templates if is_adaptive(t)] for m, templates in held.items()}
    kept = {m: len(templates) - len(removed[m]) for m, templates in held.items()}
    entry = ("access.rollback", name, {"removed": removed, "enrolment_templates": kept})
    if any(removed.values()):
        gallery.remove_templates({m: ids for m, ids in removed.items() if ids}, f"rollback of {name}", also_audit=[entry])
    else:
        gallery.audit.append(*entry)
    return {"name": name, "removed": {m: len(v) for m, v in removed.items()}, "enrolment_templates": kept}


def _models_of(gallery, name: str) -> list[str]:
    return sorted({t["model"] for t in gallery.show(name)["templates"]})
