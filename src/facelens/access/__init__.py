"""Access control: claim → liveness → verify → decision, for a door or a login.

    from facelens.access import check, Policy, set_policy
    with Gallery("people.db") as g:
        set_policy(g, Policy(door="lab", far=1e-3, liveness="both", max_failures=5))
        decision = check(frames, claim="alice", policy="lab", gallery=g)
        print(decision.granted, decision.reasons)

Layout: decision.py (the flow and the frozen Decision), policy.py (per-door policies + lockout,
stored in the gallery database), liveness_active.py (random challenge from mesh cues),
liveness_passive.py (texture/frequency/colour score; model in passive_model.json),
attacks.py (simulated print/screen recaptures), adaptation.py (guarded template updates),
fairness.py (per-group error rates). See docs/access.md.
"""

from .decision import Decision, Liveness, check
from .policy import Policy, get_policy, list_policies, set_policy

__all__ = ["Decision", "Liveness", "Policy", "check", "get_policy", "list_policies", "set_policy"]
