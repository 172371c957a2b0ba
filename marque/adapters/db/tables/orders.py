"""The money core: orders and their history, payments, refunds, the ledger, and the
machinery that makes them safe to retry (idempotency keys, webhook receipts, outbox).

- An order keeps its own snapshot of price and accepted terms; ``version`` guards every
  update (``UPDATE ... WHERE version = :seen``), so two requests never both move one order.
- ``ledger_postings.reference`` is unique: the same money movement can never be posted
  twice, whatever retries or duplicate webhooks arrive. Postings and entries are only
  ever inserted.
- ``webhook_receipts`` (provider, event_id) is unique: a redelivered event is recognised.
- ``idempotency_keys`` keeps each (actor, key)'s request fingerprint and first answer.
- ``outbox`` rows are written in the same transaction as the change they announce and
  sent after commit by ``marque worker``.
- ``queue_number`` is an order's stable number in its configuration's queue, given when its
  deposit is paid. Two partial indexes hold only the paid orders still waiting for a car,
  locked ones by (lock time, number) and the others by number: counting the orders ahead
  of a buyer reads only those index entries, never the table (``WAITING_SQL`` below).
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    literal_column,
    text,
)
from sqlalchemy.sql.elements import ColumnElement

from marque.adapters.db.metadata import UtcDateTime, metadata
from marque.domain.launch import WAITING

#: The statuses of a paid order still waiting for its car, written into the SQL as
#: constants: PostgreSQL uses a partial index only when it can prove the query's condition
#: implies the index's, which it cannot from bound parameters in a generic (prepared) plan.
WAITING_STATUSES: tuple[str, ...] = tuple(sorted(str(status) for status in WAITING))

orders = Table(
    "orders",
    metadata,
    Column("id", String(20), primary_key=True),
    Column("customer_id", String(16), nullable=False),
    Column("locale", String(8), nullable=False),
    Column("model_code", String(32), nullable=False),
    Column("trim_code", String(32), nullable=False),
    Column("configuration_code", String(16), nullable=False),
    Column("limited_edition", Boolean(), nullable=False),
    Column("price_amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("deposit_kind", String(10), nullable=False),
    Column("deposit_amount", BigInteger, nullable=False),
    Column("deposit_currency", String(3), nullable=False),
    Column("terms_code", String(40), nullable=False),
    Column("terms_version", Integer, nullable=False),
    Column("terms_hash", String(64), nullable=False),
    Column("terms_accepted_at", UtcDateTime(), nullable=False),
    Column("status", String(20), nullable=False),
    Column("version", Integer, nullable=False),
    Column("idempotency_key", String(128), nullable=True),
    Column("paid_payment_id", String(20), nullable=True),
    Column("expires_at", UtcDateTime(), nullable=True),
    Column("paid_at", UtcDateTime(), nullable=True),
    Column("locked_at", UtcDateTime(), nullable=True),
    # When the lock reminder is due and when the order may lock by itself (terms allowing);
    # kept on the row so the workers find due orders by index instead of reading every term.
    Column("lock_reminder_due_at", UtcDateTime(), nullable=True),
    Column("lock_reminder_sent_at", UtcDateTime(), nullable=True),
    Column("auto_lock_at", UtcDateTime(), nullable=True),
    Column("cancelled_at", UtcDateTime(), nullable=True),
    Column("queue_number", Integer, nullable=True),
    Column("breach", String(20), nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    UniqueConstraint("customer_id", "idempotency_key"),
    UniqueConstraint("configuration_code", "queue_number"),
    Index("ix_orders_customer", "customer_id", "created_at", "id"),
    Index("ix_orders_status_expires", "status", "expires_at"),
    Index("ix_orders_status_reminder", "status", "lock_reminder_due_at"),
    Index("ix_orders_status_auto_lock", "status", "auto_lock_at"),
)


def _waiting(locked: bool) -> ColumnElement[bool]:
    """The condition of the orders one queue index holds (the same text in every query)."""
    c = orders.c
    return and_(
        c.queue_number.is_not(None),
        c.locked_at.is_not(None) if locked else c.locked_at.is_(None),
        c.status.in_([literal_column(f"'{status}'") for status in WAITING_STATUSES]),
    )


#: Paid orders waiting for their car, locked (their build order: lock time, then number) ...
WAITING_LOCKED = _waiting(locked=True)
#: ... and not locked yet (behind every locked one, by number).
WAITING_UNLOCKED = _waiting(locked=False)
Index(
    "ix_orders_queue_locked",
    orders.c.configuration_code,
    orders.c.locked_at,
    orders.c.queue_number,
    postgresql_where=WAITING_LOCKED,
    sqlite_where=WAITING_LOCKED,
)
Index(
    "ix_orders_queue_unlocked",
    orders.c.configuration_code,
    orders.c.queue_number,
    postgresql_where=WAITING_UNLOCKED,
    sqlite_where=WAITING_UNLOCKED,
)

order_status_changes = Table(
    "order_status_changes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("order_id", String(20), ForeignKey("orders.id"), nullable=False),
    Column("from_status", String(20), nullable=False),
    Column("to_status", String(20), nullable=False),
    Column("event", String(24), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("reason", String(500), nullable=False),
    Column("at", UtcDateTime(), nullable=False),
    Index("ix_order_status_changes_order", "order_id", "id"),
)

order_configuration_changes = Table(
    "order_configuration_changes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("order_id", String(20), ForeignKey("orders.id"), nullable=False),
    Column("old_code", String(16), nullable=False),
    Column("new_code", String(16), nullable=False),
    Column("old_price_amount", BigInteger, nullable=False),
    Column("new_price_amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("at", UtcDateTime(), nullable=False),
    Index("ix_order_configuration_changes_order", "order_id", "id"),
)

payments = Table(
    "payments",
    metadata,
    Column("id", String(20), primary_key=True),
    Column("order_id", String(20), ForeignKey("orders.id"), nullable=False),
    Column("provider", String(32), nullable=False),
    Column("provider_reference", String(64), nullable=True),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("status", String(16), nullable=False),
    Column("idempotency_key", String(128), nullable=False, unique=True),
    Column("pay_url", Text(), nullable=True),
    Column("qr_payload", Text(), nullable=True),
    Column("failure_reason", String(200), nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("captured_at", UtcDateTime(), nullable=True),
    # Which of its order's payments this is (1: made with the reservation), so an order's
    # payments list in the order they were made even when their created_at is the same.
    Column("attempt", Integer, nullable=False, server_default=text("1")),
    UniqueConstraint("provider", "provider_reference"),
    Index("ix_payments_order", "order_id", "created_at"),
    Index("ix_payments_captured", "captured_at"),
)

refunds = Table(
    "refunds",
    metadata,
    Column("id", String(20), primary_key=True),
    Column("order_id", String(20), ForeignKey("orders.id"), nullable=False),
    Column("payment_id", String(20), ForeignKey("payments.id"), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("compensation", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("status", String(16), nullable=False),
    Column("reason", String(24), nullable=False),
    Column("idempotency_key", String(128), nullable=False, unique=True),
    Column("key_generation", Integer, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UtcDateTime(), nullable=True),
    Column("last_error", String(500), nullable=True),
    Column("provider_reference", String(64), nullable=True),
    Column("expected_by", UtcDateTime(), nullable=False),
    Column("quote_rule", String(32), nullable=False),
    Column("quoted_at", UtcDateTime(), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("sent_at", UtcDateTime(), nullable=True),
    Column("succeeded_at", UtcDateTime(), nullable=True),
    Index("ix_refunds_order", "order_id", "created_at"),
    Index("ix_refunds_due", "status", "next_attempt_at"),
    Index("ix_refunds_expected", "status", "expected_by"),
)

refund_status_changes = Table(
    "refund_status_changes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("refund_id", String(20), ForeignKey("refunds.id"), nullable=False),
    Column("from_status", String(16), nullable=False),
    Column("to_status", String(16), nullable=False),
    Column("event", String(24), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("reason", String(500), nullable=False),
    Column("at", UtcDateTime(), nullable=False),
    Index("ix_refund_status_changes_refund", "refund_id", "id"),
)

ledger_postings = Table(
    "ledger_postings",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("reference", String(120), nullable=False, unique=True),
    Column("kind", String(24), nullable=False),
    Column("order_id", String(20), nullable=True),
    # The payment or refund the posting is about (what reconciliation matches on).
    Column("source_id", String(20), nullable=True),
    Column("at", UtcDateTime(), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Index("ix_ledger_postings_order", "order_id", "id"),
    Index("ix_ledger_postings_source", "source_id"),
    Index("ix_ledger_postings_at", "at"),
)

ledger_entries = Table(
    "ledger_entries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("posting_id", Integer, ForeignKey("ledger_postings.id"), nullable=False),
    Column("account", String(32), nullable=False),
    Column("order_id", String(20), nullable=True),
    Column("amount", BigInteger, nullable=False),  # + debit, - credit
    Column("currency", String(3), nullable=False),
    Index("ix_ledger_entries_posting", "posting_id"),
    Index("ix_ledger_entries_account_order", "account", "order_id"),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("actor", String(64), nullable=False),
    Column("key", String(128), nullable=False),
    Column("method", String(8), nullable=False),
    Column("path", String(255), nullable=False),
    Column("request_hash", String(64), nullable=False),
    # NULL while the first request is still being answered.
    Column("status", Integer, nullable=True),
    Column("response", JSON(), nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("completed_at", UtcDateTime(), nullable=True),
    UniqueConstraint("actor", "key"),
    Index("ix_idempotency_keys_created", "created_at"),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("topic", String(64), nullable=False),
    Column("payload", JSON(), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("available_at", UtcDateTime(), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("sent_at", UtcDateTime(), nullable=True),
    Column("last_error", String(500), nullable=True),
    Column("dead", Boolean(), nullable=False),
)
#: Messages still to send: the relay takes the next due ones from this index, in order,
#: without reading the sent ones or sorting the backlog (migration 0010).
OUTBOX_PENDING = and_(outbox.c.sent_at.is_(None), outbox.c.dead.is_(False))
Index(
    "ix_outbox_pending",
    outbox.c.available_at,
    outbox.c.id,
    postgresql_where=OUTBOX_PENDING,
    sqlite_where=OUTBOX_PENDING,
)

webhook_receipts = Table(
    "webhook_receipts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("provider", String(32), nullable=False),
    Column("event_id", String(64), nullable=False),
    Column("event_type", String(32), nullable=False),
    Column("payment_reference", String(64), nullable=False),
    Column("merchant_reference", String(64), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    # applied | ignored | mismatch | refunded (a late or second payment sent back)
    Column("outcome", String(16), nullable=False),
    Column("detail", String(500), nullable=False),
    Column("received_at", UtcDateTime(), nullable=False),
    UniqueConstraint("provider", "event_id"),
)

reconciliations = Table(
    "reconciliations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("day", Date(), nullable=False),
    Column("provider", String(32), nullable=False),
    Column("ran_at", UtcDateTime(), nullable=False),
    Column("matched", Integer, nullable=False),
    Column("mismatches", Integer, nullable=False),
    Index("ix_reconciliations_day", "day", "id"),
)

reconciliation_mismatches = Table(
    "reconciliation_mismatches",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("reconciliation_id", Integer, ForeignKey("reconciliations.id"), nullable=False),
    Column("problem", String(20), nullable=False),  # missing | extra | amount_differs
    Column("kind", String(10), nullable=False),  # payment | refund
    Column("merchant_reference", String(64), nullable=False),
    Column("provider_reference", String(64), nullable=True),
    Column("ledger_amount", BigInteger, nullable=True),
    Column("provider_amount", BigInteger, nullable=True),
    Column("currency", String(3), nullable=False),
    Index("ix_reconciliation_mismatches_run", "reconciliation_id"),
)

__all__ = [
    "OUTBOX_PENDING",
    "WAITING_LOCKED",
    "WAITING_STATUSES",
    "WAITING_UNLOCKED",
    "idempotency_keys",
    "ledger_entries",
    "ledger_postings",
    "order_configuration_changes",
    "order_status_changes",
    "orders",
    "outbox",
    "payments",
    "reconciliation_mismatches",
    "reconciliations",
    "refund_status_changes",
    "refunds",
    "webhook_receipts",
]
