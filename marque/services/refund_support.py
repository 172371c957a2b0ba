"""Refund steps shared by cancellation, webhook handling and the refund worker.

All of them run inside the caller's unit of work. A refund is created together with its
``refund_requested`` posting; it is settled (``refund_settled`` posting, reference unique
per refund) exactly once, whether the provider's answer or its webhook comes first.

What goes through the provider is the deposit part (``amount``): a provider never refunds
more than it captured. Compensation on top (earnest money returned twice over) stays in
``refunds_payable`` for finance to pay by transfer; the finance refunds list shows it.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from marque.domain import ledger
from marque.domain.deposits import RefundQuote
from marque.domain.identity import SYSTEM, Actor
from marque.domain.money import Money
from marque.domain.order_entities import Order, Payment, Refund, new_id
from marque.domain.order_errors import OrderErrorCode, conflict
from marque.domain.order_records import WebhookOutcome
from marque.domain.refunds import (
    RefundEvent,
    RefundReason,
    RefundStatus,
    RetryPolicy,
    expected_by,
    provider_key,
    transition,
)
from marque.services import order_support as support
from marque.services.context import AppContext
from marque.services.notifications import Topic, announce
from marque.services.payment_ports import WebhookEvent, WebhookEventType
from marque.services.unit_of_work import UnitOfWork

PROVIDER = SYSTEM  # webhook-driven moves are recorded as the system acting on the report


def retry_policy(ctx: AppContext) -> RetryPolicy:
    settings = ctx.settings
    return RetryPolicy(
        base_seconds=settings.refund_retry_base_seconds,
        max_delay_seconds=settings.refund_retry_max_seconds,
        max_attempts=settings.refund_max_attempts,
    )


def request_refund(
    uow: UnitOfWork,
    order: Order,
    *,
    payment_id: str,
    amount: Money,
    compensation: Money,
    reason: RefundReason,
    rule: str,
    quoted_at: datetime,
    within_days: int,
    now: datetime,
) -> Refund:
    """Create a refund and post it as requested (customer deposits -> refunds payable)."""
    refund_id = new_id("R")
    refund = Refund(
        id=refund_id,
        order_id=order.id,
        payment_id=payment_id,
        amount=amount,
        compensation=compensation,
        status=RefundStatus.REQUESTED,
        reason=reason,
        idempotency_key=provider_key(refund_id, 0),
        key_generation=0,
        attempts=0,
        expected_by=expected_by(now, within_days),
        quote_rule=rule,
        quoted_at=quoted_at,
        created_at=now,
        updated_at=now,
    )
    uow.refunds.add(refund)
    support.post(
        uow,
        ledger.refund_requested(
            order.id, amount, compensation, at=now, reference=f"refund:{refund_id}:requested"
        ),
        source_id=refund_id,
        now=now,
    )
    return refund


def refund_by_quote(
    uow: UnitOfWork, order: Order, quote: RefundQuote, *, within_days: int, now: datetime
) -> Refund:
    if order.paid_payment_id is None:  # a holding order was paid by one payment
        raise conflict(OrderErrorCode.NOT_PAID, order=order.id)
    return request_refund(
        uow,
        order,
        payment_id=order.paid_payment_id,
        amount=quote.refund,
        compensation=quote.compensation,
        reason=RefundReason.CANCELLED,
        rule=str(quote.rule),
        quoted_at=now,
        within_days=within_days,
        now=now,
    )


def refund_whole_payment(
    uow: UnitOfWork, order: Order, payment: Payment, reason: RefundReason, now: datetime
) -> Refund:
    """Send back a payment the order did not need (late, or a second one)."""
    terms = support.accepted_terms(uow, order)
    return request_refund(
        uow,
        order,
        payment_id=payment.id,
        amount=payment.amount,
        compensation=Money.zero(payment.amount.currency),
        reason=reason,
        rule=str(reason),
        quoted_at=now,
        within_days=terms.rules.refund_within_days,
        now=now,
    )


def move_refund(
    uow: UnitOfWork,
    refund: Refund,
    event: RefundEvent,
    *,
    actor: Actor,
    now: datetime,
    reason: str,
    **changes: Any,
) -> Refund | None:
    """Apply ``event`` and store it with ``changes``; None if another worker moved it first."""
    change = transition(refund.status, event, actor=actor, at=now, reason=reason)
    moved = dataclasses.replace(refund, status=change.to_status, updated_at=now, **changes)
    if not uow.refunds.update(
        moved, expected_status=refund.status, expected_attempts=refund.attempts
    ):
        return None
    uow.refunds.add_status_change(refund.id, change)
    return moved


def settled_time(reported: datetime | None, now: datetime) -> datetime:
    """When a refund settled, for its posting: the provider's time whenever it says one,
    else ours. The provider's settlement report files the refund under the UTC day of its
    own time, which may be a day before we heard of it (an answer learnt on a retry after
    midnight) or, with its clock a little ahead, a day after our clock's; posting at that
    time, as captures are posted at the payment event's time, keeps ``reconcile`` of both
    days in agreement."""
    return now if reported is None else reported


def settle(
    uow: UnitOfWork,
    refund: Refund,
    *,
    at: datetime,
    now: datetime,
    provider_reference: str | None,
    reason: str,
) -> Refund | None:
    """The money reached the buyer: settle once, post once, tell the buyer."""
    settled = move_refund(
        uow,
        refund,
        RefundEvent.SETTLE,
        actor=PROVIDER,
        now=now,
        reason=reason,
        succeeded_at=at,
        next_attempt_at=None,
        provider_reference=provider_reference or refund.provider_reference,
    )
    if settled is None:
        return None
    support.post(
        uow,
        ledger.refund_settled(
            refund.order_id, refund.amount, at=at, reference=f"refund:{refund.id}:settled"
        ),
        source_id=refund.id,
        now=now,
    )
    order = uow.orders.get(refund.order_id)
    assert order is not None
    announce(uow, Topic.REFUND_SUCCEEDED, order, now, amount=refund.amount.format())
    return settled


def schedule_retry(
    uow: UnitOfWork,
    refund: Refund,
    policy: RetryPolicy,
    *,
    event: RefundEvent,
    error: str,
    new_key: bool,
    now: datetime,
) -> Refund | None:
    """Record a failed attempt: retry later with backoff, or give up for finance."""
    generation = refund.key_generation + 1 if new_key else refund.key_generation
    retrying = move_refund(
        uow,
        refund,
        event,
        actor=SYSTEM,
        now=now,
        reason=error,
        last_error=error[:500],
        key_generation=generation,
        idempotency_key=provider_key(refund.id, generation),
        next_attempt_at=now + policy.delay(max(refund.attempts, 1)),
    )
    if retrying is None or not policy.exhausted(refund.attempts):
        return retrying
    return move_refund(
        uow,
        retrying,
        RefundEvent.GIVE_UP,
        actor=SYSTEM,
        now=now,
        reason=f"gave up after {refund.attempts} attempts",
        next_attempt_at=None,
    )


def apply_refund_event(
    ctx: AppContext, uow: UnitOfWork, event: WebhookEvent, now: datetime
) -> tuple[WebhookOutcome, str]:
    reference = event.merchant_reference
    refund = uow.refunds.get(reference) if len(reference) <= 20 else None
    if refund is None:
        return WebhookOutcome.UNKNOWN, "no such refund"
    if event.amount != refund.amount:
        return WebhookOutcome.MISMATCH, refund.amount.format()
    if event.type is WebhookEventType.REFUND_SUCCEEDED:
        if refund.status is RefundStatus.SUCCEEDED:
            return WebhookOutcome.IGNORED, "already settled"
        settled = settle(
            uow,
            refund,
            at=settled_time(event.occurred_at, now),
            now=now,
            provider_reference=event.refund_reference,
            reason=f"provider reported refund {event.refund_reference} succeeded",
        )
        return (WebhookOutcome.APPLIED, "") if settled else (WebhookOutcome.IGNORED, "moved")
    # refund.failed: only the attempt we are waiting for can fail us
    current = refund.provider_reference
    if refund.status is not RefundStatus.SENT or (current and current != event.refund_reference):
        return WebhookOutcome.IGNORED, f"refund is {refund.status}"
    retrying = schedule_retry(
        uow,
        refund,
        retry_policy(ctx),
        event=RefundEvent.PROVIDER_FAILED,
        error=f"provider: {event.failure_reason or 'refund failed'}",
        new_key=True,
        now=now,
    )
    return (WebhookOutcome.APPLIED, "") if retrying else (WebhookOutcome.IGNORED, "moved")


__all__ = [
    "apply_refund_event",
    "move_refund",
    "refund_by_quote",
    "refund_whole_payment",
    "request_refund",
    "retry_policy",
    "schedule_retry",
    "settle",
    "settled_time",
]
