"""The sandbox payment provider's own state: the remote side of a payment, kept in our database.

These tables belong to the *provider*, not to marque's order and ledger core: they stand in
for what Alipay, WeChat Pay or Stripe would keep on their servers. Keeping them in the
database (rather than in memory) lets several server processes share one sandbox, and lets a
test read what the provider did. The orders side never joins them; it talks to the provider
through ``PaymentProvider`` only.

- ``sandbox_payments``: one row per payment, created idempotently on ``idempotency_key``.
- ``sandbox_refunds``: one row per refund, idempotent on ``idempotency_key``; its outcome is
  decided when it is asked for and becomes visible at ``settles_at``.
- ``sandbox_webhook_deliveries``: one row per delivery of a signed webhook; a duplicated
  event has two rows with the same ``event_id``.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from marque.adapters.db.metadata import UtcDateTime, metadata

sandbox_payments = Table(
    "sandbox_payments",
    metadata,
    Column("reference", String(40), primary_key=True),
    Column("merchant_reference", String(64), nullable=False),
    Column("idempotency_key", String(128), nullable=False, unique=True),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("description", String(200), nullable=False),
    Column("status", String(16), nullable=False),
    # What the provider actually took (normally the amount asked for; the sandbox API can
    # make it differ to exercise mismatch handling).
    Column("captured_amount", BigInteger, nullable=True),
    Column("captured_currency", String(3), nullable=True),
    Column("failure_reason", String(200), nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("succeeded_at", UtcDateTime(), nullable=True),
    CheckConstraint("status IN ('pending', 'succeeded', 'failed')", name="status"),
    CheckConstraint("amount > 0", name="amount_positive"),
    Index("ix_sandbox_payments_succeeded_at", "succeeded_at"),
    Index("ix_sandbox_payments_merchant_reference", "merchant_reference"),
)

sandbox_refunds = Table(
    "sandbox_refunds",
    metadata,
    Column("reference", String(40), primary_key=True),
    Column(
        "payment_reference",
        String(40),
        ForeignKey("sandbox_payments.reference"),
        nullable=False,
    ),
    Column("merchant_reference", String(64), nullable=False),
    Column("idempotency_key", String(128), nullable=False, unique=True),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    # Decided when the refund is asked for; reported as ``pending`` until ``settles_at``.
    Column("outcome", String(16), nullable=False),
    Column("failure_reason", String(200), nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("settles_at", UtcDateTime(), nullable=False),
    CheckConstraint("outcome IN ('succeeded', 'failed')", name="outcome"),
    CheckConstraint("amount > 0", name="amount_positive"),
    Index("ix_sandbox_refunds_payment_reference", "payment_reference"),
    Index("ix_sandbox_refunds_settles_at", "settles_at"),
)

sandbox_webhook_deliveries = Table(
    "sandbox_webhook_deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(40), nullable=False),
    Column("event_type", String(32), nullable=False),
    Column("payment_reference", String(40), nullable=False),
    Column("refund_reference", String(40), nullable=True),
    # The JSON body exactly as it is sent; the signature is made at sending time.
    Column("body", Text(), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("due_at", UtcDateTime(), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("last_status", Integer, nullable=True),
    Column("last_error", String(500), nullable=True),
    Column("delivered_at", UtcDateTime(), nullable=True),
    Column("gave_up_at", UtcDateTime(), nullable=True),
    Index("ix_sandbox_webhook_deliveries_due", "delivered_at", "gave_up_at", "due_at"),
    Index("ix_sandbox_webhook_deliveries_payment", "payment_reference", "id"),
)

__all__ = ["sandbox_payments", "sandbox_refunds", "sandbox_webhook_deliveries"]
