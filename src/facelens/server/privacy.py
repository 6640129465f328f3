"""Subject access and erasure (GDPR-style) across everything the server keeps about a person:
the gallery identity (templates, metadata, consent, audit trail) plus the server's own alerts,
sightings and negative templates naming them."""

from __future__ import annotations

from typing import Any

from ..errors import NotFoundError
from .store import AlertQuery


def export_person(state: Any, name: str) -> dict[str, Any]:
    """Everything stored about ``name`` (the gallery's export, audited, plus alerts/sightings)."""
    data = state.gallery.export(name)
    alerts, _ = state.alerts.query(AlertQuery(identity=name, limit=10_000))
    data["alerts"] = alerts
    data["sightings"] = state.sightings.sightings(person=name, limit=100_000)
    data["negative_templates"] = [n.to_dict() for n in state.negatives.list(name)]
    return data


def erase_person(state: Any, name: str, *, by: str) -> dict[str, Any]:
    """Erase ``name`` everywhere. The server's records go first, in one transaction, then the
    gallery identity: if the second step fails the request can simply be repeated."""
    known = name in state.gallery
    with state.gallery.change() as change:
        alerts = state.alerts.erase_identity(change.session, name)
        sightings = state.sightings.erase_identity(change.session, name)
        negatives = state.negatives.erase(name, change=change)
        if not known and not (alerts or sightings or negatives):
            raise NotFoundError(f"nothing is stored about {name!r}")
        change.audit("erase.server_records", name, {"alerts": alerts, "sightings": sightings,
                                                     "negative_templates": negatives, "by": by})
    removed = state.gallery.delete(name, reason=f"erasure request via the API (key {by})") if known else None
    return {"name": name, "templates_removed": removed["templates_removed"] if removed else 0,
            "alerts_removed": alerts, "sightings_removed": sightings, "negative_templates_removed": negatives}
