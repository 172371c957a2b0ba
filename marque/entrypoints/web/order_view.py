"""What the buyer's order pages show, built from marque.services.order_queries results.

Every label comes translated for the page; times are shown in Beijing time (China has no
daylight saving time, so a fixed UTC+8 is exact) with the UTC instant in ``<time>``.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Final

from marque.domain.deposits import KIND_LABELS, RefundRule
from marque.domain.errors import N_
from marque.domain.order_entities import Order, Payment, PaymentStatus
from marque.domain.orders import STATUS_LABELS, OrderEvent, OrderStatus, StatusChange
from marque.domain.refunds import STATUS_LABELS as REFUND_STATUS_LABELS
from marque.domain.refunds import RefundReason
from marque.entrypoints.web.rendering import format_money
from marque.entrypoints.web.terms_view import outcomes, refundability
from marque.i18n import Translator
from marque.services.order_queries import OrderDetail, QuoteView, RefundDetail

BEIJING: Final = timezone(timedelta(hours=8))
TIME_IN_BEIJING: Final = N_("{time} Beijing time")

#: What happened, for the status history (the event moved the order).
RESERVED_EVENT: Final = N_("Reserved")
EVENT_LABELS: Final[dict[OrderEvent, str]] = {
    OrderEvent.PAY: N_("Deposit paid"),
    OrderEvent.EXPIRE: N_("Expired: the deposit did not arrive in time"),
    OrderEvent.CHANGE_CONFIGURATION: N_("Configuration changed"),
    OrderEvent.LOCK: N_("Locked"),
    OrderEvent.AUTO_LOCK: N_("Locked automatically"),
    OrderEvent.ALLOCATE: N_("Car allocated"),
    OrderEvent.PAY_BALANCE: N_("Balance paid"),
    OrderEvent.HAND_OVER: N_("Handed over"),
    OrderEvent.CANCEL: N_("Cancelled"),
}

PAYMENT_LABELS: Final[dict[PaymentStatus, str]] = {
    PaymentStatus.PENDING: N_("Waiting for payment"),
    PaymentStatus.SUCCEEDED: N_("Paid"),
    PaymentStatus.FAILED: N_("Payment failed"),
    PaymentStatus.ABANDONED: N_("Not needed: the order ended before it was paid"),
}

REFUND_REASONS: Final[dict[RefundReason, str]] = {
    RefundReason.CANCELLED: N_("The order was cancelled"),
    RefundReason.LATE_PAYMENT: N_("The payment arrived after the order had ended"),
    RefundReason.DUPLICATE_PAYMENT: N_("A second payment for an order already paid"),
}

#: Statuses in which the buyer may still cancel, change the configuration, lock or pay.
CANCELLABLE: Final = frozenset(
    {OrderStatus.PENDING_PAYMENT, OrderStatus.RESERVED, OrderStatus.LOCKED, OrderStatus.ALLOCATED}
)
CHANGEABLE: Final = frozenset({OrderStatus.PENDING_PAYMENT, OrderStatus.RESERVED})


def when(value: datetime | None, _: Translator) -> dict[str, str] | None:
    if value is None:
        return None
    local = value.astimezone(BEIJING)
    return {
        "iso": value.isoformat(),
        "text": _(TIME_IN_BEIJING, time=local.strftime("%Y-%m-%d %H:%M")),
    }


def capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


def status_label(status: OrderStatus, _: Translator) -> str:
    return capitalised(_(STATUS_LABELS[status]))


def actor_label(ref: str, _: Translator) -> str:
    if ref.startswith("customer:"):
        return _(N_("You"))
    if ref.startswith("staff:"):
        return _(N_("Our staff"))
    return _(N_("Automatic"))


def quote_view(view: QuoteView, _: Translator) -> dict[str, Any]:
    quote = view.quote
    return {
        "total": quote.total,
        "refund": quote.refund,
        "compensation": quote.compensation,
        "forfeited": quote.forfeited,
        "rule": str(quote.rule),
        "message": quote.render(_),
        "holds_nothing": quote.rule in (RefundRule.NOTHING_PAID, RefundRule.NOT_CANCELLABLE),
        "next_change": when(quote.next_change_at, _),
        "quoted_at": when(view.quoted_at, _),
        "refund_by": when(view.refund_by, _),
        "days": quote.refund_by_days,
    }


def payment_view(payment: Payment, _: Translator) -> dict[str, Any]:
    return {
        "id": payment.id,
        "status": str(payment.status),
        "label": _(PAYMENT_LABELS[payment.status]),
        "amount": payment.amount,
        "provider": payment.provider,
        "reference": payment.provider_reference,
        "failure_reason": payment.failure_reason,
        "created": when(payment.created_at, _),
        "captured": when(payment.captured_at, _),
    }


def refund_view(detail: RefundDetail, _: Translator) -> dict[str, Any]:
    refund = detail.refund
    return {
        "id": refund.id,
        "status": str(refund.status),
        "label": capitalised(_(REFUND_STATUS_LABELS[refund.status])),
        "reason": _(REFUND_REASONS[refund.reason]),
        "amount": refund.amount,
        "compensation": refund.compensation,
        "total": refund.total,
        "expected_by": when(refund.expected_by, _),
        "succeeded": when(refund.succeeded_at, _),
        "history": [
            {
                "label": capitalised(_(REFUND_STATUS_LABELS[change.to_status])),
                "at": when(change.at, _),
            }
            for change in detail.history
        ],
    }


def history_view(order: Order, changes: list[StatusChange], _: Translator) -> list[dict[str, Any]]:
    rows = [
        {
            "event": _(RESERVED_EVENT),
            "status": status_label(OrderStatus.PENDING_PAYMENT, _),
            "who": _(N_("You")),
            "at": when(order.created_at, _),
        }
    ]
    for change in changes:
        rows.append(
            {
                "event": _(EVENT_LABELS[change.event]),
                "status": status_label(change.to_status, _),
                "who": actor_label(change.actor, _),
                "at": when(change.at, _),
            }
        )
    return rows


def order_summary(
    order: Order, quote: QuoteView, names: dict[str, str], _: Translator
) -> dict[str, Any]:
    """What the orders list and the top of the order page share."""
    return {
        "id": order.id,
        "status": str(order.status),
        "status_label": status_label(order.status, _),
        "model_name": names["model"],
        "trim_name": names["trim"],
        "price": order.price,
        "deposit": order.deposit,
        "deposit_kind": _(KIND_LABELS[order.deposit_kind]),
        "created": when(order.created_at, _),
        "quote": quote_view(quote, _),
        "queue_number": order.queue_number,
    }


def order_page(
    detail: OrderDetail, names: dict[str, str], options: list[dict[str, Any]], _: Translator
) -> dict[str, Any]:
    order = detail.order
    payments = [payment_view(p, _) for p in detail.payments]
    latest = detail.payments[-1] if detail.payments else None
    return {
        **order_summary(order, detail.quote, names, _),
        "configuration_code": order.configuration_code,
        "options": options,
        "held": detail.held,
        "terms_title": detail.terms.title.pick(_.locale),
        "terms_body": detail.terms.body.pick(_.locale),
        "terms_version": order.terms.version,
        "terms_hash": order.terms.content_hash,
        "terms_accepted": when(order.terms.accepted_at, _),
        "refundability": refundability(
            detail.terms, outcomes(detail.terms, paid_at=order.paid_at or order.created_at), _
        ),
        "expires": when(order.expires_at, _)
        if order.status is OrderStatus.PENDING_PAYMENT
        else None,
        "paid": when(order.paid_at, _),
        "locked": when(order.locked_at, _),
        "auto_lock": when(order.auto_lock_at, _) if order.status is OrderStatus.RESERVED else None,
        "cancelled": when(order.cancelled_at, _),
        "payments": payments,
        "latest_payment": payment_view(latest, _) if latest else None,
        "may_pay": order.status is OrderStatus.PENDING_PAYMENT,
        "may_lock": order.status is OrderStatus.RESERVED,
        "may_cancel": order.status in CANCELLABLE,
        "may_change": order.status in CHANGEABLE,
        "refunds": [refund_view(r, _) for r in detail.refunds],
        "history": history_view(order, detail.history, _),
        # Paid orders of the configuration built before this one (domain/launch.py).
        "queue_ahead": detail.queue.ahead if detail.queue else None,
    }


def lock_warning(detail: OrderDetail, _: Translator) -> dict[str, Any]:
    """What locking now means for this order's deposit, by the refund quote itself."""
    order, terms = detail.order, detail.terms
    now = detail.quote.quoted_at
    seen = outcomes(terms, paid_at=order.paid_at or now, lock_at=now, held=detail.held)
    after = seen.after_lock
    hours = terms.rules.cooling_off_hours_after_lock
    kind = _(KIND_LABELS[order.deposit_kind])
    amount = format_money(detail.held)
    cooling_until = when(now + timedelta(hours=hours), _) if hours else None
    lines = []
    if after.total.amount == 0:
        severity = "danger"
        headline = _(
            N_("If you lock now, your {kind} of {amount} becomes NON-REFUNDABLE."),
            kind=kind,
            amount=amount,
        )
        if cooling_until:
            lines.append(
                _(
                    N_(
                        "You can still cancel with a full refund until {time} ({hours} hours "
                        "after the lock). After that, cancelling returns nothing."
                    ),
                    time=cooling_until["text"],
                    hours=hours,
                )
            )
        else:
            lines.append(_(N_("From the moment you lock, cancelling returns nothing.")))
        agree = (
            _(
                N_("I understand that from {time} my deposit of {amount} is not refundable."),
                time=cooling_until["text"],
                amount=amount,
            )
            if cooling_until
            else _(
                N_("I understand that after the lock my deposit of {amount} is not refundable."),
                amount=amount,
            )
        )
    elif after.total < detail.held:
        severity = "danger"
        headline = _(
            N_("If you lock now, cancelling later returns only {total} of your {amount}."),
            total=format_money(after.total),
            amount=amount,
        )
        agree = _(
            N_("I understand that after the lock a cancellation returns only {total}."),
            total=format_money(after.total),
        )
    else:
        severity = "notice"
        headline = _(
            N_("Your {kind} of {amount} stays refundable in full after the lock."),
            kind=kind,
            amount=amount,
        )
        lines.append(after.render(_))
        agree = _(N_("I understand that after the lock the configuration is fixed."))
    lines.append(_(N_("After the lock the configuration can no longer be changed.")))
    return {
        "severity": severity,
        "headline": headline,
        "lines": lines,
        "agree": agree,
        "terms_rule": refundability(terms, seen, _),
    }


__all__ = [
    "CANCELLABLE",
    "CHANGEABLE",
    "lock_warning",
    "order_page",
    "order_summary",
    "quote_view",
    "when",
]
