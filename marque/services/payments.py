"""Payments: asking the provider for a checkout, and applying what its webhooks report.

- ``start_checkout`` runs after the reservation has committed: the provider is called
  with our payment id as idempotency key, outside any transaction, and the pay URL is
  stored in a second short transaction. A provider outage leaves the payment without a
  pay URL; reading the payment later tries again with the same key.
- ``handle_webhook`` verifies the event with the provider, then applies it in ONE short
  transaction: the receipt (unique per provider event id, so a redelivery is recognised),
  a conditional move of the payment, the ledger posting (unique reference, so it is posted
  exactly once), the order's move and an outbox message. Out-of-order events cannot undo
  a capture. Money that arrives for an order that no longer wants it (expired, cancelled,
  or already paid by another payment) is captured in the books and refunded at once.
- An amount or currency that differs from what the payment asked for is recorded and not
  applied; the answer is a 422 problem.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from marque.domain import ledger
from marque.domain.errors import Conflict
from marque.domain.identity import SYSTEM, Actor
from marque.domain.locking import auto_lock_at, locks_on_payment, reminder_due_at
from marque.domain.order_entities import Order, Payment, PaymentStatus, new_id
from marque.domain.order_errors import AmountMismatch, OrderErrorCode, conflict, not_found
from marque.domain.order_records import WebhookOutcome, WebhookReceipt
from marque.domain.orders import OrderEvent, OrderStatus
from marque.domain.refunds import RefundReason
from marque.services import order_support as support
from marque.services import refund_support
from marque.services.context import AppContext
from marque.services.notifications import Topic, announce
from marque.services.payment_ports import (
    PaymentProvider,
    ProviderUnavailable,
    WebhookEvent,
    WebhookEventType,
)
from marque.services.unit_of_work import UnitOfWork

log = logging.getLogger("marque.payments")

#: How often a webhook is re-applied when a concurrent request moved the order first.
CONCURRENT_RETRIES = 3


@dataclass(frozen=True)
class WebhookResult:
    outcome: WebhookOutcome
    detail: str
    duplicate: bool = False


def provider_for(ctx: AppContext, name: str) -> PaymentProvider:
    provider = ctx.payment_providers.get(name)
    if provider is None:
        raise not_found(OrderErrorCode.UNKNOWN_PROVIDER, provider=name[:32])
    return provider


def new_payment(order: Order, provider: str, now: datetime) -> Payment:
    payment_id = new_id("P")
    return Payment(
        id=payment_id,
        order_id=order.id,
        provider=provider,
        amount=order.deposit,
        status=PaymentStatus.PENDING,
        idempotency_key=payment_id,
        created_at=now,
        updated_at=now,
    )


def start_checkout(ctx: AppContext, payment: Payment, description: str) -> Payment:
    """Ask the provider where the buyer pays; store it. Never inside a transaction."""
    if payment.pay_url or payment.status is not PaymentStatus.PENDING:
        return payment
    try:
        checkout = provider_for(ctx, payment.provider).create_payment(
            merchant_reference=payment.id,
            amount=payment.amount,
            description=description,
            idempotency_key=payment.idempotency_key,
        )
    except ProviderUnavailable:
        log.warning(
            "provider unavailable; the pay URL will be asked for again",
            extra={"ctx_payment": payment.id},
        )
        return payment
    now = ctx.clock()
    with ctx.uow() as uow:
        uow.payments.set_checkout(
            payment.id,
            provider_reference=checkout.reference,
            pay_url=checkout.pay_url,
            qr_payload=checkout.qr_payload,
            now=now,
        )
        uow.commit()
    return dataclasses.replace(
        payment,
        provider_reference=checkout.reference,
        pay_url=checkout.pay_url,
        qr_payload=checkout.qr_payload,
        updated_at=now,
    )


def payment_description(order: Order) -> str:
    return f"{order.model_code} {order.trim_code} deposit, order {order.id}"


def current_payment(ctx: AppContext, actor: Actor, order_id: str) -> Payment:
    """The order's latest payment, asking the provider again for a pay URL if it is missing."""
    with ctx.uow(readonly=True) as uow:
        order = support.visible_order(uow, actor, order_id)
        attempts = uow.payments.for_order(order.id)
    if not attempts:  # every order is created with its payment
        raise not_found(OrderErrorCode.UNKNOWN_PAYMENT, payment=order_id)
    latest = attempts[-1]
    if order.status is OrderStatus.PENDING_PAYMENT:
        latest = start_checkout(ctx, latest, payment_description(order))
    return latest


def retry_payment(ctx: AppContext, actor: Actor, order_id: str) -> Payment:
    """A new payment for an unpaid order whose last payment failed; else the current one."""
    now = ctx.clock()
    with ctx.uow() as uow:
        order = support.owned_order(uow, actor, order_id)
        attempts = uow.payments.for_order(order.id)
        latest = attempts[-1] if attempts else None
        if order.status is not OrderStatus.PENDING_PAYMENT:
            raise conflict(
                OrderErrorCode.NOT_AWAITING_PAYMENT,
                order=order.id,
                status=str(order.status),
            )
        if latest is not None and latest.status is PaymentStatus.PENDING:
            payment = latest
        else:
            payment = new_payment(order, ctx.settings.payment_provider, now)
            uow.payments.add(payment)
            uow.commit()
    return start_checkout(ctx, payment, payment_description(order))


# ---------------------------------------------------------------------------- webhooks


