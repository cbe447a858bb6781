"""quality: consensus results, read outcomes, adjudications, gold answers and scores; agreement threshold

Revision ID: 0007q
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007q"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "quality_configs",
        sa.Column("ls_project_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("label_config", sa.Text(), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("ls_project_id", name=op.f("pk_quality_configs")),
    )
    op.create_table(
        "quality_gold",
        sa.Column("ls_task_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("ls_project_id", sa.Integer(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("ls_annotation_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("ls_task_id", name=op.f("pk_quality_gold")),
    )
    with op.batch_alter_table("quality_gold", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_quality_gold_ls_project_id"), ["ls_project_id"], unique=False)

    op.create_table(
        "quality_results",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ls_project_id", sa.Integer(), nullable=False),
        sa.Column("ls_task_id", sa.Integer(), nullable=False),
        sa.Column("control", sa.String(length=128), nullable=False),
        sa.Column("tag", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("items", sa.JSON(), nullable=True),
        sa.Column("agreement", sa.Float(), nullable=True),
        sa.Column("method", sa.String(length=64), nullable=True),
        sa.Column("annotation_ids", sa.JSON(), nullable=False),
        sa.Column("per_reader", sa.JSON(), nullable=False),
        sa.Column("message", sa.String(length=255), nullable=True),
        sa.Column("inputs_hash", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quality_results")),
        sa.UniqueConstraint("ls_task_id", "control", name="uq_quality_results_task_control"),
    )
    with op.batch_alter_table("quality_results", schema=None) as batch_op:
        batch_op.create_index("ix_quality_results_project_status", ["ls_project_id", "status"], unique=False)

    op.create_table(
        "quality_adjudications",
        sa.Column("ls_task_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("ls_project_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("trigger", sa.String(length=255), nullable=False),
        sa.Column("reviewer_id", sa.Integer(), nullable=True),
        sa.Column("ls_annotation_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["reviewer_id"],
            ["physicians.id"],
            name=op.f("fk_quality_adjudications_reviewer_id_physicians"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("ls_task_id", name=op.f("pk_quality_adjudications")),
    )
    with op.batch_alter_table("quality_adjudications", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_quality_adjudications_ls_project_id"), ["ls_project_id"], unique=False
        )

    op.create_table(
        "quality_gold_scores",
        sa.Column("physician_id", sa.Integer(), nullable=False),
        sa.Column("ls_project_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("control", sa.String(length=128), nullable=False),
        sa.Column("confusion", sa.JSON(), nullable=False),
        sa.Column("per_label", sa.JSON(), nullable=False),
        sa.Column("correct", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["physician_id"],
            ["physicians.id"],
            name=op.f("fk_quality_gold_scores_physician_id_physicians"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "physician_id", "ls_project_id", "control", name=op.f("pk_quality_gold_scores")
        ),
    )
    op.create_table(
        "quality_reader_estimates",
        sa.Column("physician_id", sa.Integer(), nullable=False),
        sa.Column("ls_project_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("method", sa.String(length=64), nullable=False),
        sa.Column("quality", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["physician_id"],
            ["physicians.id"],
            name=op.f("fk_quality_reader_estimates_physician_id_physicians"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("physician_id", "ls_project_id", name=op.f("pk_quality_reader_estimates")),
    )
    op.create_table(
        "quality_read_outcomes",
        sa.Column("ls_annotation_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("control", sa.String(length=128), nullable=False),
        sa.Column("ls_task_id", sa.Integer(), nullable=False),
        sa.Column("physician_id", sa.Integer(), nullable=True),
        sa.Column("agrees", sa.Boolean(), nullable=True),
        sa.Column("overturned", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["physician_id"],
            ["physicians.id"],
            name=op.f("fk_quality_read_outcomes_physician_id_physicians"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("ls_annotation_id", "control", name=op.f("pk_quality_read_outcomes")),
    )
    with op.batch_alter_table("quality_read_outcomes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_quality_read_outcomes_ls_task_id"), ["ls_task_id"], unique=False)

    with op.batch_alter_table("routing_policies", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("agreement_threshold", sa.Float(), server_default="0.6", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("routing_policies", schema=None) as batch_op:
        batch_op.drop_column("agreement_threshold")

    with op.batch_alter_table("quality_read_outcomes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_quality_read_outcomes_ls_task_id"))

    op.drop_table("quality_read_outcomes")
    op.drop_table("quality_reader_estimates")
    op.drop_table("quality_gold_scores")
    with op.batch_alter_table("quality_adjudications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_quality_adjudications_ls_project_id"))

    op.drop_table("quality_adjudications")
    with op.batch_alter_table("quality_results", schema=None) as batch_op:
        batch_op.drop_index("ix_quality_results_project_status")

    op.drop_table("quality_results")
    with op.batch_alter_table("quality_gold", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_quality_gold_ls_project_id"))

    op.drop_table("quality_gold")
    op.drop_table("quality_configs")
