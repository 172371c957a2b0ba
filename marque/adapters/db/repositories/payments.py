"""Payments and refunds with their status history (SQLAlchemy Core). Never commits.

Every status move is a conditional UPDATE (``WHERE status = :expected``): of two
concurrent callers exactly one sees its row count be 1. The statements of the payment
webhook, checkout and refunds are ``Prepared`` (built once at import, see
adapters/db/prepared.py); the staff's refund search stays on Core.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    bindparam,
    false,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.sql.dml import Update

from marque.adapters.db.prepared import Prepared, bound
from marque.adapters.db.repositories.orders import SqlOrderRepository, order_from_row
from marque.adapters.db.repositories.rows import (
    created_before,
    every,
    status_change_insert,
    status_change_params,
    status_history,
)
from marque.adapters.db.tables.orders import orders, payments, refund_status_changes, refunds
from marque.domain.money import Money
from marque.domain.order_entities import Order, Payment, PaymentStatus, Refund
from marque.domain.refunds import (
    TO_SEND,
    RefundEvent,
    RefundReason,
    RefundStatus,
    RefundStatusChange,
)


def _payment(row: Mapping[str, Any]) -> Payment:
    return Payment(
        id=row["id"],
        order_id=row["order_id"],
        provider=row["provider"],
        amount=Money(int(row["amount"]), row["currency"]),
        status=PaymentStatus(row["status"]),
        idempotency_key=row["idempotency_key"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        provider_reference=row["provider_reference"],
        pay_url=row["pay_url"],
        qr_payload=row["qr_payload"],
        failure_reason=row["failure_reason"],
        captured_at=row["captured_at"],
    )


def _refund(row: Mapping[str, Any]) -> Refund:
    currency = row["currency"]
    return Refund(
        id=row["id"],
        order_id=row["order_id"],
        payment_id=row["payment_id"],
        amount=Money(int(row["amount"]), currency),
        compensation=Money(int(row["compensation"]), currency),
        status=RefundStatus(row["status"]),
        reason=RefundReason(row["reason"]),
        idempotency_key=row["idempotency_key"],
        key_generation=row["key_generation"],
        attempts=row["attempts"],
        expected_by=row["expected_by"],
        quote_rule=row["quote_rule"],
        quoted_at=row["quoted_at"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        next_attempt_at=row["next_attempt_at"],
        last_error=row["last_error"],
        provider_reference=row["provider_reference"],
        sent_at=row["sent_at"],
        succeeded_at=row["succeeded_at"],
    )


#: The columns a refund's life changes (the rest is fixed when it is quoted).
_REFUND_MUTABLE = (
    "status",
    "idempotency_key",
    "key_generation",
    "attempts",
    "next_attempt_at",
    "last_error",
    "provider_reference",
    "updated_at",
    "sent_at",
    "succeeded_at",
)


def _refund_values(refund: Refund) -> dict[str, Any]:
    """The values of ``_REFUND_MUTABLE``, keyed by their bind names."""
    return {
        "b_status": str(refund.status),
        "b_idempotency_key": refund.idempotency_key,
        "b_key_generation": refund.key_generation,
        "b_attempts": refund.attempts,
        "b_next_attempt_at": refund.next_attempt_at,
        "b_last_error": refund.last_error[:500] if refund.last_error else None,
        "b_provider_reference": refund.provider_reference,
        "b_updated_at": refund.updated_at,
        "b_sent_at": refund.sent_at,
        "b_succeeded_at": refund.succeeded_at,
    }


def _status_in(count: int) -> ColumnElement[bool]:
    """``status IN (:b_from_0, ...)``: one bind per status, as ``Prepared`` cannot expand a
    list at execution. No status matches no row, as an empty ``IN`` does."""
    if not count:
        return false()
    return payments.c.status.in_([bindparam(f"b_from_{i}") for i in range(count)])


def _from(statuses: Sequence[PaymentStatus]) -> dict[str, str]:
    return {f"b_from_{i}": str(status) for i, status in enumerate(statuses)}


def _insert_payment() -> Prepared:
    """The payment, numbered as its order's next attempt in the same statement."""
    earlier = payments.alias("earlier")
    attempt = (
        select(func.coalesce(func.max(earlier.c.attempt), 0) + 1)
        .where(earlier.c.order_id == bindparam("b_order_id"))
        .scalar_subquery()
    )
    columns = [column.key for column in payments.c if column.key != "attempt"]
    return Prepared(insert(payments).values(attempt=attempt, **bound(*columns)))