def handle_webhook(
    ctx: AppContext, provider_name: str, headers: Mapping[str, str], body: bytes
) -> WebhookResult:
    """Verify, deduplicate and apply one webhook. Raises WebhookRejected (bad signature,
    stale or malformed), NotFound (unknown provider or payment) or AmountMismatch."""
    provider = provider_for(ctx, provider_name)
    now = ctx.clock()
    event = provider.parse_webhook(headers, body, now)
    for attempt in range(CONCURRENT_RETRIES):
        try:
            result = _apply(ctx, provider.name, event, now)
            break
        except Conflict as exc:
            if exc.code != OrderErrorCode.CONCURRENT_UPDATE or attempt + 1 == CONCURRENT_RETRIES:
                raise
    if result.outcome is WebhookOutcome.MISMATCH:
        raise AmountMismatch(
            payment=event.merchant_reference[:64],
            expected=result.detail,
            reported=event.amount.format(),
        )
    if result.outcome is WebhookOutcome.UNKNOWN:
        raise not_found(OrderErrorCode.UNKNOWN_PAYMENT, payment=event.merchant_reference[:64])
    return result


def _apply(ctx: AppContext, provider: str, event: WebhookEvent, now: datetime) -> WebhookResult:
    with ctx.uow() as uow:
        receipt = WebhookReceipt(
            provider, event.event_id, str(event.type), WebhookOutcome.APPLIED, "", now
        )
        fresh = uow.webhooks.record(
            receipt,
            payment_reference=event.payment_reference,
            merchant_reference=event.merchant_reference,
            amount=event.amount,
        )
        if not fresh:
            prior = uow.webhooks.get(provider, event.event_id)
            assert prior is not None
            return WebhookResult(prior.outcome, prior.detail, duplicate=True)
        if event.type in (WebhookEventType.PAYMENT_SUCCEEDED, WebhookEventType.PAYMENT_FAILED):
            outcome, detail = _payment_event(ctx, uow, event, now)
        else:
            outcome, detail = refund_support.apply_refund_event(ctx, uow, event, now)
        if outcome is not WebhookOutcome.APPLIED or detail:
            uow.webhooks.set_outcome(provider, event.event_id, outcome, detail)
        uow.commit()
    log.info(
        "webhook applied",
        extra={"ctx_event": event.event_id, "ctx_type": str(event.type), "ctx_outcome": outcome},
    )
    return WebhookResult(outcome, detail)


def _payment_event(
    ctx: AppContext, uow: UnitOfWork, event: WebhookEvent, now: datetime
) -> tuple[WebhookOutcome, str]:
    reference = event.merchant_reference
    payment = uow.payments.get(reference) if len(reference) <= 20 else None
    if payment is None:
        return WebhookOutcome.UNKNOWN, "no such payment"
    if event.type is WebhookEventType.PAYMENT_FAILED:
        moved = uow.payments.move(
            payment.id,
            from_statuses=[PaymentStatus.PENDING],
            to=PaymentStatus.FAILED,
            now=now,
            failure_reason=event.failure_reason or "failed",
        )
        return (WebhookOutcome.APPLIED, "") if moved else (WebhookOutcome.IGNORED, "not pending")
    if event.amount != payment.amount:
        return WebhookOutcome.MISMATCH, payment.amount.format()
    captured_at = min(event.occurred_at, now)
    moved = uow.payments.move(
        payment.id,
        from_statuses=[PaymentStatus.PENDING, PaymentStatus.FAILED, PaymentStatus.ABANDONED],
        to=PaymentStatus.SUCCEEDED,
        now=now,
        captured_at=captured_at,
        provider_reference=event.payment_reference,
    )
    if not moved:
        return WebhookOutcome.IGNORED, "already captured"
    support.post(
        uow,
        ledger.payment_captured(
            payment.order_id,
            payment.amount,
            at=event.occurred_at,
            reference=f"payment:{payment.id}:captured",
        ),
        source_id=payment.id,
        now=now,
    )
    order = uow.orders.get(payment.order_id)
    assert order is not None  # payments reference their order
    if order.status is not OrderStatus.PENDING_PAYMENT:
        reason = (
            RefundReason.DUPLICATE_PAYMENT if order.paid_payment_id else RefundReason.LATE_PAYMENT
        )
        refund = refund_support.refund_whole_payment(uow, order, payment, reason, now)
        return WebhookOutcome.REFUNDED, f"order was {order.status}; refund {refund.id}"
    _mark_paid(ctx, uow, order, payment, captured_at, now)
    return WebhookOutcome.APPLIED, ""


def _mark_paid(
    ctx: AppContext,
    uow: UnitOfWork,
    order: Order,
    payment: Payment,
    paid_at: datetime,
    now: datetime,
) -> None:
    rules = support.accepted_terms(uow, order).rules
    paid = support.move(
        uow,
        order,
        OrderEvent.PAY,
        actor=SYSTEM,
        now=now,
        reason=f"payment {payment.id} captured",
        paid_at=paid_at,
        paid_payment_id=payment.id,
        expires_at=None,
        lock_reminder_due_at=reminder_due_at(rules, paid_at),
        auto_lock_at=auto_lock_at(rules, paid_at, None),
    )
    announce(uow, Topic.PAID, paid, now, payment=payment.id, amount=payment.amount.format())
    if locks_on_payment(rules):
        locked = support.move(
            uow,
            paid,
            OrderEvent.AUTO_LOCK,
            actor=SYSTEM,
            now=now,
            reason="the accepted terms lock the order on payment",
            locked_at=now,
        )
        announce(uow, Topic.LOCKED, locked, now)


__all__ = [
    "WebhookResult",
    "current_payment",
    "handle_webhook",
    "new_payment",
    "provider_for",
    "retry_payment",
    "start_checkout",
]
