"""Orders, payments, refunds, the double-entry ledger, idempotency keys, outbox, webhook
receipts and reconciliation results: the money core of reservations.

Revision ID: 0004_orders
Revises: 0003_sandbox_payments
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import marque.adapters.db.metadata

revision: str = "0004_orders"
down_revision: str | None = "0003_sandbox_payments"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

UtcDateTime = marque.adapters.db.metadata.UtcDateTime


def upgrade() -> None:
    op.create_table(
        "idempotency_keys",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("key", sa.String(128), nullable=False),
        sa.Column("method", sa.String(8), nullable=False),
        sa.Column("path", sa.String(255), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("response", sa.JSON(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("completed_at", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotency_keys")),
        sa.UniqueConstraint("actor", "key", name=op.f("uq_idempotency_keys_actor_key")),
    )
    op.create_index("ix_idempotency_keys_created", "idempotency_keys", ["created_at"])
    op.create_table(
        "ledger_postings",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("reference", sa.String(120), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("order_id", sa.String(20), nullable=True),
        sa.Column("source_id", sa.String(20), nullable=True),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_postings")),
        sa.UniqueConstraint("reference", name=op.f("uq_ledger_postings_reference")),
    )
    op.create_index("ix_ledger_postings_at", "ledger_postings", ["at"])
    op.create_index("ix_ledger_postings_order", "ledger_postings", ["order_id", "id"])
    op.create_index("ix_ledger_postings_source", "ledger_postings", ["source_id"])
    op.create_table(
        "orders",
        sa.Column("id", sa.String(20), nullable=False),
        sa.Column("customer_id", sa.String(16), nullable=False),
        sa.Column("locale", sa.String(8), nullable=False),
        sa.Column("model_code", sa.String(32), nullable=False),
        sa.Column("trim_code", sa.String(32), nullable=False),
        sa.Column("configuration_code", sa.String(16), nullable=False),
        sa.Column("limited_edition", sa.Boolean(), nullable=False),
        sa.Column("price_amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("deposit_kind", sa.String(10), nullable=False),
        sa.Column("deposit_amount", sa.BigInteger(), nullable=False),
        sa.Column("deposit_currency", sa.String(3), nullable=False),
        sa.Column("terms_code", sa.String(40), nullable=False),
        sa.Column("terms_version", sa.Integer(), nullable=False),
        sa.Column("terms_hash", sa.String(64), nullable=False),
        sa.Column("terms_accepted_at", UtcDateTime(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(128), nullable=True),
        sa.Column("paid_payment_id", sa.String(20), nullable=True),
        sa.Column("expires_at", UtcDateTime(), nullable=True),
        sa.Column("paid_at", UtcDateTime(), nullable=True),
        sa.Column("locked_at", UtcDateTime(), nullable=True),
        sa.Column("lock_reminder_due_at", UtcDateTime(), nullable=True),
        sa.Column("lock_reminder_sent_at", UtcDateTime(), nullable=True),
        sa.Column("auto_lock_at", UtcDateTime(), nullable=True),
        sa.Column("cancelled_at", UtcDateTime(), nullable=True),
        sa.Column("queue_number", sa.Integer(), nullable=True),
        sa.Column("breach", sa.String(20), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
        sa.UniqueConstraint("configuration_code", "queue_number", name=op.f("uq_orders_configuration_code_queue_number")),
        sa.UniqueConstraint("customer_id", "idempotency_key", name=op.f("uq_orders_customer_id_idempotency_key")),
    )
    op.create_index("ix_orders_customer", "orders", ["customer_id", "created_at", "id"])
    op.create_index("ix_orders_status_expires", "orders", ["status", "expires_at"])
    op.create_index("ix_orders_status_reminder", "orders", ["status", "lock_reminder_due_at"])
    op.create_index("ix_orders_status_auto_lock", "orders", ["status", "auto_lock_at"])
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("topic", sa.String(64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("available_at", UtcDateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("sent_at", UtcDateTime(), nullable=True),
        sa.Column("last_error", sa.String(500), nullable=True),
        sa.Column("dead", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    op.create_index("ix_outbox_due", "outbox", ["sent_at", "dead", "available_at"])
    op.create_table(
        "reconciliations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("ran_at", UtcDateTime(), nullable=False),
        sa.Column("matched", sa.Integer(), nullable=False),
        sa.Column("mismatches", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconciliations")),
    )
    op.create_index("ix_reconciliations_day", "reconciliations", ["day", "id"])
    op.create_table(
        "webhook_receipts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("event_type", sa.String(32), nullable=False),
        sa.Column("payment_reference", sa.String(64), nullable=False),
        sa.Column("merchant_reference", sa.String(64), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("detail", sa.String(500), nullable=False),
        sa.Column("received_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_receipts")),
        sa.UniqueConstraint("provider", "event_id", name=op.f("uq_webhook_receipts_provider_event_id")),
    )
    op.create_table(
        "ledger_entries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("posting_id", sa.Integer(), nullable=False),
        sa.Column("account", sa.String(32), nullable=False),
        sa.Column("order_id", sa.String(20), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.ForeignKeyConstraint(["posting_id"], ["ledger_postings.id"], name=op.f("fk_ledger_entries_posting_id_ledger_postings")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_entries")),
    )
    op.create_index("ix_ledger_entries_account_order", "ledger_entries", ["account", "order_id"])
    op.create_index("ix_ledger_entries_posting", "ledger_entries", ["posting_id"])
    op.create_table(
        "order_configuration_changes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("order_id", sa.String(20), nullable=False),
        sa.Column("old_code", sa.String(16), nullable=False),
        sa.Column("new_code", sa.String(16), nullable=False),
        sa.Column("old_price_amount", sa.BigInteger(), nullable=False),
        sa.Column("new_price_amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name=op.f("fk_order_configuration_changes_order_id_orders")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_configuration_changes")),
    )
    op.create_index("ix_order_configuration_changes_order", "order_configuration_changes", ["order_id", "id"])
    op.create_table(
        "order_status_changes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("order_id", sa.String(20), nullable=False),
        sa.Column("from_status", sa.String(20), nullable=False),
        sa.Column("to_status", sa.String(20), nullable=False),
        sa.Column("event", sa.String(24), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name=op.f("fk_order_status_changes_order_id_orders")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_status_changes")),
    )
    op.create_index("ix_order_status_changes_order", "order_status_changes", ["order_id", "id"])
    op.create_table(
        "payments",
        sa.Column("id", sa.String(20), nullable=False),
        sa.Column("order_id", sa.String(20), nullable=False),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("provider_reference", sa.String(64), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("idempotency_key", sa.String(128), nullable=False),
        sa.Column("pay_url", sa.Text(), nullable=True),
        sa.Column("qr_payload", sa.Text(), nullable=True),
        sa.Column("failure_reason", sa.String(200), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("captured_at", UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name=op.f("fk_payments_order_id_orders")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_payments_idempotency_key")),
        sa.UniqueConstraint("provider", "provider_reference", name=op.f("uq_payments_provider_provider_reference")),
    )
    op.create_index("ix_payments_captured", "payments", ["captured_at"])
    op.create_index("ix_payments_order", "payments", ["order_id", "created_at"])
    op.create_table(
        "reconciliation_mismatches",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("reconciliation_id", sa.Integer(), nullable=False),
        sa.Column("problem", sa.String(20), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("merchant_reference", sa.String(64), nullable=False),
        sa.Column("provider_reference", sa.String(64), nullable=True),
        sa.Column("ledger_amount", sa.BigInteger(), nullable=True),
        sa.Column("provider_amount", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.ForeignKeyConstraint(["reconciliation_id"], ["reconciliations.id"], name=op.f("fk_reconciliation_mismatches_reconciliation_id_reconciliations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconciliation_mismatches")),
    )
    op.create_index("ix_reconciliation_mismatches_run", "reconciliation_mismatches", ["reconciliation_id"])
    op.create_table(
        "refunds",
        sa.Column("id", sa.String(20), nullable=False),
        sa.Column("order_id", sa.String(20), nullable=False),
        sa.Column("payment_id", sa.String(20), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("compensation", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(24), nullable=False),
        sa.Column("idempotency_key", sa.String(128), nullable=False),
        sa.Column("key_generation", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UtcDateTime(), nullable=True),
        sa.Column("last_error", sa.String(500), nullable=True),
        sa.Column("provider_reference", sa.String(64), nullable=True),
        sa.Column("expected_by", UtcDateTime(), nullable=False),
        sa.Column("quote_rule", sa.String(32), nullable=False),
        sa.Column("quoted_at", UtcDateTime(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("sent_at", UtcDateTime(), nullable=True),
        sa.Column("succeeded_at", UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name=op.f("fk_refunds_order_id_orders")),
        sa.ForeignKeyConstraint(["payment_id"], ["payments.id"], name=op.f("fk_refunds_payment_id_payments")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refunds")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_refunds_idempotency_key")),
    )
    op.create_index("ix_refunds_due", "refunds", ["status", "next_attempt_at"])
    op.create_index("ix_refunds_expected", "refunds", ["status", "expected_by"])
    op.create_index("ix_refunds_order", "refunds", ["order_id", "created_at"])
    op.create_table(
        "refund_status_changes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("refund_id", sa.String(20), nullable=False),
        sa.Column("from_status", sa.String(16), nullable=False),
        sa.Column("to_status", sa.String(16), nullable=False),
        sa.Column("event", sa.String(24), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["refund_id"], ["refunds.id"], name=op.f("fk_refund_status_changes_refund_id_refunds")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refund_status_changes")),
    )
    op.create_index("ix_refund_status_changes_refund", "refund_status_changes", ["refund_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_refund_status_changes_refund", table_name="refund_status_changes")
    op.drop_table("refund_status_changes")
    op.drop_index("ix_refunds_order", table_name="refunds")
    op.drop_index("ix_refunds_expected", table_name="refunds")
    op.drop_index("ix_refunds_due", table_name="refunds")
    op.drop_table("refunds")
    op.drop_index("ix_reconciliation_mismatches_run", table_name="reconciliation_mismatches")
    op.drop_table("reconciliation_mismatches")
    op.drop_index("ix_payments_order", table_name="payments")
    op.drop_index("ix_payments_captured", table_name="payments")
    op.drop_table("payments")
    op.drop_index("ix_order_status_changes_order", table_name="order_status_changes")
    op.drop_table("order_status_changes")
    op.drop_index("ix_order_configuration_changes_order", table_name="order_configuration_changes")
    op.drop_table("order_configuration_changes")
    op.drop_index("ix_ledger_entries_posting", table_name="ledger_entries")
    op.drop_index("ix_ledger_entries_account_order", table_name="ledger_entries")
    op.drop_table("ledger_entries")
    op.drop_table("webhook_receipts")
    op.drop_index("ix_reconciliations_day", table_name="reconciliations")
    op.drop_table("reconciliations")
    op.drop_index("ix_outbox_due", table_name="outbox")
    op.drop_table("outbox")
    op.drop_index("ix_orders_status_auto_lock", table_name="orders")
    op.drop_index("ix_orders_status_reminder", table_name="orders")
    op.drop_index("ix_orders_status_expires", table_name="orders")
    op.drop_index("ix_orders_customer", table_name="orders")
    op.drop_table("orders")
    op.drop_index("ix_ledger_postings_source", table_name="ledger_postings")
    op.drop_index("ix_ledger_postings_order", table_name="ledger_postings")
    op.drop_index("ix_ledger_postings_at", table_name="ledger_postings")
    op.drop_table("ledger_postings")
    op.drop_index("ix_idempotency_keys_created", table_name="idempotency_keys")
    op.drop_table("idempotency_keys")
