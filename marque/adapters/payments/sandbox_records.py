"""Rows of the sandbox provider's tables, read and turned into the contract's values.

Also the input checks every sandbox call makes, the errors it raises, and the inspection
view (a payment with its refunds and webhook deliveries) that the sandbox API shows.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, select

from marque.adapters.db.prepared import Prepared, Row
from marque.adapters.db.tables.sandbox_payments import sandbox_payments as payments
from marque.adapters.db.tables.sandbox_payments import sandbox_refunds as refunds
from marque.adapters.db.tables.sandbox_payments import sandbox_webhook_deliveries as deliveries
from marque.adapters.payments.errors import PaymentErrorCode, PaymentMessage
from marque.domain.errors import Conflict, NotFound, ValidationFailed, Violation
from marque.domain.money import Money
from marque.services.payment_ports import (
    ProviderPayment,
    ProviderPaymentStatus,
    ProviderRefund,
    ProviderRefundStatus,
    SettlementKind,
    SettlementLine,
    utc_day,
)


def new_reference(prefix: str) -> str:
    """``sbp_…`` (payment), ``sbr_…`` (refund), ``evt_…`` (event): 28 characters."""
    return f"{prefix}_{secrets.token_hex(12)}"


# ---------------------------------------------------------------------------- checks


def _invalid(code: str, message: str, params: dict[str, Any], pointer: str) -> ValidationFailed:
    return ValidationFailed([Violation(code, message, params, pointer=pointer)], code=code)


def check_text(value: str, field: str, max_length: int) -> None:
    if not isinstance(value, str) or not 1 <= len(value) <= max_length:
        raise _invalid(
            PaymentErrorCode.FIELD_INVALID,
            PaymentMessage.FIELD_INVALID,
            {"field": field, "max_length": max_length},
            f"/{field}",
        )


def check_amount(amount: Money, currency: str | None = None) -> None:
    """More than zero, and in ``currency`` when one is required."""
    if amount.amount <= 0 or (currency is not None and amount.currency != currency):
        raise _invalid(
            PaymentErrorCode.AMOUNT_INVALID,
            PaymentMessage.AMOUNT_INVALID,
            {"currency": currency or amount.currency},
            "/amount",
        )


def key_reused(key: str, operation: str) -> Conflict:
    return Conflict(
        PaymentMessage.IDEMPOTENCY_KEY_REUSED,
        code=PaymentErrorCode.IDEMPOTENCY_KEY_REUSED,
        key=key,
        operation=operation,
    )


def not_found(reference: str) -> NotFound:
    return NotFound(
        PaymentMessage.PAYMENT_NOT_FOUND,
        code=PaymentErrorCode.PAYMENT_NOT_FOUND,
        reference=reference,
    )


# ---------------------------------------------------------------------------- reading rows


_PAYMENT = select(payments).where(payments.c.reference == bindparam("reference"))
_PAYMENT_ROW = Prepared(_PAYMENT)
_PAYMENT_ROW_FOR_UPDATE = Prepared(_PAYMENT.with_for_update())
_PAYMENT_BY_KEY = Prepared(select(payments).where(payments.c.idempotency_key == bindparam("key")))
_REFUND_ROW = Prepared(select(refunds).where(refunds.c.reference == bindparam("reference")))
_REFUND_BY_KEY = Prepared(select(refunds).where(refunds.c.idempotency_key == bindparam("key")))
_PAYMENTS_SUCCEEDED = Prepared(
    select(payments).where(
        payments.c.status == ProviderPaymentStatus.SUCCEEDED.value,
        payments.c.succeeded_at >= bindparam("start"),
        payments.c.succeeded_at < bindparam("end"),
    )
)
_REFUNDS_SETTLED = Prepared(
    select(refunds).where(
        refunds.c.outcome == ProviderRefundStatus.SUCCEEDED.value,
        refunds.c.settles_at >= bindparam("start"),
        refunds.c.settles_at < bindparam("end"),
        refunds.c.settles_at <= bindparam("now"),
    )
)
_REFUNDS_OF_PAYMENT = Prepared(
    select(refunds)
    .where(refunds.c.payment_reference == bindparam("reference"))
    .order_by(refunds.c.created_at, refunds.c.reference)
)
_DELIVERIES_OF_PAYMENT = Prepared(
    select(deliveries)
    .where(deliveries.c.payment_reference == bindparam("reference"))
    .order_by(deliveries.c.id)
)


@contextmanager
def reading(engine: Engine) -> Iterator[Connection]:
    """A read-only transaction, begun before the first statement: Prepared statements run
    on the driver's cursor and do not begin one themselves (SQLite's ``BEGIN`` is what
    gives the reads one snapshot)."""
    with engine.connect().execution_options(marque_readonly=True) as conn:
        conn.begin()
        yield conn
        # COMMIT, not the rollback of closing: psycopg drops the connection's prepared
        # statements at each ROLLBACK (adapters/db/unit_of_work.py, end_unchanged).
        conn.commit()


def payment_row(conn: Connection, reference: str, *, for_update: bool = False) -> Row | None:
    """The payment's row as a dict keyed by column (None when there is none)."""
    query = _PAYMENT_ROW_FOR_UPDATE if for_update else _PAYMENT_ROW
    return query.first(conn, {"reference": reference})


