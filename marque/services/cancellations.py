"""Ending an order early: the buyer cancels, or an unpaid reservation expires.

Either gives a limited edition's unit back to the edition at once.

Cancelling computes the refund quote at that instant inside the cancelling transaction
and pays exactly that: the refund carries the quote's rule, the ledger moves the refund
(and any compensation) to refunds payable and the rest, if any, to forfeited deposits.
A buyer who was shown a quote may send the total they expect; if the quote has dropped
since, the cancel is refused (409 ``order.quote_changed``) instead of paying less.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from marque.domain import ledger
from marque.domain.deposits import RefundQuote
from marque.domain.errors import Conflict
from marque.domain.identity import SYSTEM, Actor
from marque.domain.money import Money
from marque.domain.order_entities import Order, PaymentStatus, Refund
from marque.domain.order_errors import OrderErrorCode, conflict
from marque.domain.orders import OrderEvent, OrderStatus
from marque.services import order_support as support
from marque.services import refund_support
from marque.services.context import AppContext
from marque.services.unit_of_work import UnitOfWork

BATCH = 100


@dataclass(frozen=True)
class Cancellation:
    order: Order
    #: The quote at the instant of cancelling: exactly what the refund pays.
    quote: RefundQuote
    quoted_at: datetime
    refund: Refund | None

    @property
    def refund_by(self) -> datetime:
        return self.quoted_at + timedelta(days=self.quote.refund_by_days)


def cancel(
    ctx: AppContext,
    actor: Actor,
    order_id: str,
    *,
    reason: str = "",
    expected_total: Money | None = None,
) -> Cancellation:
    now = ctx.clock()
    with ctx.uow() as uow:
        order = support.owned_order(uow, actor, order_id)
        terms = support.accepted_terms(uow, order, ctx.catalog_cache)
        quote = support.quote(uow, order, terms, now, ctx.catalog_cache)
        if (
            expected_total is not None
            and expected_total.currency == quote.total.currency
            and quote.total < expected_total
        ):
            raise conflict(
                OrderErrorCode.QUOTE_CHANGED,
                order=order.id,
                total=quote.total.format(),
                expected=expected_total.format(),
            )
        # Rows are locked in one order everywhere (payments, unit, order) so that a cancel
        # and a webhook of the same order never wait for each other in a circle.
        if order.status is OrderStatus.PENDING_PAYMENT:
            _abandon_payments(uow, order, now)
        if order.limited_edition:
            uow.launch.release_unit(order.id)
        cancelled = support.move(
            uow,
            order,
            OrderEvent.CANCEL,
            actor=actor,
            now=now,
            reason=reason[:200] or "the buyer cancelled",
            cancelled_at=now,
            expires_at=None,
            auto_lock_at=None,
            lock_reminder_due_at=None,
        )
        refund = None
        if quote.total.amount > 0:
            refund = refund_support.refund_by_quote(
                uow, cancelled, quote, within_days=terms.rules.refund_within_days, now=now
            )
        if quote.forfeited.amount > 0:
            support.post(
                uow,
                ledger.forfeited(
                    order.id, quote.forfeited, at=now, reference=f"order:{order.id}:forfeited"
                ),
                source_id=order.id,
                now=now,
            )
        uow.commit()
    return Cancellation(cancelled, quote, now, refund)


def _abandon_payments(uow: UnitOfWork, order: Order, now: datetime) -> None:
    """Unpaid payments of an order that ended: a success that still arrives is refunded."""
    for payment in uow.payments.for_order(order.id):
        if payment.status in (PaymentStatus.PENDING, PaymentStatus.FAILED):
            uow.payments.move(
                payment.id,
                from_statuses=[PaymentStatus.PENDING, PaymentStatus.FAILED],
                to=PaymentStatus.ABANDONED,
                now=now,
            )


def expire_unpaid(ctx: AppContext) -> int:
    """Expire reservations whose deposit did not arrive in time; returns how many."""
    now = ctx.clock()
    with ctx.uow(readonly=True) as uow:
        due = uow.orders.due(OrderStatus.PENDING_PAYMENT, "expires_at", now, BATCH)
    expired = 0
    for order in due:
        with ctx.uow() as uow:
            fresh = uow.orders.get(order.id)
            if fresh is None or fresh.status is not OrderStatus.PENDING_PAYMENT:
                continue
            _abandon_payments(uow, fresh, now)
            if fresh.limited_edition:
                uow.launch.release_unit(fresh.id)
            try:
                support.move(
                    uow,
                    fresh,
                    OrderEvent.EXPIRE,
                    actor=SYSTEM,
                    now=now,
                    reason="the deposit did not arrive within the payment window",
                    expires_at=None,
                )
            except Conflict:  # paid or cancelled at this very moment: leave it be
                continue
            uow.commit()
            expired += 1
    return expired


run_once = expire_unpaid

__all__ = ["Cancellation", "cancel", "expire_unpaid", "run_once"]
