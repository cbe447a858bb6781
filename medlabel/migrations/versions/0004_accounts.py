"""accounts, invites, physicians' encrypted Label Studio refresh tokens (worklist tokens dropped), and
the models whose predictions a project shows

Revision ID: 0004
Revises: 0002, 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = ("0002", "0003")
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("physician_id", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("session_version", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["physician_id"],
            ["physicians.id"],
            name=op.f("fk_accounts_physician_id_physicians"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounts")),
        sa.UniqueConstraint("email", name=op.f("uq_accounts_email")),
        sa.UniqueConstraint("physician_id", name=op.f("uq_accounts_physician_id")),
    )
    op.create_table(
        "invites",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_invites_account_id_accounts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invites")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_invites_token_hash")),
    )
    op.create_index(op.f("ix_invites_account_id"), "invites", ["account_id"])
    op.add_column("projects", sa.Column("shown_models", sa.JSON(), nullable=True))
    with op.batch_alter_table("physicians") as batch:
        batch.add_column(sa.Column("ls_refresh_token", sa.Text(), nullable=True))
        batch.drop_constraint("uq_physicians_worklist_token_hash", type_="unique")
        batch.drop_column("worklist_token_hash")


def downgrade() -> None:
    with op.batch_alter_table("physicians") as batch:
        batch.add_column(sa.Column("worklist_token_hash", sa.String(length=64), nullable=True))
        batch.create_unique_constraint("uq_physicians_worklist_token_hash", ["worklist_token_hash"])
        batch.drop_column("ls_refresh_token")
    with op.batch_alter_table("projects") as batch:
        batch.drop_column("shown_models")
    op.drop_index(op.f("ix_invites_account_id"), table_name="invites")
    op.drop_table("invites")
    op.drop_table("accounts")
