"""Payments: which attempt of their order each one is, so an order's payments keep the order
they were made in even when two carry the same ``created_at`` (a frozen or stepped-back
clock, or servers whose clocks differ) and their random ids would decide.

Existing payments are numbered by ``(created_at, id)``, the order they were listed in before.

Revision ID: 0006_payment_attempts
Revises: 0005_launch
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_payment_attempts"
down_revision: str | None = "0005_launch"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

payments = sa.table(
    "payments",
    sa.column("id", sa.String),
    sa.column("order_id", sa.String),
    sa.column("created_at", sa.DateTime),
    sa.column("attempt", sa.Integer),
)


def upgrade() -> None:
    # A constant default: no table copy on SQLite, no rewrite on PostgreSQL.
    with op.batch_alter_table("payments") as batch_op:
        batch_op.add_column(
            sa.Column("attempt", sa.Integer(), nullable=False, server_default=sa.text("1"))
        )
    earlier = payments.alias("earlier")
    op.execute(
        payments.update().values(
            attempt=sa.select(sa.func.count())
            .where(
                earlier.c.order_id == payments.c.order_id,
                sa.or_(
                    earlier.c.created_at < payments.c.created_at,
                    sa.and_(
                        earlier.c.created_at == payments.c.created_at,
                        earlier.c.id <= payments.c.id,
                    ),
                ),
            )
            .scalar_subquery()
        )
    )


def downgrade() -> None:
    with op.batch_alter_table("payments") as batch_op:
        batch_op.drop_column("attempt")
