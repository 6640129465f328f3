"""The Gallery façade's public methods other subsystems use (access, server, retention, feedback)."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest

from facelens.errors import BadInputError, KeyMaterialError, NotFoundError
from facelens.gallery import Consent, Gallery


def test_update_merges_or_replaces_metadata_and_consent_audited(tmp_path, fixture_embeddings):
    with Gallery(tmp_path / "g.db") as gallery:
        gallery.enrol("amy", embeddings=fixture_embeddings["amy1"], metadata={"team": "biology", "desk": "3"})
        merged = gallery.update("amy", metadata={"desk": "4"}, by="admin")
        assert merged["metadata"] == {"team": "biology", "desk": "4"}
        replaced = gallery.update("amy", metadata={"role": "guest"}, replace_metadata=True,
                                  consent=Consent(by="amy", purpose="door"))
        assert replaced["metadata"] == {"role": "guest"} and replaced["consent"]["purpose"] == "door"
        assert [e.details["changed"] for e in gallery.audit.entries(event="identity.update")] == [
            ["metadata"], ["metadata", "consent"]]
        with pytest.raises(BadInputError):
            gallery.update("amy")
        with pytest.raises(NotFoundError):
            gallery.update("nobody", metadata={"x": "1"})
        assert gallery.audit.verify().ok


def test_template_owner_and_template_removal(tmp_path, fixture_embeddings):
    with Gallery(tmp_path / "g.db") as gallery:
        gallery.enrol("raj", embeddings=np.stack([fixture_embeddings["raj1"], fixture_embeddings["raj2"]]))
        first, second = (t.id for t in gallery.templates_of("raj"))
        assert gallery.template_owner(first) == ("raj", "mobilefacenet")
        assert gallery.remove_templates({"mobilefacenet": [first]}, "test", also_audit=[("test.note", "raj", {})]) == 1
        assert [t.id for t in gallery.templates_of("raj")] == [second]
        assert first not in gallery.index_for("mobilefacenet").keys().tolist()
        with pytest.raises(NotFoundError):
            gallery.template_owner(first)
        events = [e.event for e in gallery.audit.entries()]
        assert events[-2:] == ["purge.templates", "test.note"]  # written in one transaction, in order


def test_sealed_data_opens_only_for_its_context(tmp_path):
    with Gallery(tmp_path / "g.db") as gallery:
        blob = gallery.seal(b"snapshot bytes", "server-snapshot|7")
        assert b"snapshot" not in blob and gallery.unseal(blob, "server-snapshot|7") == b"snapshot bytes"
        with pytest.raises(KeyMaterialError):
            gallery.unseal(blob, "server-snapshot|8")


def test_tables_of_other_subsystems_change_with_their_audit_entry(tmp_path):
    from facelens.access.policy import PolicyRow

    with Gallery(tmp_path / "g.db") as gallery:
        with pytest.raises(RuntimeError):
            with gallery.change() as change:
                change.session.add(PolicyRow(door="x", settings="{}", updated_at=datetime(2026, 1, 1)))
                change.audit("test.change", None, {})
                raise RuntimeError("fails half-way")
        with gallery.reading() as session:
            assert session.get(PolicyRow, "x") is None  # rolled back ...
        assert gallery.audit.entries(event="test.change") == []  # ... together with its audit entry


def test_images_are_not_the_facades_business(tmp_path, data_dir):
    with Gallery(tmp_path / "g.db") as gallery:
        with pytest.raises(BadInputError, match="usecases"):
            gallery.enrol("amy", [data_dir / "gallery" / "amy1.png"])
        with pytest.raises(BadInputError, match="usecases"):
            gallery.identify(data_dir / "gallery" / "amy1.png")
        with pytest.raises(BadInputError, match="usecases"):
            gallery.identify(np.zeros((64, 64, 3), np.uint8))
