"""The sandbox provider's webhooks: their JSON body, their schedule and their delivery.

An event (a payment or refund that succeeded or failed) is written as one or more rows of
``sandbox_webhook_deliveries`` in the same transaction that records it, each due at some
time; ``deliver_due`` later signs each due row and POSTs it. Delivery is *at least once*: a
non-2xx answer or a network error is retried with exponential backoff (1 s, 2 s, 4 s ...
capped at 5 minutes) up to ``MAX_ATTEMPTS`` times, then the row is marked as given up.
A duplicated event is two rows with the same ``event_id``, so a receiver that deduplicates
on ``event_id`` sees one event.

Several processes may run ``deliver_due`` at once (one per server process): a row is
claimed with a conditional update on its attempt counter before it is sent, so one process
sends each attempt.

Body (JSON, UTF-8)::

    {"event_id": "evt_...", "type": "payment.succeeded", "payment_reference": "sbp_...",
     "merchant_reference": "...", "refund_reference": null,
     "amount": {"amount": 500000, "currency": "CNY"},
     "occurred_at": "2026-11-25T10:00:00+00:00", "failure_reason": null}
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, Protocol

import httpx
from sqlalchemy import Connection, Engine, Integer, bindparam, insert, select, update

from marque.adapters.db.prepared import Prepared, bound
from marque.adapters.db.tables.sandbox_payments import sandbox_webhook_deliveries as deliveries
from marque.adapters.payments.errors import PaymentErrorCode, PaymentMessage
from marque.adapters.payments.sandbox_records import WebhookDeliveryView, reading
from marque.adapters.payments.signing import SIGNATURE_HEADER, signature_header
from marque.domain.money import Money
from marque.services.payment_ports import WebhookEvent, WebhookEventType, WebhookRejected

log = logging.getLogger("marque.payments.sandbox")

WEBHOOK_PATH: Final = "/api/v1/payments/webhooks/sandbox"
MAX_ATTEMPTS: Final = 12
MAX_BACKOFF_SECONDS: Final = 300
#: How long a claimed row stays out of other processes' reach while it is being sent.
CLAIM_SECONDS: Final = 30
HTTP_TIMEOUT_SECONDS: Final = 5.0

#: ``post(url, headers, body) -> HTTP status`` (0 when no answer came).
Post = Callable[[str, Mapping[str, str], bytes], int]


# ---------------------------------------------------------------------------- the body


def encode_event(event: WebhookEvent) -> bytes:
    document = {
        "event_id": event.event_id,
        "type": str(event.type),
        "payment_reference": event.payment_reference,
        "merchant_reference": event.merchant_reference,
        "refund_reference": event.refund_reference,
        "amount": {"amount": event.amount.amount, "currency": event.amount.currency},
        "occurred_at": event.occurred_at.isoformat(),
        "failure_reason": event.failure_reason,
    }
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def _malformed(problem: str) -> WebhookRejected:
    return WebhookRejected(
        PaymentMessage.WEBHOOK_MALFORMED,
        code=PaymentErrorCode.WEBHOOK_MALFORMED,
        problem=problem,
        reason=problem,
    )


def _text(document: Mapping[str, Any], name: str, *, optional: bool = False) -> str | None:
    value = document.get(name)
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value or len(value) > 200:
        raise _malformed(f"'{name}' is not a non-empty string")
    return value


def decode_event(body: bytes) -> WebhookEvent:
    """The event in a (verified) body, or ``payments.webhook_malformed``."""
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise _malformed("the body is not JSON") from None
    if not isinstance(document, dict):
        raise _malformed("the body is not a JSON object")
    try:
        event_type = WebhookEventType(str(document.get("type")))
    except ValueError:
        raise _malformed("'type' is not a known event type") from None
    amount = document.get("amount")
    if not isinstance(amount, dict):
        raise _malformed("'amount' is not an object")
    value, currency = amount.get("amount"), amount.get("currency")
    if not isinstance(value, int) or isinstance(value, bool) or not isinstance(currency, str):
        raise _malformed("'amount' is not {amount: integer, currency: code}")
    try:
        money = Money(value, currency)
        occurred_at = datetime.fromisoformat(str(document.get("occurred_at")))
    except ValueError:
        raise _malformed("'amount' or 'occurred_at' cannot be read") from None
    if occurred_at.tzinfo is None:
        raise _malformed("'occurred_at' has no time zone")
    refund_reference = _text(document, "refund_reference", optional=True)
    if event_type.value.startswith("refund.") and refund_reference is None:
        raise _malformed("a refund event has no 'refund_reference'")
    return WebhookEvent(
        event_id=str(_text(document, "event_id")),
        type=event_type,
        payment_reference=str(_text(document, "payment_reference")),
        merchant_reference=str(_text(document, "merchant_reference")),
        amount=money,
        occurred_at=occurred_at,
        refund_reference=refund_reference,
        failure_reason=_text(document, "failure_reason", optional=True),
    )


# ---------------------------------------------------------------------------- scheduling


@dataclass(frozen=True)
class DeliveryPlan:
    """When an event's first delivery is due and how many copies go out."""

    due_at: datetime
    copies: int = 1


