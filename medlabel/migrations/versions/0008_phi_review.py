"""PHI review: per-project review settings and the queue of held items

Revision ID: 0008p
Revises: 0007q
"""

import sqlalchemy as sa
from alembic import op

revision = "0008p"
down_revision = "0007q"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("projects") as batch:
        batch.add_column(sa.Column("phi_review", sa.Boolean(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("phi_review_share", sa.Float(), nullable=False, server_default="0.05"))
        batch.add_column(
            sa.Column("phi_review_proven_after", sa.Integer(), nullable=False, server_default="200")
        )
    op.create_table(
        "phi_review_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ls_project_id", sa.Integer(), nullable=False),
        sa.Column("content_key", sa.String(length=64), nullable=False),
        sa.Column("plugin", sa.String(length=16), nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("source_institution", sa.String(length=128), nullable=True),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("task", sa.JSON(), nullable=False),
        sa.Column("removed", sa.JSON(), nullable=False),
        sa.Column("media", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("decided_by", sa.String(length=128), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.Column("ls_task_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_phi_review_items")),
        sa.UniqueConstraint("ls_project_id", "content_key", name="uq_phi_review_items_project_content"),
    )
    op.create_index(op.f("ix_phi_review_items_ls_project_id"), "phi_review_items", ["ls_project_id"])
    op.create_index(op.f("ix_phi_review_items_state"), "phi_review_items", ["state"])


def downgrade() -> None:
    op.drop_index(op.f("ix_phi_review_items_state"), table_name="phi_review_items")
    op.drop_index(op.f("ix_phi_review_items_ls_project_id"), table_name="phi_review_items")
    op.drop_table("phi_review_items")
    with op.batch_alter_table("projects") as batch:
        batch.drop_column("phi_review_proven_after")
        batch.drop_column("phi_review_share")
        batch.drop_column("phi_review")