_INSERT_PAYMENT = _insert_payment()
_PAYMENT_BY_ID = Prepared(select(payments).where(payments.c.id == bindparam("id")))
_PAYMENTS_OF_ORDER = Prepared(
    select(payments)
    .where(payments.c.order_id == bindparam("order_id"))
    .order_by(payments.c.attempt, payments.c.created_at, payments.c.id)
)
#: The order's columns in answers that carry both (the capture, the payment poll), prefixed
#: apart from the payment's.
_ORDER_PREFIX = "order__"
#: An order and its payments in one read (the buyer's payment poll): the order's columns
#: prefixed apart; a row of NULL payment columns when it has none.
_ORDER_AND_PAYMENTS = Prepared(
    select(*(c.label(_ORDER_PREFIX + c.key) for c in orders.c), *payments.c)
    .select_from(orders.outerjoin(payments, payments.c.order_id == orders.c.id))
    .where(orders.c.id == bindparam("order_id"))
    .order_by(payments.c.attempt, payments.c.created_at, payments.c.id)
)
_SET_CHECKOUT = Prepared(
    update(payments)
    .where(payments.c.id == bindparam("b_id"))
    .values(**bound("provider_reference", "pay_url", "qr_payload", "updated_at"))
)
_CAPTURED_BETWEEN = Prepared(
    select(payments)
    .where(payments.c.captured_at >= bindparam("start"), payments.c.captured_at < bindparam("end"))
    .order_by(payments.c.captured_at)
)


@cache
def _move(from_count: int, optional: tuple[str, ...]) -> Prepared:
    """One statement per number of expected statuses and set of optional columns set."""
    return Prepared(
        update(payments)
        .where(payments.c.id == bindparam("b_id"), _status_in(from_count))
        .values(**bound("status", "updated_at", *optional))
    )


def _capture_statement(from_count: int) -> Update:
    return (
        update(payments)
        .where(
            payments.c.id == bindparam("b_id"),
            _status_in(from_count),
            payments.c.amount == bindparam("b_amount"),
            payments.c.currency == bindparam("b_currency"),
        )
        .values(
            status=str(PaymentStatus.SUCCEEDED),
            **bound("updated_at", "captured_at", "provider_reference"),
        )
    )


@cache
def _capture(from_count: int) -> Prepared:
    return Prepared(_capture_statement(from_count).returning(*payments.c))


@cache
def _capture_with_order(from_count: int) -> Prepared:
    """The capture, answered with the payment and its order (``UPDATE ... FROM``): the
    webhook needs the order next, and this saves reading it in a statement of its own. The
    order is read as a plain read would (not locked); its update checks its version.
    PostgreSQL only: SQLite's RETURNING cannot name the FROM clause's tables."""
    return Prepared(
        _capture_statement(from_count)
        .where(orders.c.id == payments.c.order_id)
        .returning(*payments.c, *(c.label(_ORDER_PREFIX + c.key) for c in orders.c))
    )


def _order_part(row: Mapping[str, Any]) -> Order:
    cut = len(_ORDER_PREFIX)
    return order_from_row({k[cut:]: v for k, v in row.items() if k.startswith(_ORDER_PREFIX)})


