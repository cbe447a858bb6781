"""routing speed: per-day read counters, ingest's source institution, ingested items by task id

Revision ID: 0005r
Revises: 0004
"""

from collections import Counter
from datetime import UTC

import sqlalchemy as sa
from alembic import op

revision = "0005r"
down_revision = "0004"
branch_labels = None
depends_on = None

#: Assignment states that hold a read (medlabel.models.routing.HOLDING_STATES, frozen here).
HOLDING = ("assigned", "submitted")


def upgrade() -> None:
    loads = op.create_table(
        "routing_daily_loads",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("physician_id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("reads", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["physician_id"],
            ["physicians.id"],
            name=op.f("fk_routing_daily_loads_physician_id_physicians"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_routing_daily_loads_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("day", "physician_id", "project_id", name=op.f("pk_routing_daily_loads")),
    )
    _backfill(loads)
    op.add_column("ingested_items", sa.Column("source_institution", sa.String(length=128), nullable=True))
    op.create_index(op.f("ix_ingested_items_ls_task_id"), "ingested_items", ["ls_task_id"])


def _backfill(loads: sa.Table) -> None:
    """Count the reads that already hold their task, per creation day (UTC), in Python: portable and one pass."""
    bind = op.get_bind()
    assignments = sa.table(
        "assignments",
        sa.column("task_id", sa.Integer),
        sa.column("physician_id", sa.Integer),
        sa.column("state", sa.String),
        sa.column("created_at", sa.DateTime(timezone=True)),
    )
    tasks = sa.table("tasks", sa.column("id", sa.Integer), sa.column("project_id", sa.Integer))
    counts: Counter[tuple[object, int, int]] = Counter()
    rows = bind.execute(
        sa.select(assignments.c.physician_id, tasks.c.project_id, assignments.c.created_at)
        .join(tasks, tasks.c.id == assignments.c.task_id)
        .where(assignments.c.state.in_(HOLDING))
    )
    for physician_id, project_id, created_at in rows:
        moment = created_at if created_at.tzinfo is None else created_at.astimezone(UTC)
        counts[(moment.date(), physician_id, project_id)] += 1
    if counts:
        op.bulk_insert(
            loads,
            [
                {"day": day, "physician_id": physician_id, "project_id": project_id, "reads": n}
                for (day, physician_id, project_id), n in counts.items()
            ],
        )


def downgrade() -> None:
    op.drop_index(op.f("ix_ingested_items_ls_task_id"), table_name="ingested_items")
    with op.batch_alter_table("ingested_items") as batch:
        batch.drop_column("source_institution")
    op.drop_table("routing_daily_loads")
