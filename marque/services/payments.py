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
from marque.domain.order_entities import Order, Payment, PaymentStatus, Refund, new_id
from marque.domain.order_errors import AmountMismatch, OrderErrorCode, conflict, not_found
from marque.domain.order_records import WebhookOutcome, WebhookReceipt
from marque.domain.orders import OrderEvent, OrderStatus, transition
from marque.domain.refunds import RefundReason
from marque.services import order_support as support
from marque.services import refund_support
from marque.services.context import AppContext
from marque.services.notifications import Topic, announce
from marque.services.payment_ports import (
    PaymentProvider,
    ProviderPayment,
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
    return store_checkout(ctx, payment, ask_checkout(ctx, payment, description))


def ask_checkout(ctx: AppContext, payment: Payment, description: str) -> ProviderPayment | None:
    """The provider's pay URL and QR payload for ``payment`` (a remote call: never inside a
    transaction); None when it has one already, is not pending, or the provider is down
    (the pay URL is asked for again on the next read)."""
    if payment.pay_url or payment.status is not PaymentStatus.PENDING:
        return None
    try:
        return provider_for(ctx, payment.provider).create_payment(
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
        return None


def store_checkout(ctx: AppContext, payment: Payment, checkout: ProviderPayment | None) -> Payment:
    """Record what ``ask_checkout`` got (nothing to do for None)."""
    if checkout is None:
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
        # The order and its payments in one read (buyers poll this while they pay).
        found = uow.payments.order_and_payments(order_id) if len(order_id) <= 20 else None
    order = support.visible(actor, order_id, found[0] if found else None)
    assert found is not None  # visible() raised otherwise
    attempts = found[1]
    if not attempts:  # every order is created with its payment
        raise not_found(OrderErrorCode.UNKNOWN_PAYMENT, payment=order_id)
    latest = attempts[-1]
    if order.status is OrderStatus.PENDING_PAYMENT:
        latest = start_checkout(ctx, latest, payment_description(order))
    return latest


def retry_payment(ctx: AppContext, actor: Actor, order_id: str) -> Payment:
    """A new payment for an unpaid order whose last payment failed; else the current one."""
    payment, description = new_payment_attempt(ctx, actor, order_id)
    return start_checkout(ctx, payment, description)


def new_payment_attempt(ctx: AppContext, actor: Actor, order_id: str) -> tuple[Payment, str]:
    """``retry_payment`` without asking the provider: the payment and its description, for a
    caller that asks (``ask_checkout`` / ``store_checkout``) after its own transaction."""
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
    return payment, payment_description(order)


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
            uow.end_unchanged()  # a duplicate writes nothing
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


CAPTURABLE = (PaymentStatus.PENDING, PaymentStatus.FAILED, PaymentStatus.ABANDONED)


def _payment_event(
    ctx: AppContext, uow: UnitOfWork, event: WebhookEvent, now: datetime
) -> tuple[WebhookOutcome, str]:
    reference = event.merchant_reference
    if len(reference) > 20:
        return WebhookOutcome.UNKNOWN, "no such payment"
    if event.type is WebhookEventType.PAYMENT_FAILED:
        moved = uow.payments.move(
            reference,
            from_statuses=[PaymentStatus.PENDING],
            to=PaymentStatus.FAILED,
            now=now,
            failure_reason=event.failure_reason or "failed",
        )
        if moved:
            return WebhookOutcome.APPLIED, ""
        if uow.payments.get(reference) is None:
            return WebhookOutcome.UNKNOWN, "no such payment"
        return WebhookOutcome.IGNORED, "not pending"
    captured_at = min(event.occurred_at, now)
    # The usual case in one statement: a payment waiting for exactly this amount, captured.
    captured = uow.payments.capture(
        reference,
        event.amount,
        from_statuses=CAPTURABLE,
        now=now,
        captured_at=captured_at,
        provider_reference=event.payment_reference,
    )
    if captured is None:  # read it only to say why not
        found = uow.payments.get(reference)
        if found is None:
            return WebhookOutcome.UNKNOWN, "no such payment"
        if event.amount != found.amount:
            return WebhookOutcome.MISMATCH, found.amount.format()
        return WebhookOutcome.IGNORED, "already captured"
    payment, order = captured
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
    if order.status is not OrderStatus.PENDING_PAYMENT:
        reason = (
            RefundReason.DUPLICATE_PAYMENT if order.paid_payment_id else RefundReason.LATE_PAYMENT
        )
        refund = refund_support.refund_whole_payment(uow, order, payment, reason, now)
        return WebhookOutcome.REFUNDED, f"order was {order.status}; refund {refund.id}"
    if order.limited_edition and uow.launch.confirm_unit(order.id) is None:
        refund = _unit_lost(uow, order, payment, now)
        return WebhookOutcome.REFUNDED, f"limited-edition hold ran out; refund {refund.id}"
    _mark_paid(ctx, uow, order, payment, captured_at, now)
    return WebhookOutcome.APPLIED, ""


def _unit_lost(uow: UnitOfWork, order: Order, payment: Payment, now: datetime) -> Refund:
    """The deposit came after the payment window, and the held unit has gone to another
    buyer meanwhile: the reservation expires and the money goes back in full."""
    support.move(
        uow,
        order,
        OrderEvent.EXPIRE,
        actor=SYSTEM,
        now=now,
        reason="the deposit came after the payment window; the limited-edition unit held "
        "for it had gone to another buyer",
        expires_at=None,
    )
    return refund_support.refund_whole_payment(uow, order, payment, RefundReason.LATE_PAYMENT, now)


def _mark_paid(
    ctx: AppContext,
    uow: UnitOfWork,
    order: Order,
    payment: Payment,
    paid_at: datetime,
    now: datetime,
) -> None:
    """Paid: a queue number at the end of the configuration's queue, the lock reminder and
    auto-lock times, and, where the terms lock on payment, the lock, all in one update."""
    rules = support.accepted_terms(uow, order, ctx.catalog_cache).rules
    queue_number = uow.launch.next_queue_number(order.configuration_code)
    pay = transition(
        order.status,
        OrderEvent.PAY,
        actor=SYSTEM,
        at=now,
        reason=f"payment {payment.id} captured",
    )
    changes = [pay]
    locked_at = None
    if locks_on_payment(rules):
        changes.append(
            transition(
                pay.to_status,
                OrderEvent.AUTO_LOCK,
                actor=SYSTEM,
                at=now,
                reason="the accepted terms lock the order on payment",
            )
        )
        locked_at = now
    paid = dataclasses.replace(
        order,
        status=changes[-1].to_status,
        version=order.version + 1,
        updated_at=now,
        paid_at=paid_at,
        paid_payment_id=payment.id,
        expires_at=None,
        queue_number=queue_number,
        lock_reminder_due_at=reminder_due_at(rules, paid_at),
        auto_lock_at=auto_lock_at(rules, paid_at, None),
        locked_at=locked_at,
    )
    if not uow.orders.update(paid, expected_version=order.version):
        raise conflict(OrderErrorCode.CONCURRENT_UPDATE, order=order.id)
    uow.orders.add_status_changes(order.id, changes)
    announce(uow, Topic.PAID, paid, now, payment=payment.id, amount=payment.amount.format())
    if paid.status is OrderStatus.LOCKED:
        announce(uow, Topic.LOCKED, paid, now)


__all__ = [
    "WebhookResult",
    "current_payment",
    "handle_webhook",
    "new_payment",
    "provider_for",
    "ask_checkout",
    "new_payment_attempt",
    "retry_payment",
    "store_checkout",
    "start_checkout",
]
