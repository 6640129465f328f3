"""Clear-text vectors for searching in PostgreSQL (pgvector), PostgreSQL only.

Revision ID: 0004_pgvector
Revises: 0003_server
Create Date: 2026-12-02

``gallery_template_vectors`` holds a copy of each template's vector in clear, as ``real[]``, but
only on a gallery whose owner turned database search on (``Gallery(url, index="pgvector")``,
see gallery/pgvector.py); otherwise it stays empty. ``real[]`` needs no extension, so the table
exists on every PostgreSQL gallery whether or not pgvector is installed; the HNSW indexes are
expression indexes (``embedding::vector(dim)``, one partial index per model) made when search
is turned on. Rows go with their template (ON DELETE CASCADE), in the same transaction.
SQLite galleries get nothing. Written out by hand, like 0001, so it never changes.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004_pgvector"
down_revision = "0003_server"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.create_table(
        "gallery_template_vectors",
        sa.Column("template_id", sa.Integer(), sa.ForeignKey("gallery_templates.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("identity_id", sa.Integer(), nullable=False, index=True),
        sa.Column("model", sa.String(64), nullable=False),
        sa.Column("embedding", postgresql.ARRAY(sa.REAL()), nullable=False),
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_table("gallery_template_vectors")
