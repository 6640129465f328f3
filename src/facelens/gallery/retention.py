"""Retention: purge templates older than a configured age and identities past consent expiry.

Run by ``facelens gallery purge`` (e.g. nightly from cron). An identity whose consent has
expired is erased entirely (as by ``delete``); templates older than ``max_age_days`` are
removed, and an identity left with no template is erased too — it could no longer be matched
and keeping its record would keep personal data for no purpose. Everything is audited.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from .store import utcnow

if TYPE_CHECKING:
    from .core import Gallery


def purge(gallery: "Gallery", *, max_age_days: float | None = None, now: datetime | None = None,
          dry_run: bool = False) -> dict[str, Any]:
    now = now or utcnow()
    repository = gallery.repository
    expired = repository.consent_expired(now)
    old_rows = []
    if max_age_days is not None:
        skip = set(expired)
        old_rows = [row for row in repository.templates_older_than(now - timedelta(days=max_age_days))
                    if row[2] not in skip]
    old_per_identity = Counter(name for _, _, name in old_rows)
    totals = repository.template_counts(sorted(old_per_identity))
    emptied = sorted(name for name, count in old_per_identity.items() if totals.get(name, 0) == count)
    old: dict[str, list[int]] = {}
    for template_id, model, name in old_rows:
        if name not in emptied:  # erased with its identity below
            old.setdefault(model, []).append(template_id)
    report = {
        "now": now.isoformat() + "Z",
        "max_age_days": max_age_days,
        "identities_consent_expired": list(expired),
        "identities_aged_out": emptied,
        "templates_aged_out": sum(len(v) for v in old.values()),
        "dry_run": dry_run,
    }
    if dry_run:
        return report
    if expired:
        gallery.erase(expired, "purge.consent_expired", "consent expired")
    if emptied:
        gallery.erase(emptied, "purge.aged_out", f"all templates older than {max_age_days} days")
    if old:
        gallery.remove_templates(old, f"older than {max_age_days} days")
    return report
