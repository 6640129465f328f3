"""Alembic environment: runs on the connection handed over by ``upgrade_to_head``."""

from alembic import context

from facelens.gallery.store import VERSION_TABLE, Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - offline/CLI use of alembic is not supported
    raise RuntimeError("facelens migrations run through facelens.gallery.migrations.upgrade_to_head")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    version_table=VERSION_TABLE,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
