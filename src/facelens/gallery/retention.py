"""Retention: purge templates older than a configured age and identities past consent expiry.

Run by ``facelens gallery purge`` (e.g. nightly from cron). An identity whose consent has
expired is erased entirely (as by ``delete``); templates older than ``max_age_days`` are
removed, and an identity left with no template is erased too — it could no longer be matched
and keeping its record would keep personal data for no purpose. Everything is audited.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from .store import IdentityRow, TemplateRow, utcnow

if TYPE_CHECKING:
    from .core import Gallery


def purge(gallery: "Gallery", *, max_age_days: float | None = None, now: datetime | None = None,
          dry_run: bool = False) -> dict[str, Any]:
    now = now or utcnow()
    with gallery.store.read() as session:
        expired = session.scalars(
            select(IdentityRow.name).where(IdentityRow.consent_expires.is_not(None), IdentityRow.consent_expires <= now)
            .order_by(IdentityRow.name)
        ).all()
        old: dict[str, list[int]] = {}
        emptied: list[str] = []
        if max_age_days is not None:
            cutoff = now - timedelta(days=max_age_days)
            rows = session.execute(
                select(TemplateRow.id, TemplateRow.model, TemplateRow.identity_id, IdentityRow.name)
                .join(IdentityRow, IdentityRow.id == TemplateRow.identity_id)
                .where(TemplateRow.created_at < cutoff, IdentityRow.name.not_in(expired))
            ).all()
            per_identity: dict[int, int] = {}
            for r in rows:
                old.setdefault(r.model, []).append(r.id)
                per_identity[r.identity_id] = per_identity.get(r.identity_id, 0) + 1
            if per_identity:
                totals = dict(session.execute(
                    select(TemplateRow.identity_id, func.count(TemplateRow.id))
                    .where(TemplateRow.identity_id.in_(list(per_identity)))
                    .group_by(TemplateRow.identity_id)
                ).all())
                names = {r.identity_id: r.name for r in rows}
                emptied = sorted(names[i] for i, n in per_identity.items() if totals.get(i, 0) == n)
    emptied_set = set(emptied)
    if emptied_set:
        with gallery.store.read() as session:
            ids = set(session.scalars(
                select(TemplateRow.id).join(IdentityRow, IdentityRow.id == TemplateRow.identity_id)
                .where(IdentityRow.name.in_(emptied))
            ).all())
        old = {m: [i for i in v if i not in ids] for m, v in old.items()}
        old = {m: v for m, v in old.items() if v}
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
        gallery._erase(expired, "purge.consent_expired", "consent expired")
    if emptied:
        gallery._erase(emptied, "purge.aged_out", f"all templates older than {max_age_days} days")
    if old:
        gallery._delete_templates(old, f"older than {max_age_days} days")
    return report
