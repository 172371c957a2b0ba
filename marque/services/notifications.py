"""Notifications to buyers through the outbox: written with the change, sent after commit.

``announce`` adds an outbox row inside the caller's transaction; ``run_once`` (the outbox
relay, run by ``marque worker``) claims due rows, sends each as an SMS in the buyer's
language (the locale stored on the order), and marks it sent. A failed send is retried
with exponential backoff; after ``outbox_max_attempts`` the row is set aside as dead and
logged as an error for the operators.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta, timezone
from enum import StrEnum
from typing import Any, Final

from marque.domain.errors import N_
from marque.domain.order_entities import Order
from marque.domain.order_records import OutboxMessage
from marque.domain.refunds import RetryPolicy
from marque.i18n import Translator
from marque.services.context import AppContext
from marque.services.ports import TextMessage
from marque.services.unit_of_work import UnitOfWork

log = logging.getLogger("marque.notifications")

BEIJING: Final = timezone(timedelta(hours=8))
#: How long a claimed message stays invisible to other relays while it is being sent.
LEASE: Final = timedelta(seconds=60)
BATCH: Final = 100
#: Sent messages marked per transaction (at most this many are sent twice after a crash).
MARK_EVERY: Final = 20


class Topic(StrEnum):
    PAID = "order.paid"
    LOCK_REMINDER = "order.lock_reminder"
    LOCKED = "order.locked"
    REFUND_SENT = "refund.sent"
    REFUND_SUCCEEDED = "refund.succeeded"


TEXTS: Final[dict[Topic, str]] = {
    Topic.PAID: N_(
        "We received your deposit of {amount} for order {order}. My orders shows its status "
        "and what a cancellation would return at any moment."
    ),
    Topic.LOCK_REMINDER: N_(
        "Order {order} will lock automatically at {lock_at}. After the lock your deposit "
        "follows the after-lock rules of the terms you accepted; to cancel or change the "
        "configuration, do it before then."
    ),
    Topic.LOCKED: N_(
        "Order {order} is locked and its configuration is fixed. My orders shows what a "
        "cancellation would return now."
    ),
    Topic.REFUND_SENT: N_(
        "We sent the refund of {amount} for order {order} to your original payment method; "
        "it arrives by {refund_by}."
    ),
    Topic.REFUND_SUCCEEDED: N_(
        "The refund of {amount} for order {order} has reached your original payment method."
    ),
}

TIME_IN_BEIJING: Final = N_("{time} Beijing time")


def format_time(moment: datetime, translator: Translator) -> str:
    """Beijing time for zh-CN readers (no DST in China), UTC for everyone else."""
    if translator.locale == "zh-CN":
        local = moment.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")
        return translator(TIME_IN_BEIJING, time=local)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def announce(uow: UnitOfWork, topic: Topic, order: Order, now: datetime, **params: Any) -> None:
    """Queue a notification about ``order`` in the caller's transaction.

    Datetime params are stored as ISO text and shown in the reader's time zone.
    """
    payload: dict[str, Any] = {
        "order": order.id,
        "customer": order.customer_id,
        "locale": order.locale,
    }
    for name, value in params.items():
        payload[name] = {"time": value.isoformat()} if isinstance(value, datetime) else value
    uow.outbox.add(str(topic), payload, now=now)


def render(message: OutboxMessage) -> str:
    translator = Translator(str(message.payload.get("locale") or "zh-CN"))
    params: dict[str, Any] = {}
    for name, value in message.payload.items():
        if name in ("locale", "customer"):
            continue
        if isinstance(value, dict) and "time" in value:
            params[name] = format_time(datetime.fromisoformat(value["time"]), translator)
        else:
            params[name] = value
    return translator(TEXTS[Topic(message.topic)], **params)


def run_once(ctx: AppContext) -> int:
    """Send the due notifications; returns how many were sent.

    One transaction claims a batch and one reads its buyers; the messages go to the SMS
    gateway in chunks of ``MARK_EVERY`` (one call each) and each chunk's sent messages are
    marked in one transaction. A launch writes a notice per payment and per lock, so a
    transaction or two per message would make the relay the slowest part of the night.
    Delivery is at least once: a relay that dies between sending and marking sends at most
    one chunk again after the lease."""
    now = ctx.clock()
    policy = RetryPolicy(
        base_seconds=30, max_delay_seconds=3600, max_attempts=ctx.settings.outbox_max_attempts
    )
    with ctx.uow() as uow:
        claimed = uow.outbox.claim(now, lease_until=now + LEASE, limit=BATCH)
        uow.commit()
    if not claimed:
        return 0
    with ctx.uow(readonly=True) as uow:
        buyers = uow.auth.customers({str(m.payload.get("customer", "")) for m in claimed})
    chunk: list[tuple[OutboxMessage, TextMessage]] = []
    total = 0
    for message in claimed:
        try:
            customer_id = str(message.payload.get("customer", ""))
            customer = buyers.get(customer_id)
            if customer is None:
                raise LookupError(f"customer {customer_id!r} not found")
            text = TextMessage(customer.phone, render(message), message.topic[:32])
        except Exception as exc:  # any failure: keep the message, retry later
            _failed(ctx, policy, message, exc)
            continue
        chunk.append((message, text))
        if len(chunk) == MARK_EVERY:
            total += _send(ctx, policy, chunk)
    return total + _send(ctx, policy, chunk)


def _send(
    ctx: AppContext, policy: RetryPolicy, chunk: list[tuple[OutboxMessage, TextMessage]]
) -> int:
    """Send a chunk in one gateway call, mark what was sent, keep the rest for a retry."""
    if not chunk:
        return 0
    try:
        outcomes = ctx.sms.send_many([text for _message, text in chunk])
    except Exception as exc:  # the gateway's call itself failed: every message with it
        outcomes = [exc] * len(chunk)
    sent: list[int] = []
    for (message, _text), error in zip(chunk, outcomes, strict=True):
        if error is None:
            sent.append(message.id)
        else:
            _failed(ctx, policy, message, error)
    chunk.clear()
    return _mark_sent(ctx, sent)


def _mark_sent(ctx: AppContext, sent: list[int]) -> int:
    if not sent:
        return 0
    with ctx.uow() as uow:
        uow.outbox.mark_sent(sent, ctx.clock())
        uow.commit()
    return len(sent)


def _failed(ctx: AppContext, policy: RetryPolicy, message: OutboxMessage, exc: Exception) -> None:
    attempts = message.attempts + 1
    dead = policy.exhausted(attempts)
    level = logging.ERROR if dead else logging.WARNING
    log.log(
        level,
        "notification not sent",
        exc_info=exc,
        extra={"ctx_outbox": message.id, "ctx_dead": dead},
    )
    with ctx.uow() as uow:
        uow.outbox.mark_failed(
            message.id,
            error=f"{type(exc).__name__}: {exc}",
            retry_at=ctx.clock() + policy.delay(attempts),
            dead=dead,
        )
        uow.commit()


__all__ = ["TEXTS", "Topic", "announce", "format_time", "render", "run_once"]