_SCHEDULE = Prepared(
    insert(deliveries)
    .values(
        **bound(
            "event_id",
            "event_type",
            "payment_reference",
            "refund_reference",
            "body",
            "created_at",
            "due_at",
        ),
        attempts=0,
    )
    .inline()
)


def schedule(
    conn: Connection, event: WebhookEvent, plan: DeliveryPlan, *, now: datetime
) -> list[WebhookDeliveryView]:
    """Schedule the event's delivery (and its copies); their views, as a read would give them."""
    row = {
        "event_id": event.event_id,
        "event_type": str(event.type),
        "payment_reference": event.payment_reference,
        "refund_reference": event.refund_reference,
        "body": encode_event(event).decode(),
        "created_at": now,
        "due_at": plan.due_at,
        "attempts": 0,
    }
    if plan.copies <= 1:
        _SCHEDULE.run(
            conn, {f"b_{name}": value for name, value in row.items() if name != "attempts"}
        )
    else:  # a duplicated event: its copies in one executemany, as one statement
        conn.execute(insert(deliveries), [row] * plan.copies)
    view = WebhookDeliveryView(
        event_id=event.event_id,
        type=str(event.type),
        refund_reference=event.refund_reference,
        due_at=plan.due_at,
        attempts=0,
        last_status=None,
        delivered_at=None,
        gave_up_at=None,
    )
    return [view] * max(1, plan.copies)


# ---------------------------------------------------------------------------- delivery


class DeliverySource(Protocol):
    """What ``deliver_due`` needs from a provider (``SandboxPaymentProvider`` has it)."""

    @property
    def engine(self) -> Engine: ...

    @property
    def webhook_url(self) -> str: ...

    @property
    def webhook_key(self) -> bytes: ...

    def now(self) -> datetime: ...


_client_lock = threading.Lock()
_client: httpx.Client | None = None


def _shared_client() -> httpx.Client:
    """One pooled, keep-alive client per process: building a client per webhook cost a TLS
    context each time and showed up as 12-20% of server CPU under launch load."""
    global _client
    with _client_lock:
        if _client is None:
            _client = httpx.Client(timeout=HTTP_TIMEOUT_SECONDS)
        return _client


def http_post(url: str, headers: Mapping[str, str], body: bytes) -> int:
    """POST with httpx; 0 when the receiver could not be reached or did not answer in time."""
    try:
        response = _shared_client().post(url, content=body, headers=dict(headers))
    except httpx.HTTPError as exc:
        log.info("webhook not delivered: %s", exc.__class__.__name__)
        return 0
    return response.status_code


def backoff(attempts: int) -> timedelta:
    """Wait before the next attempt after ``attempts`` failed ones: 1, 2, 4 ... 300 s."""
    return timedelta(seconds=min(MAX_BACKOFF_SECONDS, 2 ** max(0, attempts - 1)))


_CLAIM = Prepared(
    update(deliveries)
    .where(
        deliveries.c.id == bindparam("b_id"),
        deliveries.c.attempts == bindparam("b_seen_attempts"),
        deliveries.c.delivered_at.is_(None),
        deliveries.c.gave_up_at.is_(None),
    )
    .values(bound("attempts", "due_at"))
)


