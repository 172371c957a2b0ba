"""Sandbox payment provider: its payments, refunds and webhook deliveries.

Revision ID: 0003_sandbox_payments
Revises: 0002_auth
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import marque.adapters.db.metadata

revision: str = "0003_sandbox_payments"
down_revision: str | None = "0002_auth"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

UtcDateTime = marque.adapters.db.metadata.UtcDateTime


def upgrade() -> None:
    op.create_table(
        "sandbox_payments",
        sa.Column("reference", sa.String(40), nullable=False),
        sa.Column("merchant_reference", sa.String(64), nullable=False),
        sa.Column("idempotency_key", sa.String(128), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("description", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("captured_amount", sa.BigInteger(), nullable=True),
        sa.Column("captured_currency", sa.String(3), nullable=True),
        sa.Column("failure_reason", sa.String(200), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("succeeded_at", UtcDateTime(), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'succeeded', 'failed')",
            name=op.f("ck_sandbox_payments_status"),
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_sandbox_payments_amount_positive")),
        sa.PrimaryKeyConstraint("reference", name=op.f("pk_sandbox_payments")),
        sa.UniqueConstraint(
            "idempotency_key", name=op.f("uq_sandbox_payments_idempotency_key")
        ),
    )
    op.create_index(
        "ix_sandbox_payments_succeeded_at", "sandbox_payments", ["succeeded_at"]
    )
    op.create_index(
        "ix_sandbox_payments_merchant_reference", "sandbox_payments", ["merchant_reference"]
    )
    op.create_table(
        "sandbox_refunds",
        sa.Column("reference", sa.String(40), nullable=False),
        sa.Column("payment_reference", sa.String(40), nullable=False),
        sa.Column("merchant_reference", sa.String(64), nullable=False),
        sa.Column("idempotency_key", sa.String(128), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("failure_reason", sa.String(200), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("settles_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint(
            "outcome IN ('succeeded', 'failed')", name=op.f("ck_sandbox_refunds_outcome")
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_sandbox_refunds_amount_positive")),
        sa.ForeignKeyConstraint(
            ["payment_reference"],
            ["sandbox_payments.reference"],
            name=op.f("fk_sandbox_refunds_payment_reference_sandbox_payments"),
        ),
        sa.PrimaryKeyConstraint("reference", name=op.f("pk_sandbox_refunds")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_sandbox_refunds_idempotency_key")),
    )
    op.create_index(
        "ix_sandbox_refunds_payment_reference", "sandbox_refunds", ["payment_reference"]
    )
    op.create_index("ix_sandbox_refunds_settles_at", "sandbox_refunds", ["settles_at"])
    op.create_table(
        "sandbox_webhook_deliveries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(40), nullable=False),
        sa.Column("event_type", sa.String(32), nullable=False),
        sa.Column("payment_reference", sa.String(40), nullable=False),
        sa.Column("refund_reference", sa.String(40), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("due_at", UtcDateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(500), nullable=True),
        sa.Column("delivered_at", UtcDateTime(), nullable=True),
        sa.Column("gave_up_at", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sandbox_webhook_deliveries")),
    )
    op.create_index(
        "ix_sandbox_webhook_deliveries_due",
        "sandbox_webhook_deliveries",
        ["delivered_at", "gave_up_at", "due_at"],
    )
    op.create_index(
        "ix_sandbox_webhook_deliveries_payment",
        "sandbox_webhook_deliveries",
        ["payment_reference", "id"],
    )


def downgrade() -> None:
    op.drop_index(
        "ix_sandbox_webhook_deliveries_payment", table_name="sandbox_webhook_deliveries"
    )
    op.drop_index("ix_sandbox_webhook_deliveries_due", table_name="sandbox_webhook_deliveries")
    op.drop_table("sandbox_webhook_deliveries")
    op.drop_index("ix_sandbox_refunds_settles_at", table_name="sandbox_refunds")
    op.drop_index("ix_sandbox_refunds_payment_reference", table_name="sandbox_refunds")
    op.drop_table("sandbox_refunds")
    op.drop_index("ix_sandbox_payments_merchant_reference", table_name="sandbox_payments")
    op.drop_index("ix_sandbox_payments_succeeded_at", table_name="sandbox_payments")
    op.drop_table("sandbox_payments")
