"""Payments and refunds with their status history (SQLAlchemy Core). Never commits.

Every status move is a conditional UPDATE (``WHERE status = :expected``): of two
concurrent callers exactly one sees its row count be 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, or_, select, update
from sqlalchemy.engine import RowMapping

from marque.adapters.db.repositories.rows import (
    created_before,
    every,
    first,
    status_change_values,
    status_history,
)
from marque.adapters.db.tables.orders import payments, refund_status_changes, refunds
from marque.domain.money import Money
from marque.domain.order_entities import Payment, PaymentStatus, Refund
from marque.domain.refunds import (
    TO_SEND,
    RefundEvent,
    RefundReason,
    RefundStatus,
    RefundStatusChange,
)


def _payment(row: RowMapping) -> Payment:
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


def _refund(row: RowMapping) -> Refund:
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


def _refund_values(refund: Refund) -> dict[str, Any]:
    return {
        "status": str(refund.status),
        "idempotency_key": refund.idempotency_key,
        "key_generation": refund.key_generation,
        "attempts": refund.attempts,
        "next_attempt_at": refund.next_attempt_at,
        "last_error": refund.last_error[:500] if refund.last_error else None,
        "provider_reference": refund.provider_reference,
        "updated_at": refund.updated_at,
        "sent_at": refund.sent_at,
        "succeeded_at": refund.succeeded_at,
    }


def _insert_payment() -> Any:
    """Built once (see repositories/orders.py): the payment, numbered as its order's next
    attempt in the same statement (``attempt_of`` is the order's id)."""
    earlier = payments.alias("earlier")
    attempt = (
        select(func.coalesce(func.max(earlier.c.attempt), 0) + 1)
        .where(earlier.c.order_id == bindparam("attempt_of"))
        .scalar_subquery()
    )
    return insert(payments).values(attempt=attempt)


_INSERT_PAYMENT = _insert_payment()


class SqlPaymentRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, payment: Payment) -> None:
        """Insert the payment as its order's next attempt (numbered in the same statement)."""
        self.conn.execute(
            _INSERT_PAYMENT,
            {
                "id": payment.id,
                "order_id": payment.order_id,
                "provider": payment.provider,
                "provider_reference": payment.provider_reference,
                "amount": payment.amount.amount,
                "currency": payment.amount.currency,
                "status": str(payment.status),
                "idempotency_key": payment.idempotency_key,
                "pay_url": payment.pay_url,
                "qr_payload": payment.qr_payload,
                "failure_reason": payment.failure_reason,
                "created_at": payment.created_at,
                "updated_at": payment.updated_at,
                "captured_at": payment.captured_at,
                "attempt_of": payment.order_id,
            },
        )

    def get(self, payment_id: str) -> Payment | None:
        return first(self.conn, select(payments).where(payments.c.id == payment_id), _payment)

    def for_order(self, order_id: str) -> list[Payment]:
        """In the order they were made: the last one is the latest attempt."""
        query = (
            select(payments)
            .where(payments.c.order_id == order_id)
            .order_by(payments.c.attempt, payments.c.created_at, payments.c.id)
        )
        return every(self.conn, query, _payment)

    def set_checkout(
        self,
        payment_id: str,
        *,
        provider_reference: str,
        pay_url: str,
        qr_payload: str,
        now: datetime,
    ) -> None:
        self.conn.execute(
            update(payments)
            .where(payments.c.id == payment_id)
            .values(
                provider_reference=provider_reference,
                pay_url=pay_url,
                qr_payload=qr_payload,
                updated_at=now,
            )
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
        values: dict[str, Any] = {"status": str(to), "updated_at": now}
        if captured_at is not None:
            values["captured_at"] = captured_at
        if failure_reason is not None:
            values["failure_reason"] = failure_reason[:200]
        if provider_reference is not None:
            values["provider_reference"] = provider_reference
        result = self.conn.execute(
            update(payments)
            .where(
                payments.c.id == payment_id,
                payments.c.status.in_([str(s) for s in from_statuses]),
            )
            .values(**values)
        )
        return bool(result.rowcount == 1)

    def capture(
        self,
        payment_id: str,
        amount: Money,
        *,
        from_statuses: Sequence[PaymentStatus],
        now: datetime,
        captured_at: datetime,
        provider_reference: str,
    ) -> Payment | None:
        """Mark the payment succeeded if it is in ``from_statuses`` and asks for exactly
        ``amount``, in one ``UPDATE ... RETURNING`` (no read first); None otherwise."""
        statement = (
            update(payments)
            .where(
                payments.c.id == payment_id,
                payments.c.status.in_([str(s) for s in from_statuses]),
                payments.c.amount == amount.amount,
                payments.c.currency == amount.currency,
            )
            .values(
                status=str(PaymentStatus.SUCCEEDED),
                updated_at=now,
                captured_at=captured_at,
                provider_reference=provider_reference,
            )
            .returning(*payments.c)
        )
        return first(self.conn, statement, _payment)

    def captured_between(self, start: datetime, end: datetime) -> list[Payment]:
        query = (
            select(payments)
            .where(payments.c.captured_at >= start, payments.c.captured_at < end)
            .order_by(payments.c.captured_at)
        )
        return every(self.conn, query, _payment)


class SqlRefundRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, refund: Refund) -> None:
        self.conn.execute(
            insert(refunds).values(
                id=refund.id,
                order_id=refund.order_id,
                payment_id=refund.payment_id,
                amount=refund.amount.amount,
                compensation=refund.compensation.amount,
                currency=refund.amount.currency,
                reason=str(refund.reason),
                expected_by=refund.expected_by,
                quote_rule=refund.quote_rule,
                quoted_at=refund.quoted_at,
                created_at=refund.created_at,
                **_refund_values(refund),
            )
        )

    def get(self, refund_id: str) -> Refund | None:
        return first(self.conn, select(refunds).where(refunds.c.id == refund_id), _refund)

    def for_order(self, order_id: str) -> list[Refund]:
        query = (
            select(refunds)
            .where(refunds.c.order_id == order_id)
            .order_by(refunds.c.created_at, refunds.c.id)
        )
        return every(self.conn, query, _refund)

    def update(
        self, refund: Refund, *, expected_status: RefundStatus, expected_attempts: int
    ) -> bool:
        result = self.conn.execute(
            update(refunds)
            .where(
                refunds.c.id == refund.id,
                refunds.c.status == str(expected_status),
                refunds.c.attempts == expected_attempts,
            )
            .values(**_refund_values(refund))
        )
        return bool(result.rowcount == 1)

    def add_status_change(self, refund_id: str, change: RefundStatusChange) -> None:
        self.conn.execute(
            insert(refund_status_changes).values(
                refund_id=refund_id, **status_change_values(change)
            )
        )

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
        query = (
            select(refunds)
            .where(
                refunds.c.status.in_([str(s) for s in TO_SEND]),
                or_(refunds.c.next_attempt_at.is_(None), refunds.c.next_attempt_at <= now),
            )
            .order_by(refunds.c.created_at, refunds.c.id)
            .limit(limit)
        )
        return every(self.conn, query, _refund)

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