_INSERT_REFUND = Prepared(insert(refunds).values(**bound(*(c.key for c in refunds.c))))
_REFUND_BY_ID = Prepared(select(refunds).where(refunds.c.id == bindparam("id")))
_REFUNDS_OF_ORDER = Prepared(
    select(refunds)
    .where(refunds.c.order_id == bindparam("order_id"))
    .order_by(refunds.c.created_at, refunds.c.id)
)
_UPDATE_REFUND = Prepared(
    update(refunds)
    .where(
        refunds.c.id == bindparam("b_id"),
        refunds.c.status == bindparam("b_expected_status"),
        refunds.c.attempts == bindparam("b_expected_attempts"),
    )
    .values(**bound(*_REFUND_MUTABLE))
)
_DUE_REFUNDS = Prepared(
    select(refunds)
    .where(
        refunds.c.status.in_([bindparam(f"to_send_{s}", str(s)) for s in sorted(TO_SEND)]),
        or_(refunds.c.next_attempt_at.is_(None), refunds.c.next_attempt_at <= bindparam("now")),
    )
    .order_by(refunds.c.created_at, refunds.c.id)
    .limit(bindparam("limit"))
)


class SqlPaymentRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, payment: Payment) -> None:
        """Insert the payment as its order's next attempt (numbered in the same statement)."""
        _INSERT_PAYMENT.run(
            self.conn,
            {
                "b_id": payment.id,
                "b_order_id": payment.order_id,
                "b_provider": payment.provider,
                "b_provider_reference": payment.provider_reference,
                "b_amount": payment.amount.amount,
                "b_currency": payment.amount.currency,
                "b_status": str(payment.status),
                "b_idempotency_key": payment.idempotency_key,
                "b_pay_url": payment.pay_url,
                "b_qr_payload": payment.qr_payload,
                "b_failure_reason": payment.failure_reason,
                "b_created_at": payment.created_at,
                "b_updated_at": payment.updated_at,
                "b_captured_at": payment.captured_at,
            },
        )

    def get(self, payment_id: str) -> Payment | None:
        return _PAYMENT_BY_ID.one_as(self.conn, {"id": payment_id}, _payment)

    def for_order(self, order_id: str) -> list[Payment]:
        """In the order they were made: the last one is the latest attempt."""
        return _PAYMENTS_OF_ORDER.all_as(self.conn, {"order_id": order_id}, _payment)

    def order_and_payments(self, order_id: str) -> tuple[Order, list[Payment]] | None:
        """The order and ``for_order``'s payments, in one statement; None without the order."""
        rows = _ORDER_AND_PAYMENTS.rows(self.conn, {"order_id": order_id})
        if not rows:
            return None
        return _order_part(rows[0]), [_payment(row) for row in rows if row["id"] is not None]

    def set_checkout(
        self,
        payment_id: str,
        *,
        provider_reference: str,
        pay_url: str,
        qr_payload: str,
        now: datetime,
    ) -> None:
        _SET_CHECKOUT.run(
            self.conn,
            {
                "b_id": payment_id,
                "b_provider_reference": provider_reference,
                "b_pay_url": pay_url,
                "b_qr_payload": qr_payload,
                "b_updated_at": now,
            },
        )

    def move(
        self,
        payment_id: str,
        *,
        from_statuses: Sequence[PaymentStatus],
        to: PaymentStatus,
        now: datetime,
        captured_at: datetime | None = None,
        failure_reason: str | None = None,
        provider_reference: str | None = None,
    ) -> bool:
        params: dict[str, Any] = {
            "b_id": payment_id,
            "b_status": str(to),
            "b_updated_at": now,
            **_from(from_statuses),
        }
        optional = []
        if captured_at is not None:
            optional.append("captured_at")
            params["b_captured_at"] = captured_at
        if failure_reason is not None:
            optional.append("failure_reason")
            params["b_failure_reason"] = failure_reason[:200]
        if provider_reference is not None:
            optional.append("provider_reference")
            params["b_provider_reference"] = provider_reference
        statement = _move(len(from_statuses), tuple(optional))
        return statement.run(self.conn, params) == 1

    def capture(
        self,
        payment_id: str,
        amount: Money,
        *,
        from_statuses: Sequence[PaymentStatus],
        now: datetime,
        captured_at: datetime,
        provider_reference: str,
    ) -> tuple[Payment, Order] | None:
        """Mark the payment succeeded if it is in ``from_statuses`` and asks for exactly
        ``amount``, in one ``UPDATE ... RETURNING`` (no read first) that also reads its
        order; None otherwise."""
        with_order = self.conn.dialect.name == "postgresql"
        statement = _capture_with_order if with_order else _capture
        row = statement(len(from_statuses)).first(
            self.conn,
            {
                "b_id": payment_id,
                "b_amount": amount.amount,
                "b_currency": amount.currency,
                "b_updated_at": now,
                "b_captured_at": captured_at,
                "b_provider_reference": provider_reference,
                **_from(from_statuses),
            },
        )
        if row is None:
            return None
        payment = _payment(row)
        if with_order:
            return payment, _order_part(row)
        order = SqlOrderRepository(self.conn).get(payment.order_id)
        assert order is not None  # payments reference their order
        return payment, order

    def captured_between(self, start: datetime, end: datetime) -> list[Payment]:
        return _CAPTURED_BETWEEN.all_as(self.conn, {"start": start, "end": end}, _payment)


class SqlRefundRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, refund: Refund) -> None:
        _INSERT_REFUND.run(
            self.conn,
            {
                "b_id": refund.id,
                "b_order_id": refund.order_id,
                "b_payment_id": refund.payment_id,
                "b_amount": refund.amount.amount,
                "b_compensation": refund.compensation.amount,
                "b_currency": refund.amount.currency,
                "b_reason": str(refund.reason),
                "b_expected_by": refund.expected_by,
                "b_quote_rule": refund.quote_rule,
                "b_quoted_at": refund.quoted_at,
                "b_created_at": refund.created_at,
                **_refund_values(refund),
            },
        )

    def get(self, refund_id: str) -> Refund | None:
        return _REFUND_BY_ID.one_as(self.conn, {"id": refund_id}, _refund)

    def for_order(self, order_id: str) -> list[Refund]:
        return _REFUNDS_OF_ORDER.all_as(self.conn, {"order_id": order_id}, _refund)

    def update(
        self, refund: Refund, *, expected_status: RefundStatus, expected_attempts: int
    ) -> bool:
        params = {
            "b_id": refund.id,
            "b_expected_status": str(expected_status),
            "b_expected_attempts": expected_attempts,
            **_refund_values(refund),
        }
        return _UPDATE_REFUND.run(self.conn, params) == 1

    def add_status_change(self, refund_id: str, change: RefundStatusChange) -> None:
        statement = status_change_insert(refund_status_changes, "refund_id")
        statement.run(self.conn, status_change_params("refund_id", refund_id, [change]))

    def status_changes(self, refund_id: str) -> list[RefundStatusChange]:
        return status_history(
            self.conn,
            refund_status_changes,
            "refund_id",
            refund_id,
            RefundStatusChange,
            RefundStatus,
            RefundEvent,
        )

    def due(self, now: datetime, limit: int) -> list[Refund]:
        return _DUE_REFUNDS.all_as(self.conn, {"now": now, "limit": limit}, _refund)

    def search(
        self,
        *,
        statuses: Sequence[RefundStatus],
        expected_before: datetime | None,
        after: tuple[datetime, str] | None,
        limit: int,
    ) -> list[Refund]:
        query = select(refunds)
        if statuses:
            query = query.where(refunds.c.status.in_([str(s) for s in statuses]))
        if expected_before is not None:
            query = query.where(refunds.c.expected_by < expected_before)
        if after is not None:
            query = query.where(created_before(refunds, after))
        query = query.order_by(refunds.c.created_at.desc(), refunds.c.id.desc()).limit(limit)
        return every(self.conn, query, _refund)
