"""Alert review: confirmed / wrong_person / dismissed, and its reversal.

``wrong_person`` is the feedback that matters: the alert's stranger (the averaged embedding of
the track that matched, sealed in the alert row; else the snapshot, embedded now) becomes a
negative template of the identity it was mistaken for (facelens.feedback), so the same stranger
stops matching that identity. The status change, the negative template and the audit entry are
one transaction. Reverting a review (or changing it to another status) removes the negative.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import BadInputError, ConflictError
from .store import REVIEW_STATUSES, alert_dict


def review_alert(state: Any, uid: str, status: str, *, by: str, note: str | None = None) -> dict[str, Any]:
    """Set an alert's review status ("new" reverts); returns the alert and what feedback did."""
    if status not in (*REVIEW_STATUSES, "new"):
        raise BadInputError(f"status must be one of {', '.join(REVIEW_STATUSES)} (or new to revert), not {status!r}")
    origin = f"alert:{uid}"
    current = state.alerts.get(uid)
    learnt = None
    if status == "wrong_person" and current["status"] != "wrong_person":
        if current["kind"] != "match" or not current["identity"]:
            raise ConflictError("only an alert that named an identity can be reviewed as wrong_person")
        learnt = _stranger(state, uid)
    with state.gallery.change() as change:
        row = state.alerts.set_status(change.session, uid, status, by, note)
        removed = 0 if status == "wrong_person" else state.negatives.remove(origin, by=by, change=change)
        added = None
        if learnt is not None:
            vector, model = learnt
            added = state.negatives.add(row.identity, vector, model, origin, by=by, change=change)
        change.audit("alert.review", row.identity, {"alert": uid, "status": status, "by": by, "note": note})
        result = alert_dict(row)
    result["feedback"] = {"negative_template_added": added is not None, "negative_templates_removed": removed}
    state.bus.publish("review", {"id": uid, "status": status, "identity": result["identity"], "by": by})
    return result


def _stranger(state: Any, uid: str) -> tuple[np.ndarray, str]:
    """The face the alert was raised on: its stored track embedding, else its snapshot embedded."""
    with state.gallery.reading() as session:
        vector, model = state.alerts.embedding(session, uid)
    if vector is not None:
        return vector, model
    snapshot = state.alerts.snapshot(uid)
    if snapshot is None:
        raise ConflictError("this alert holds neither an embedding nor a snapshot to learn the stranger from")
    from ..usecases.faces import embed

    model = state.settings.server.model
    return embed(snapshot, model=model, face="largest", label="alert snapshot").faces[0].embedding, model
