"""Revision 0002_access_analytics: the alembic chain owns the access and analytics tables.

A database made by the code before this revision had those tables from ``create_all`` (the ORM
models, which are unchanged); opening it now must upgrade it in place and keep its rows. A fresh
database must get the same tables from the migration as ``create_all`` made."""

from __future__ import annotations

import json
from datetime import datetime

from alembic import command
from sqlalchemy import inspect, text
from sqlalchemy.orm import Session

from facelens.access.policy import LockoutRow, Policy, PolicyRow, get_policy, lock_state
from facelens.analytics.store import ObservationRow, ObservationStore
from facelens.gallery import Gallery
from facelens.gallery.migrations import alembic_config, head_revision
from facelens.gallery.store import VERSION_TABLE, Meta, make_engine, resolve_url

TABLES = ("access_policies", "access_lockouts", "analytics_observations")


def _old_database(url: str) -> None:
    """What the previous code left: revision 0001, then the access and analytics tables from
    their own ``create_all`` with their schema versions in the meta table, and some rows."""
    engine = make_engine(url)
    with engine.begin() as conn:
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
    for model in (PolicyRow, ObservationRow):
        model.metadata.create_all(engine)
    policy = Policy(door="lab", threshold=0.42, threshold_source="set by the old code", liveness="none")
    with Session(engine) as session, session.begin():
        session.add_all([Meta(key="access_schema", value="1"), Meta(key="analytics_schema", value="1")])
        session.add(PolicyRow(door="lab", settings=json.dumps(policy.to_dict()), updated_at=datetime(2026, 1, 1)))
        session.add(LockoutRow(subject="alex", door="lab", failures=2, locked_until=None))
        session.add(ObservationRow(at=datetime(2026, 1, 2, 9), location="lobby", track="t1",
                                   emotion={"happy": 0.9, "neutral": 0.1}, model="emotion_mini_xception"))
    engine.dispose()


def _schema(url: str) -> dict:
    engine = make_engine(url)
    found = inspect(engine)
    schema = {table: ({c["name"]: (type(c["type"]).__name__, c["nullable"]) for c in found.get_columns(table)},
                      found.get_pk_constraint(table)["constrained_columns"],
                      sorted((i["name"], tuple(i["column_names"])) for i in found.get_indexes(table)))
              for table in TABLES}
    engine.dispose()
    return schema


def test_database_from_before_0002_upgrades_and_keeps_its_rows(db_url):
    url = resolve_url(db_url)
    _old_database(url)
    with Gallery(db_url) as gallery:
        assert get_policy(gallery, "lab").threshold == 0.42
        assert lock_state(gallery, "alex", "lab").failures == 2
        assert gallery.meta("access_schema") == gallery.meta("analytics_schema") == "1"
    with ObservationStore(db_url) as observations:
        assert [o.location for o in observations.fetch()] == ["lobby"]
    engine = make_engine(url)
    with engine.connect() as conn:
        assert conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar() == head_revision()
    engine.dispose()


def test_fresh_database_gets_the_same_tables_as_create_all(tmp_path):
    old, new = str(tmp_path / "old.db"), str(tmp_path / "new.db")
    _old_database(resolve_url(old))
    ObservationStore(new).close()  # the migrations alone make every table
    assert _schema(resolve_url(new)) == _schema(resolve_url(old))


def test_revision_id_is_the_one_later_revisions_name():
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config())
    assert script.get_revision("0002_access_analytics").down_revision == "0001"
    assert "0002_access_analytics" in {r.revision for r in script.walk_revisions()}


def test_downgrade_to_0001_drops_only_the_new_tables(tmp_path):
    url = resolve_url(str(tmp_path / "g.db"))
    ObservationStore(url).close()
    engine = make_engine(url)
    with engine.begin() as conn:
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0001")
    names = set(inspect(engine).get_table_names())
    engine.dispose()
    assert not names & set(TABLES) and {"gallery_identities", "gallery_templates", "audit_log"} <= names