def _record_statement(*columns: str) -> Prepared:
    """An attempt's outcome: ``last_status`` and ``last_error`` plus ``columns``."""
    values = bound("last_status", "last_error", *columns)
    return Prepared(update(deliveries).where(deliveries.c.id == bindparam("b_id")).values(values))


#: One statement per outcome: delivered, failed and retried later, failed for good.
_DELIVERED = _record_statement("delivered_at")
_RETRY = _record_statement("due_at")
_GIVE_UP = _record_statement("gave_up_at")


def _claim(engine: Engine, row_id: int, seen_attempts: int, now: datetime) -> bool:
    with engine.begin() as conn:
        claimed = _CLAIM.run(
            conn,
            {
                "b_id": row_id,
                "b_seen_attempts": seen_attempts,
                "b_attempts": seen_attempts + 1,
                "b_due_at": now + timedelta(seconds=CLAIM_SECONDS),
            },
        )
        return claimed == 1


def _record(engine: Engine, row_id: int, attempts: int, status: int, now: datetime) -> None:
    values: dict[str, Any] = {"b_id": row_id, "b_last_status": status or None}
    if 200 <= status < 300:
        statement = _DELIVERED
        values["b_delivered_at"] = now
        values["b_last_error"] = None
    else:
        values["b_last_error"] = "no answer" if status == 0 else f"HTTP {status}"
        if attempts >= MAX_ATTEMPTS:
            statement = _GIVE_UP
            values["b_gave_up_at"] = now
        else:
            statement = _RETRY
            values["b_due_at"] = now + backoff(attempts)
    with engine.begin() as conn:
        statement.run(conn, values)


_DUE = (
    select(deliveries.c.id, deliveries.c.attempts, deliveries.c.body, deliveries.c.event_id)
    .where(
        deliveries.c.delivered_at.is_(None),
        deliveries.c.gave_up_at.is_(None),
        deliveries.c.due_at <= bindparam("at"),
    )
    .order_by(deliveries.c.due_at, deliveries.c.id)
    .limit(bindparam("limit", type_=Integer))
)
_ALL_DUE = Prepared(_DUE)
_DUE_FOR_PAYMENT = Prepared(_DUE.where(deliveries.c.payment_reference == bindparam("reference")))


def deliver_due(
    source: DeliverySource,
    *,
    now: datetime | None = None,
    post: Post | None = None,
    limit: int = 100,
    payment_reference: str | None = None,
) -> int:
    """Sign and send every delivery due at ``now``; return how many were accepted (2xx).

    ``post`` defaults to an httpx POST to ``source.webhook_url``; tests may inject their
    own (or point ``MARQUE_SANDBOX_WEBHOOK_URL`` at a local receiver). ``payment_reference``
    limits the round to one payment's webhooks (a test's own, in a shared database).
    """
    at = now or source.now()
    send = post or http_post
    engine = source.engine
    with reading(engine) as conn:
        if payment_reference is None:
            due = _ALL_DUE.rows(conn, {"at": at, "limit": limit})
        else:
            params = {"at": at, "limit": limit, "reference": payment_reference}
            due = _DUE_FOR_PAYMENT.rows(conn, params)
    delivered = 0
    for row in due:
        if not _claim(engine, row["id"], row["attempts"], at):
            continue
        body = str(row["body"]).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "marque-sandbox-webhooks/1",
            SIGNATURE_HEADER: signature_header(source.webhook_key, body, at),
        }
        try:
            status = send(source.webhook_url, headers, body)
        except Exception:  # a broken receiver must not stop the other deliveries
            log.exception("webhook POST raised")
            status = 0
        attempts = row["attempts"] + 1
        _record(engine, row["id"], attempts, status, at)
        if 200 <= status < 300:
            delivered += 1
        else:
            log.info(
                "webhook delivery failed",
                extra={
                    "ctx_event_id": row["event_id"],
                    "ctx_status": status,
                    "ctx_attempt": attempts,
                },
            )
    return delivered


__all__ = [
    "MAX_ATTEMPTS",
    "WEBHOOK_PATH",
    "DeliveryPlan",
    "DeliverySource",
    "Post",
    "backoff",
    "decode_event",
    "deliver_due",
    "encode_event",
    "http_post",
    "schedule",
]
