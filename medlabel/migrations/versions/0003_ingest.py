"""ingest keys and ingested items

Revision ID: 0003
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ingest_keys",
        sa.Column("ls_project_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("secret", sa.LargeBinary(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("ls_project_id", name=op.f("pk_ingest_keys")),
    )
    op.create_table(
        "ingested_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ls_project_id", sa.Integer(), nullable=False),
        sa.Column("content_key", sa.String(length=64), nullable=False),
        sa.Column("ls_task_id", sa.Integer(), nullable=False),
        sa.Column("plugin", sa.String(length=16), nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ingested_items")),
        sa.UniqueConstraint("ls_project_id", "content_key", name="uq_ingested_items_project_content"),
    )
    op.create_index(op.f("ix_ingested_items_ls_project_id"), "ingested_items", ["ls_project_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_ingested_items_ls_project_id"), table_name="ingested_items")
    op.drop_table("ingested_items")
    op.drop_table("ingest_keys")
