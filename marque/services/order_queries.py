"""What a buyer (or staff allowed to) reads about orders: lists, details, the refund quote.

Every read is one read-only unit of work. A buyer sees only their own orders; asking for
another buyer's order is indistinguishable from asking for one that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from marque.domain.catalog import DepositTerms
from marque.domain.deposits import RefundQuote
from marque.domain.identity import Actor
from marque.domain.launch import QueuePlace
from marque.domain.ledger import Posting
from marque.domain.money import Money
from marque.domain.order_entities import ConfigurationChange, Order, Payment, Refund
from marque.domain.order_errors import order_not_found
from marque.domain.orders import StatusChange
from marque.domain.refunds import RefundStatusChange
from marque.services import order_support as support
from marque.services.catalog_cache import CatalogCache
from marque.services.context import AppContext
from marque.services.unit_of_work import UnitOfWork


@dataclass(frozen=True)
class QuoteView:
    quote: RefundQuote
    quoted_at: datetime
    #: The date the money must be back with the buyer if they cancel now.
    refund_by: datetime


@dataclass(frozen=True)
class OrderSummary:
    order: Order
    held: Money
    quote: QuoteView


@dataclass(frozen=True)
class RefundDetail:
    refund: Refund
    history: list[RefundStatusChange]


@dataclass(frozen=True)
class OrderDetail:
    order: Order
    terms: DepositTerms
    held: Money
    quote: QuoteView
    history: list[StatusChange]
    configuration_changes: list[ConfigurationChange]
    payments: list[Payment]
    refunds: list[RefundDetail]
    #: The order's place in its configuration's queue; None before payment.
    queue: QueuePlace | None = None


def _quote_view(
    uow: UnitOfWork,
    order: Order,
    terms: DepositTerms,
    now: datetime,
    cache: CatalogCache | None = None,
) -> QuoteView:
    return _view(support.quote(uow, order, terms, now, cache), now)


def _view(quote: RefundQuote, now: datetime) -> QuoteView:
    return QuoteView(quote, now, now + timedelta(days=quote.refund_by_days))


def list_orders(
    ctx: AppContext, actor: Actor, *, after: tuple[datetime, str] | None, limit: int
) -> list[OrderSummary]:
    """The caller's own orders, newest first."""
    customer_id = support.buyer_id(actor)
    now = ctx.clock()
    with ctx.uow(readonly=True) as uow:
        found = uow.orders.for_customer(customer_id, after=after, limit=limit)
        summaries = []
        for order in found:
            terms = support.accepted_terms(uow, order, ctx.catalog_cache)
            held = uow.ledger.held(order.id, order.deposit.currency)
            breach = support.current_breach(uow, order, terms, now, ctx.catalog_cache)
            quote = support.quote_of(order, terms, held, breach, now)
            summaries.append(OrderSummary(order, held, _view(quote, now)))
    return summaries


def order_detail(ctx: AppContext, actor: Actor, order_id: str) -> OrderDetail:
    with ctx.uow(readonly=True) as uow:
        return _detail(ctx, uow, support.visible_order(uow, actor, order_id))


def detail_of(ctx: AppContext, order: Order, queue: QueuePlace | None = None) -> OrderDetail:
    """The detail of an order the caller's own write has just returned (e.g. the lock's
    ``UPDATE ... RETURNING``), without reading the order again; ``queue`` is its place if
    that write already knows it (the lock does)."""
    with ctx.uow(readonly=True) as uow:
        return _detail(ctx, uow, order, queue)


def _detail(
    ctx: AppContext, uow: UnitOfWork, order: Order, queue: QueuePlace | None = None
) -> OrderDetail:
    now = ctx.clock()
    cache = ctx.catalog_cache
    terms = support.accepted_terms(uow, order, cache)
    held = uow.ledger.held(order.id, order.deposit.currency)
    breach = support.current_breach(uow, order, terms, now, cache)
    return OrderDetail(
        order=order,
        terms=terms,
        held=held,
        quote=_view(support.quote_of(order, terms, held, breach, now), now),
        history=uow.orders.status_changes(order.id),
        configuration_changes=uow.orders.configuration_changes(order.id),
        payments=uow.payments.for_order(order.id),
        refunds=[
            RefundDetail(refund, uow.refunds.status_changes(refund.id))
            for refund in uow.refunds.for_order(order.id)
        ],
        queue=queue if queue is not None else support.queue_place(uow, order),
    )


def new_order_detail(
    order: Order, payment: Payment, terms: DepositTerms, now: datetime
) -> OrderDetail:
    """The detail of an order this request has just reserved, without reading it back:
    nothing is held yet, there is no history, no refund and no queue place."""
    held = Money.zero(order.deposit.currency)
    return OrderDetail(
        order=order,
        terms=terms,
        held=held,
        quote=_view(support.quote_of(order, terms, held, None, now), now),
        history=[],
        configuration_changes=[],
        payments=[payment],
        refunds=[],
    )


def refund_quote(ctx: AppContext, actor: Actor, order_id: str) -> tuple[Order, QuoteView]:
    now = ctx.clock()
    with ctx.uow(readonly=True) as uow:
        order = support.visible_order(uow, actor, order_id)
        terms = support.accepted_terms(uow, order, ctx.catalog_cache)
        return order, _quote_view(uow, order, terms, now, ctx.catalog_cache)


def ledger_of(ctx: AppContext, order_id: str) -> tuple[Order, list[Posting]]:
    """Finance: every posting of one order (staff roles are checked by the entry point)."""
    with ctx.uow(readonly=True) as uow:
        order = uow.orders.get(order_id) if len(order_id) <= 20 else None
        if order is None:
            raise order_not_found(order_id)
        return order, uow.ledger.for_order(order.id)


__all__ = [
    "OrderDetail",
    "OrderSummary",
    "QuoteView",
    "RefundDetail",
    "list_orders",
    "ledger_of",
    "new_order_detail",
    "order_detail",
    "refund_quote",
]
