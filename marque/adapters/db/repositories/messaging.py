"""Outbox, idempotency keys and webhook receipts (SQLAlchemy Core). Never commits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, delete, insert, or_, select, update
from sqlalchemy.engine import RowMapping

from marque.adapters.db.repositories.inserts import insert_if_absent
from marque.adapters.db.tables.orders import idempotency_keys, outbox, webhook_receipts
from marque.domain.money import Money
from marque.domain.order_records import (
    IdempotencyRecord,
    OutboxMessage,
    WebhookOutcome,
    WebhookReceipt,
)


def _message(row: RowMapping) -> OutboxMessage:
    return OutboxMessage(
        id=row["id"],
        topic=row["topic"],
        payload=dict(row["payload"]),
        attempts=row["attempts"],
        created_at=row["created_at"],
    )


_INSERT_OUTBOX = insert(outbox)  # built once (see repositories/orders.py)


class SqlOutboxRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, topic: str, payload: dict[str, Any], *, now: datetime) -> None:
        self.conn.execute(
            _INSERT_OUTBOX,
            {
                "topic": topic,
                "payload": payload,
                "created_at": now,
                "available_at": now,
                "attempts": 0,
                "dead": False,
            },
        )

    def claim(self, now: datetime, *, lease_until: datetime, limit: int) -> list[OutboxMessage]:
        query = (
            select(outbox)
            .where(
                outbox.c.sent_at.is_(None), outbox.c.dead.is_(False), outbox.c.available_at <= now
            )
            .order_by(outbox.c.available_at, outbox.c.id)
            .limit(limit)
        )
        if self.conn.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        rows = list(self.conn.execute(query).mappings())
        if rows:
            self.conn.execute(
                update(outbox)
                .where(outbox.c.id.in_([row["id"] for row in rows]))
                .values(available_at=lease_until, attempts=outbox.c.attempts + 1)
            )
        return [_message(row) for row in rows]

    def mark_sent(self, message_ids: Sequence[int], now: datetime) -> None:
        self.conn.execute(
            update(outbox)
            .where(outbox.c.id.in_(list(message_ids)))
            .values(sent_at=now, last_error=None)
        )

    def mark_failed(self, message_id: int, *, error: str, retry_at: datetime, dead: bool) -> None:
        self.conn.execute(
            update(outbox)
            .where(outbox.c.id == message_id)
            .values(last_error=error[:500], available_at=retry_at, dead=dead)
        )

    def pending(self, topic: str | None = None) -> list[OutboxMessage]:
        query = select(outbox).where(outbox.c.sent_at.is_(None), outbox.c.dead.is_(False))
        if topic is not None:
            query = query.where(outbox.c.topic == topic)
        return [_message(row) for row in self.conn.execute(query.order_by(outbox.c.id)).mappings()]


def _record(row: RowMapping) -> IdempotencyRecord:
    return IdempotencyRecord(
        actor=row["actor"],
        key=row["key"],
        method=row["method"],
        path=row["path"],
        request_hash=row["request_hash"],
        created_at=row["created_at"],
        status=row["status"],
        response=row["response"],
    )


#: Built once (see repositories/orders.py); the SET values come as parameters.
_COMPLETE_KEY = update(idempotency_keys).where(
    idempotency_keys.c.actor == bindparam("of_actor"), idempotency_keys.c.key == bindparam("of_key")
)


class SqlIdempotencyRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def claim(self, record: IdempotencyRecord) -> bool:
        return insert_if_absent(
            self.conn,
            idempotency_keys,
            {
                "actor": record.actor,
                "key": record.key,
                "method": record.method,
                "path": record.path[:255],
                "request_hash": record.request_hash,
                "status": None,
                "response": None,
                "created_at": record.created_at,
            },
            unique=["actor", "key"],
        )

    def get(self, actor: str, key: str) -> IdempotencyRecord | None:
        query = select(idempotency_keys).where(
            idempotency_keys.c.actor == actor, idempotency_keys.c.key == key
        )
        row = self.conn.execute(query).mappings().first()
        return _record(row) if row else None

    def complete(self, actor: str, key: str, *, status: int, response: Any, now: datetime) -> None:
        self.conn.execute(
            _COMPLETE_KEY,
            {
                "of_actor": actor,
                "of_key": key,
                "status": status,
                "response": response,
                "completed_at": now,
            },
        )

    def release(self, actor: str, key: str) -> None:
        self.conn.execute(
            delete(idempotency_keys).where(
                idempotency_keys.c.actor == actor,
                idempotency_keys.c.key == key,
                idempotency_keys.c.status.is_(None),
            )
        )

    def restart(
        self, actor: str, key: str, *, now: datetime, lease_started_before: datetime
    ) -> bool:
        result = self.conn.execute(
            update(idempotency_keys)
            .where(
                idempotency_keys.c.actor == actor,
                idempotency_keys.c.key == key,
                idempotency_keys.c.status.is_(None),
                or_(
                    idempotency_keys.c.created_at < lease_started_before,
                    idempotency_keys.c.created_at.is_(None),
                ),
            )
            .values(created_at=now)
        )
        return bool(result.rowcount == 1)

    def purge(self, older_than: datetime) -> int:
        result = self.conn.execute(
            delete(idempotency_keys).where(idempotency_keys.c.created_at < older_than)
        )
        return int(result.rowcount)


class SqlWebhookReceiptRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def record(
        self,
        receipt: WebhookReceipt,
        *,
        payment_reference: str,
        merchant_reference: str,
        amount: Money,
    ) -> bool:
        return insert_if_absent(
            self.conn,
            webhook_receipts,
            {
                "provider": receipt.provider,
                "event_id": receipt.event_id[:64],
                "event_type": receipt.event_type[:32],
                "payment_reference": payment_reference[:64],
                "merchant_reference": merchant_reference[:64],
                "amount": amount.amount,
                "currency": amount.currency,
                "outcome": str(receipt.outcome),
                "detail": receipt.detail[:500],
                "received_at": receipt.received_at,
            },
            unique=["provider", "event_id"],
        )

    def get(self, provider: str, event_id: str) -> WebhookReceipt | None:
        query = select(webhook_receipts).where(
            webhook_receipts.c.provider == provider, webhook_receipts.c.event_id == event_id[:64]
        )
        row = self.conn.execute(query).mappings().first()
        if row is None:
            return None
        return WebhookReceipt(
            provider=row["provider"],
            event_id=row["event_id"],
            event_type=row["event_type"],
            outcome=WebhookOutcome(row["outcome"]),
            detail=row["detail"],
            received_at=row["received_at"],
        )

    def set_outcome(
        self, provider: str, event_id: str, outcome: WebhookOutcome, detail: str
    ) -> None:
        self.conn.execute(
            update(webhook_receipts)
            .where(
                webhook_receipts.c.provider == provider,
                webhook_receipts.c.event_id == event_id[:64],
            )
            .values(outcome=str(outcome), detail=detail[:500])
        )
