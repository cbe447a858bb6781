"""physician pool and routing: physicians, routing policies, tasks, assignments and their events

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "physicians",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("license_number", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("tier", sa.String(length=16), nullable=False),
        sa.Column("subspecialties", sa.JSON(), nullable=False),
        sa.Column("languages", sa.JSON(), nullable=False),
        sa.Column("institution", sa.String(length=128), nullable=False),
        sa.Column("daily_capacity", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("ls_user_id", sa.Integer(), nullable=True),
        sa.Column("accuracy", sa.Float(), nullable=True),
        sa.Column("reads_count", sa.Integer(), nullable=False),
        sa.Column("worklist_token_hash", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_physicians")),
        sa.UniqueConstraint("email", name=op.f("uq_physicians_email")),
        sa.UniqueConstraint("license_number", name=op.f("uq_physicians_license_number")),
        sa.UniqueConstraint("ls_user_id", name=op.f("uq_physicians_ls_user_id")),
        sa.UniqueConstraint("worklist_token_hash", name=op.f("uq_physicians_worklist_token_hash")),
    )
    op.create_index(op.f("ix_physicians_institution"), "physicians", ["institution"], unique=False)
    op.create_table(
        "physician_specialties",
        sa.Column("physician_id", sa.Integer(), nullable=False),
        sa.Column("specialty", sa.String(length=64), nullable=False),
        sa.Column("board_certified", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["physician_id"],
            ["physicians.id"],
            name=op.f("fk_physician_specialties_physician_id_physicians"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("physician_id", "specialty", name=op.f("pk_physician_specialties")),
    )
    op.create_index(
        op.f("ix_physician_specialties_specialty"), "physician_specialties", ["specialty"], unique=False
    )
    op.create_table(
        "routing_policies",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("client_name", sa.String(length=128), nullable=True),
        sa.Column("specialty", sa.String(length=64), nullable=False),
        sa.Column("subspecialty", sa.String(length=64), nullable=True),
        sa.Column("min_tier", sa.String(length=16), nullable=False),
        sa.Column("require_board_certification", sa.Boolean(), nullable=False),
        sa.Column("reads", sa.Integer(), nullable=False),
        sa.Column("gold_share", sa.Float(), nullable=False),
        sa.Column("reviewer_specialty", sa.String(length=64), nullable=True),
        sa.Column("reviewer_tier", sa.String(length=16), nullable=True),
        sa.Column("conflict_of_interest", sa.Boolean(), nullable=False),
        sa.Column("daily_capacity", sa.Integer(), nullable=True),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_hours", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_routing_policies_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("project_id", name=op.f("pk_routing_policies")),
    )
    op.create_table(
        "tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("ls_task_id", sa.Integer(), nullable=False),
        sa.Column("content_key", sa.String(length=64), nullable=True),
        sa.Column("source_institution", sa.String(length=128), nullable=True),
        sa.Column("is_gold", sa.Boolean(), nullable=False),
        sa.Column("priority", sa.Float(), nullable=True),
        sa.Column("shortfall", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_tasks_project_id_projects"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tasks")),
        sa.UniqueConstraint("ls_task_id", name=op.f("uq_tasks_ls_task_id")),
    )
    op.create_index(op.f("ix_tasks_project_id"), "tasks", ["project_id"], unique=False)
    op.create_table(
        "assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("physician_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("is_gold_read", sa.Boolean(), nullable=False),
        sa.Column("leased_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["physician_id"],
            ["physicians.id"],
            name=op.f("fk_assignments_physician_id_physicians"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["task_id"], ["tasks.id"], name=op.f("fk_assignments_task_id_tasks"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assignments")),
        sa.UniqueConstraint("task_id", "physician_id", name="uq_assignments_task_id_physician_id"),
    )
    op.create_index(
        "ix_assignments_physician_id_state", "assignments", ["physician_id", "state"], unique=False
    )
    op.create_index(
        "ix_assignments_state_leased_until", "assignments", ["state", "leased_until"], unique=False
    )
    op.create_index("ix_assignments_created_at", "assignments", ["created_at"], unique=False)
    op.create_index(op.f("ix_assignments_task_id"), "assignments", ["task_id"], unique=False)
    op.create_table(
        "assignment_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("assignment_id", sa.Integer(), nullable=False),
        sa.Column("from_state", sa.String(length=16), nullable=True),
        sa.Column("to_state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=255), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["assignment_id"],
            ["assignments.id"],
            name=op.f("fk_assignment_events_assignment_id_assignments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assignment_events")),
    )
    op.create_index(
        op.f("ix_assignment_events_assignment_id"), "assignment_events", ["assignment_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_assignment_events_assignment_id"), table_name="assignment_events")
    op.drop_table("assignment_events")
    op.drop_index(op.f("ix_assignments_task_id"), table_name="assignments")
    op.drop_index("ix_assignments_created_at", table_name="assignments")
    op.drop_index("ix_assignments_state_leased_until", table_name="assignments")
    op.drop_index("ix_assignments_physician_id_state", table_name="assignments")
    op.drop_table("assignments")
    op.drop_index(op.f("ix_tasks_project_id"), table_name="tasks")
    op.drop_table("tasks")
    op.drop_table("routing_policies")
    op.drop_index(op.f("ix_physician_specialties_specialty"), table_name="physician_specialties")
    op.drop_table("physician_specialties")
    op.drop_index(op.f("ix_physicians_institution"), table_name="physicians")
    op.drop_table("physicians")