def payment_by_key(conn: Connection, key: str) -> Row | None:
    return _PAYMENT_BY_KEY.first(conn, {"key": key})


def refund_row(conn: Connection, reference: str) -> Row | None:
    return _REFUND_ROW.first(conn, {"reference": reference})


def refund_by_key(conn: Connection, key: str) -> Row | None:
    return _REFUND_BY_KEY.first(conn, {"key": key})


def requested(row: Row) -> Money:
    return Money(row["amount"], row["currency"])


def captured(row: Row) -> Money:
    """What the provider took (the requested amount unless the sandbox was told otherwise)."""
    if row["captured_amount"] is None:
        return Money(row["amount"], row["currency"])
    return Money(row["captured_amount"], row["captured_currency"])


def to_payment(row: Row, pay_url: str) -> ProviderPayment:
    """The contract's view; a succeeded payment shows what was captured."""
    status = ProviderPaymentStatus(row["status"])
    succeeded = status is ProviderPaymentStatus.SUCCEEDED
    return ProviderPayment(
        reference=row["reference"],
        merchant_reference=row["merchant_reference"],
        amount=captured(row) if succeeded else requested(row),
        status=status,
        pay_url=pay_url,
        qr_payload=pay_url,
        created_at=row["created_at"],
    )


def refund_status(row: Row, now: datetime, *, first_answer: bool = False) -> ProviderRefundStatus:
    """PENDING on the first answer and until ``settles_at``; then the decided outcome."""
    if first_answer or row["settles_at"] > now:
        return ProviderRefundStatus.PENDING
    return ProviderRefundStatus(row["outcome"])


def to_refund(row: Row, now: datetime, *, first_answer: bool = False) -> ProviderRefund:
    status = refund_status(row, now, first_answer=first_answer)
    return ProviderRefund(
        reference=row["reference"],
        payment_reference=row["payment_reference"],
        merchant_reference=row["merchant_reference"],
        amount=Money(row["amount"], row["currency"]),
        status=status,
        failure_reason=row["failure_reason"] if status is ProviderRefundStatus.FAILED else None,
        settled_at=None if status is ProviderRefundStatus.PENDING else row["settles_at"],
    )


def settlement_lines(conn: Connection, day: date, now: datetime) -> list[SettlementLine]:
    """Payments that succeeded and refunds that settled as succeeded on ``day`` (UTC)."""
    start, end = utc_day(day)
    paid = _PAYMENTS_SUCCEEDED.rows(conn, {"start": start, "end": end})
    refunded = _REFUNDS_SETTLED.rows(conn, {"start": start, "end": end, "now": now})
    lines = [
        SettlementLine(
            kind=SettlementKind.PAYMENT,
            reference=row["reference"],
            merchant_reference=row["merchant_reference"],
            amount=captured(row),
            settled_at=row["succeeded_at"],
        )
        for row in paid
    ] + [
        SettlementLine(
            kind=SettlementKind.REFUND,
            reference=row["reference"],
            merchant_reference=row["merchant_reference"],
            amount=Money(row["amount"], row["currency"]),
            settled_at=row["settles_at"],
        )
        for row in refunded
    ]
    return sorted(lines, key=lambda line: (line.settled_at, line.kind, line.reference))


# ---------------------------------------------------------------------------- inspection


@dataclass(frozen=True)
class SandboxRefundView:
    refund: ProviderRefund
    created_at: datetime
    settles_at: datetime


@dataclass(frozen=True)
class WebhookDeliveryView:
    event_id: str
    type: str
    refund_reference: str | None
    due_at: datetime
    attempts: int
    last_status: int | None
    delivered_at: datetime | None
    gave_up_at: datetime | None


@dataclass(frozen=True)
class SandboxPaymentView:
    """A payment as the sandbox sees it: for the sandbox API, the pay page and tests."""

    payment: ProviderPayment
    requested: Money
    description: str
    failure_reason: str | None
    succeeded_at: datetime | None
    refunds: list[SandboxRefundView]
    webhooks: list[WebhookDeliveryView]


def refund_views(
    conn: Connection, payment_reference: str, now: datetime
) -> list[SandboxRefundView]:
    rows = _REFUNDS_OF_PAYMENT.rows(conn, {"reference": payment_reference})
    return [
        SandboxRefundView(to_refund(row, now), row["created_at"], row["settles_at"]) for row in rows
    ]


def delivery_views(conn: Connection, payment_reference: str) -> list[WebhookDeliveryView]:
    rows = _DELIVERIES_OF_PAYMENT.rows(conn, {"reference": payment_reference})
    return [
        WebhookDeliveryView(
            event_id=row["event_id"],
            type=row["event_type"],
            refund_reference=row["refund_reference"],
            due_at=row["due_at"],
            attempts=row["attempts"],
            last_status=row["last_status"],
            delivered_at=row["delivered_at"],
            gave_up_at=row["gave_up_at"],
        )
        for row in rows
    ]


__all__ = [
    "SandboxPaymentView",
    "SandboxRefundView",
    "WebhookDeliveryView",
    "captured",
    "check_amount",
    "check_text",
    "delivery_views",
    "key_reused",
    "new_reference",
    "not_found",
    "payment_by_key",
    "payment_row",
    "reading",
    "refund_by_key",
    "refund_row",
    "refund_status",
    "refund_views",
    "requested",
    "settlement_lines",
    "to_payment",
    "to_refund",
]
