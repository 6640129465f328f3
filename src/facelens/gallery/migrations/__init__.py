"""Schema migrations (Alembic), applied programmatically whenever a gallery is opened.

A gallery written by an older facelens is upgraded in place, inside one transaction, so a
gallery made today opens next year; one written by a *newer* facelens (an unknown revision)
is refused with StorageError rather than guessed at. A database that holds tables but not
ours is "foreign" and is never touched. Add a revision with
``alembic -c /dev/null revision`` style files in ``versions/`` (see 0001_initial.py).
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from ...errors import StorageError

if TYPE_CHECKING:
    from ..store import Store

HERE = Path(__file__).resolve().parent
ADVISORY_LOCK_ID = 0x6661636C  # "facl": serialises first-time creation on PostgreSQL


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    return cfg


def head_revision() -> str:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def upgrade_to_head(store: "Store") -> None:
    from ..store import META_TABLE, VERSION_TABLE, Meta, sql_now_text

    cfg = alembic_config()
    script = ScriptDirectory.from_config(cfg)
    known = {rev.revision for rev in script.walk_revisions()}
    with store._write_engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text(f"SELECT pg_advisory_xact_lock({ADVISORY_LOCK_ID})"))
        tables = set(inspect(conn).get_table_names())
        if tables and META_TABLE not in tables:
            raise StorageError(
                f"{store.url.split('@')[-1]} holds tables that are not a facelens gallery "
                f"({', '.join(sorted(tables)[:5])}); refusing to touch a foreign database"
            )
        context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
        current = context.get_current_revision()
        if current is not None and current not in known:
            raise StorageError(
                f"gallery schema revision {current} was written by a newer facelens; upgrade facelens"
            )
        if current != script.get_current_head():
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
        meta = Meta.__table__
        for table in ("gallery_identities", "gallery_templates"):  # id counters, see Store.allocate_ids
            key = f"next_id:{table}"
            if conn.execute(meta.select().where(meta.c.key == key)).first() is None:
                top = conn.execute(text(f"SELECT COALESCE(MAX(id), 0) FROM {table}")).scalar() or 0
                if conn.dialect.name == "sqlite":  # AUTOINCREMENT high-water mark: deleted ids stay used
                    seq = conn.execute(text("SELECT seq FROM sqlite_sequence WHERE name = :n"), {"n": table}).scalar()
                    top = max(top, seq or 0)
                conn.execute(meta.insert().values(key=key, value=str(top + 1)))
        if conn.execute(meta.select().where(meta.c.key == "gallery_id")).first() is None:
            conn.execute(meta.insert().values(key="gallery_id", value=uuid.uuid4().hex))
            conn.execute(meta.insert().values(key="created_at", value=sql_now_text()))
