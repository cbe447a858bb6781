"""projects created from templates

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "projects",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ls_project_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("template_id", sa.String(length=64), nullable=False),
        sa.Column("template_version", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("label_codes", sa.JSON(), nullable=False),
        sa.Column("reads", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_projects")),
        sa.UniqueConstraint("ls_project_id", name=op.f("uq_projects_ls_project_id")),
    )
    op.create_index(op.f("ix_projects_template_id"), "projects", ["template_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_projects_template_id"), table_name="projects")
    op.drop_table("projects")
