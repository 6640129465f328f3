"""Server tables: API keys, alerts (with review status), sightings, negative templates.

Revision ID: 0003_server
Revises: 0002_access_analytics
Create Date: 2026-12-02

Written out by hand, like 0001: it stays fixed when the models in facelens/server/store.py and
facelens/feedback/negatives.py change. Snapshots, embeddings and negative templates are stored
sealed with the gallery key (AES-GCM), never in clear.
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_server"
down_revision = "0002_access_analytics"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "server_api_keys",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("key_id", sa.String(32), nullable=False, unique=True),
        sa.Column("secret_hash", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(100), nullable=True),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.Column("last_used_at", sa.DateTime(), nullable=True),
    )
    op.create_table(
        "server_alerts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("uid", sa.String(32), nullable=False, unique=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("identity", sa.String(200), nullable=True, index=True),
        sa.Column("similarity", sa.Float(), nullable=True),
        sa.Column("camera_id", sa.String(100), nullable=False, index=True),
        sa.Column("location", sa.String(200), nullable=True),
        sa.Column("track_id", sa.Integer(), nullable=False),
        sa.Column("frame", sa.Integer(), nullable=False),
        sa.Column("first_seen_utc", sa.String(40), nullable=True),
        sa.Column("last_seen_utc", sa.String(40), nullable=True),
        sa.Column("box", sa.JSON(), nullable=True),
        sa.Column("votes", sa.Integer(), nullable=False),
        sa.Column("captures", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(64), nullable=True),
        sa.Column("snapshot", sa.LargeBinary(), nullable=True),
        sa.Column("embedding", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False, index=True),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("reviewed_by", sa.String(100), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(), nullable=True),
        sa.Column("review_note", sa.Text(), nullable=True),
    )
    op.create_table(
        "server_sightings",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(40), nullable=False),
        sa.Column("global_id", sa.String(100), nullable=False, index=True),
        sa.Column("identity", sa.String(200), nullable=True, index=True),
        sa.Column("camera_id", sa.String(100), nullable=False),
        sa.Column("location", sa.String(200), nullable=True),
        sa.Column("track_id", sa.Integer(), nullable=False),
        sa.Column("entered", sa.String(40), nullable=False, index=True),
        sa.Column("left", sa.String(40), nullable=False),
        sa.Column("entered_s", sa.Float(), nullable=False),
        sa.Column("left_s", sa.Float(), nullable=False),
        sa.Column("similarity", sa.Float(), nullable=True),
    )
    op.create_table(
        "feedback_negatives",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("identity", sa.String(200), nullable=False, index=True),
        sa.Column("model", sa.String(64), nullable=False),
        sa.Column("dim", sa.Integer(), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.Column("origin", sa.String(100), nullable=False, unique=True),
        sa.Column("created_by", sa.String(200), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sqlite_autoincrement=True,  # ids never reused: a removed negative cannot come back under its id
    )


def downgrade() -> None:
    for table in ("feedback_negatives", "server_sightings", "server_alerts", "server_api_keys"):
        op.drop_table(table)
