"""Outbox, idempotency keys and webhook receipts (SQLAlchemy Core). Never commits."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Integer, bindparam, delete, insert, or_, select, update

from marque.adapters.db.prepared import Prepared, bound
from marque.adapters.db.repositories.inserts import insert_if_absent
from marque.adapters.db.tables.orders import (
    OUTBOX_PENDING,
    idempotency_keys,
    outbox,
    webhook_receipts,
)
from marque.domain.money import Money
from marque.domain.order_records import (
    IdempotencyRecord,
    OutboxMessage,
    WebhookOutcome,
    WebhookReceipt,
)


def _message(row: Mapping[str, Any]) -> OutboxMessage:
    return OutboxMessage(
        id=row["id"],
        topic=row["topic"],
        payload=dict(row["payload"]),
        attempts=row["attempts"],
        created_at=row["created_at"],
    )


# inline(): no implicit RETURNING of the new id, which nobody reads.
_ADD_MESSAGE = Prepared(
    insert(outbox)
    .values(
        **bound("topic", "payload"),
        created_at=bindparam("b_at"),
        available_at=bindparam("b_at"),
        attempts=0,
        dead=False,
    )
    .inline()
)
#: The condition written as the partial index ``ix_outbox_pending`` states it, so that the
#: planners of both engines read the next due messages from it in order.
_DUE_MESSAGES = (
    select(outbox)
    .where(OUTBOX_PENDING, outbox.c.available_at <= bindparam("now"))
    .order_by(outbox.c.available_at, outbox.c.id)
    .limit(bindparam("limit", type_=Integer))
)
_CLAIM_MESSAGES = Prepared(_DUE_MESSAGES)
#: PostgreSQL: relays in several processes each take messages the others have not locked.
_CLAIM_MESSAGES_SKIP_LOCKED = Prepared(_DUE_MESSAGES.with_for_update(skip_locked=True))
_UNSENT = select(outbox).where(OUTBOX_PENDING)
_PENDING = Prepared(_UNSENT.order_by(outbox.c.id))
_PENDING_OF_TOPIC = Prepared(
    _UNSENT.where(outbox.c.topic == bindparam("topic")).order_by(outbox.c.id)
)
_FAIL_MESSAGE = Prepared(
    update(outbox)
    .where(outbox.c.id == bindparam("b_id"))
    .values(
        last_error=bindparam("b_error"),
        available_at=bindparam("b_retry_at"),
        dead=bindparam("b_dead"),
    )
)


class SqlOutboxRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, topic: str, payload: dict[str, Any], *, now: datetime) -> None:
        _ADD_MESSAGE.run(self.conn, {"b_topic": topic, "b_payload": payload, "b_at": now})

    def claim(self, now: datetime, *, lease_until: datetime, limit: int) -> list[OutboxMessage]:
        if self.conn.dialect.name == "postgresql":
            query = _CLAIM_MESSAGES_SKIP_LOCKED
        else:
            query = _CLAIM_MESSAGES
        rows = query.rows(self.conn, {"now": now, "limit": limit})
        if rows:  # an IN list: stays on Core (Prepared cannot render one)
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
        _FAIL_MESSAGE.run(
            self.conn,
            {"b_id": message_id, "b_error": error[:500], "b_retry_at": retry_at, "b_dead": dead},
        )

    def pending(self, topic: str | None = None) -> list[OutboxMessage]:
        if topic is None:
            return _PENDING.all_as(self.conn, {}, _message)
        return _PENDING_OF_TOPIC.all_as(self.conn, {"topic": topic}, _message)


def _record(row: Mapping[str, Any]) -> IdempotencyRecord:
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


_THE_KEY = (
    idempotency_keys.c.actor == bindparam("b_actor"),
    idempotency_keys.c.key == bindparam("b_key"),
)
_GET_KEY = Prepared(select(idempotency_keys).where(*_THE_KEY))
_COMPLETE_KEY = Prepared(
    update(idempotency_keys).where(*_THE_KEY).values(bound("status", "response", "completed_at"))
)
_RELEASE_KEY = Prepared(
    delete(idempotency_keys).where(*_THE_KEY, idempotency_keys.c.status.is_(None))
)
_RESTART_KEY = Prepared(
    update(idempotency_keys)
    .where(
        *_THE_KEY,
        idempotency_keys.c.status.is_(None),
        or_(
            idempotency_keys.c.created_at < bindparam("b_lease_started_before"),
            idempotency_keys.c.created_at.is_(None),
        ),
    )
    .values(created_at=bindparam("b_now"))
)
_PURGE_KEYS = Prepared(
    delete(idempotency_keys).where(idempotency_keys.c.created_at < bindparam("b_older_than"))
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
        return _GET_KEY.one_as(self.conn, {"b_actor": actor, "b_key": key}, _record)

    def complete(self, actor: str, key: str, *, status: int, response: Any, now: datetime) -> None:
        _COMPLETE_KEY.run(
            self.conn,
            {
                "b_actor": actor,
                "b_key": key,
                "b_status": status,
                "b_response": response,
                "b_completed_at": now,
            },
        )

    def release(self, actor: str, key: str) -> None:
        _RELEASE_KEY.run(self.conn, {"b_actor": actor, "b_key": key})

    def restart(
        self, actor: str, key: str, *, now: datetime, lease_started_before: datetime
    ) -> bool:
        touched = _RESTART_KEY.run(
            self.conn,
            {
                "b_actor": actor,
                "b_key": key,
                "b_now": now,
                "b_lease_started_before": lease_started_before,
            },
        )
        return touched == 1

    def purge(self, older_than: datetime) -> int:
        return _PURGE_KEYS.run(self.conn, {"b_older_than": older_than})


def _receipt(row: Mapping[str, Any]) -> WebhookReceipt:
    return WebhookReceipt(
        provider=row["provider"],
        event_id=row["event_id"],
        event_type=row["event_type"],
        outcome=WebhookOutcome(row["outcome"]),
        detail=row["detail"],
        received_at=row["received_at"],
    )


_THE_RECEIPT = (
    webhook_receipts.c.provider == bindparam("b_provider"),
    webhook_receipts.c.event_id == bindparam("b_event_id"),
)
_GET_RECEIPT = Prepared(select(webhook_receipts).where(*_THE_RECEIPT))
_SET_OUTCOME = Prepared(
    update(webhook_receipts).where(*_THE_RECEIPT).values(bound("outcome", "detail"))
)


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
        params = {"b_provider": provider, "b_event_id": event_id[:64]}
        return _GET_RECEIPT.one_as(self.conn, params, _receipt)

    def set_outcome(
        self, provider: str, event_id: str, outcome: WebhookOutcome, detail: str
    ) -> None:
        _SET_OUTCOME.run(
            self.conn,
            {
                "b_provider": provider,
                "b_event_id": event_id[:64],
                "b_outcome": str(outcome),
                "b_detail": detail[:500],
            },
        )
