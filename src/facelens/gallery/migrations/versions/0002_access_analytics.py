"""Access-control and analytics tables join the chain: access_policies, access_lockouts,
analytics_observations.

Revision ID: 0002_access_analytics
Revises: 0001
Create Date: 2026-12-02

Before this revision those packages made their tables themselves with ``create_all`` on first
use, so a database may already hold some of them, exactly as written here (the columns below are
today's schema): a table that exists is kept as it is, a missing one is created. The schema
versions those packages kept in the meta table are set too, so a database looks the same
whichever way it got its tables. Written out by hand, like 0001, so it never changes.
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_access_analytics"
down_revision = "0001"
branch_labels = None
depends_on = None

SCHEMA_VERSIONS = {"access_schema": "1", "analytics_schema": "1"}


def _create_missing(existing: set[str]) -> None:
    if "access_policies" not in existing:
        op.create_table(
            "access_policies",
            sa.Column("door", sa.String(100), primary_key=True),
            sa.Column("settings", sa.Text(), nullable=False),
            sa.Column("updated_at", sa.DateTime(), nullable=False),
        )
    if "access_lockouts" not in existing:
        op.create_table(
            "access_lockouts",
            sa.Column("subject", sa.String(200), primary_key=True),
            sa.Column("door", sa.String(100), primary_key=True),
            sa.Column("failures", sa.Integer(), nullable=False),
            sa.Column("locked_until", sa.DateTime(), nullable=True),
        )
    if "analytics_observations" not in existing:
        op.create_table(
            "analytics_observations",
            sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
            sa.Column("at", sa.DateTime(), nullable=False, index=True),
            sa.Column("location", sa.String(200), nullable=False, index=True),
            sa.Column("camera", sa.String(200), nullable=True),
            sa.Column("track", sa.String(200), nullable=False),
            sa.Column("emotion", sa.JSON(), nullable=False),
            sa.Column("model", sa.String(64), nullable=False),
            sa.Column("source", sa.Text(), nullable=True),
            sa.Column("identity", sa.String(200), nullable=True),
            sqlite_autoincrement=True,
        )


def upgrade() -> None:
    bind = op.get_bind()
    _create_missing(set(sa.inspect(bind).get_table_names()))
    meta = sa.table("facelens_meta", sa.column("key", sa.String), sa.column("value", sa.Text))
    for key, value in SCHEMA_VERSIONS.items():
        if bind.execute(sa.select(meta.c.key).where(meta.c.key == key)).first() is None:
            bind.execute(meta.insert().values(key=key, value=value))


def downgrade() -> None:
    for table in ("analytics_observations", "access_lockouts", "access_policies"):
        op.drop_table(table)
    meta = sa.table("facelens_meta", sa.column("key", sa.String))
    op.execute(meta.delete().where(meta.c.key.in_(list(SCHEMA_VERSIONS))))
