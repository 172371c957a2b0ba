"""Steps every order use case shares: find an order the caller may see, move it through the
transition table with its audit row, read the terms it accepted, and quote its refund.

All of them work inside the caller's unit of work and never commit.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from marque.domain import catalog
from marque.domain.breach import BreachInputs, detect_breach
from marque.domain.catalog import DepositTerms
from marque.domain.deposits import (
    BreachKind,
    DepositPolicy,
    OrderFacts,
    RefundQuote,
    refund_quote,
)
from marque.domain.errors import Forbidden, MarqueError, NotFound, ValidationFailed
from marque.domain.identity import Actor, Role
from marque.domain.launch import QueuePlace
from marque.domain.ledger import Posting
from marque.domain.locking import auto_lock_at
from marque.domain.money import Money
from marque.domain.order_entities import Order
from marque.domain.order_errors import OrderErrorCode, conflict, order_not_found
from marque.domain.orders import OrderEvent, OrderStatus, transition
from marque.services.catalog import offer_for
from marque.services.catalog_cache import CatalogCache
from marque.services.unit_of_work import UnitOfWork

#: Staff roles that may read any order (support and finance questions).
ORDER_READERS = frozenset({Role.SALES, Role.FINANCE})


def buyer_id(actor: Actor) -> str:
    """The customer id of a buyer; only customers reserve and list their orders."""
    if not actor.is_customer or actor.id is None:
        raise Forbidden()
    return actor.id


def may_read(actor: Actor, order: Order) -> bool:
    if actor.is_customer:
        return actor.id == order.customer_id
    return actor.is_staff and actor.has_any(ORDER_READERS)


def visible_order(uow: UnitOfWork, actor: Actor, order_id: str) -> Order:
    """The order if ``actor`` may see it; NotFound otherwise (another buyer's order does not
    exist as far as the caller can tell)."""
    return visible(actor, order_id, uow.orders.get(order_id) if len(order_id) <= 20 else None)


def visible(actor: Actor, order_id: str, order: Order | None) -> Order:
    """``visible_order`` for an order read some other way (None: not found)."""
    if order is None or not may_read(actor, order):
        raise order_not_found(order_id)
    return order


def owned_order(uow: UnitOfWork, actor: Actor, order_id: str) -> Order:
    """The order if ``actor`` is the buyer who owns it; NotFound otherwise."""
    order = uow.orders.get(order_id) if len(order_id) <= 20 else None
    if order is None or not actor.is_customer or actor.id != order.customer_id:
        raise order_not_found(order_id)
    return order


def move(
    uow: UnitOfWork,
    order: Order,
    event: OrderEvent,
    *,
    actor: Actor,
    now: datetime,
    reason: str,
    **changes: Any,
) -> Order:
    """Apply ``event`` (refused by the table if not allowed), store the order with
    ``changes`` and the status change. Raises Conflict if someone moved it first."""
    change = transition(order.status, event, actor=actor, at=now, reason=reason)
    moved = dataclasses.replace(
        order, status=change.to_status, version=order.version + 1, updated_at=now, **changes
    )
    if not uow.orders.update(moved, expected_version=order.version):
        raise conflict(OrderErrorCode.CONCURRENT_UPDATE, order=order.id)
    uow.orders.add_status_change(order.id, change)
    return moved


def accepted_terms(
    uow: UnitOfWork, order: Order, cache: CatalogCache | None = None
) -> DepositTerms:
    """The exact terms document the buyer accepted (checked against the stored hash);
    from ``cache`` when given (published versions never change)."""
    code, version = order.terms.code, order.terms.version
    if cache is not None:
        terms = cache.terms_in(uow, code, version)
    else:
        terms = uow.catalog.get_deposit_terms(code, version)
    if terms is None or terms.content_hash != order.terms.content_hash:
        # The catalogue never rewrites a published version; this is a data fault.
        raise MarqueError(
            f"terms {order.terms.code} v{order.terms.version} of order {order.id} are "
            "missing or altered",
            code="order.terms_missing",
        )
    return terms


def quote(
    uow: UnitOfWork,
    order: Order,
    terms: DepositTerms,
    now: datetime,
    cache: CatalogCache | None = None,
) -> RefundQuote:
    """What cancelling ``order`` at ``now`` returns, from the ledger's held amount."""
    held = uow.ledger.held(order.id, order.deposit.currency)
    return quote_of(order, terms, held, current_breach(uow, order, terms, now, cache), now)


def quote_of(
    order: Order, terms: DepositTerms, held: Money, breach: BreachKind | None, now: datetime
) -> RefundQuote:
    """The refund quote from what is known about the order (no reads)."""
    lock_at = None
    if order.status is OrderStatus.RESERVED and order.paid_at is not None:
        lock_at = order.auto_lock_at or auto_lock_at(
            terms.rules, order.paid_at, order.lock_reminder_sent_at
        )
    facts = OrderFacts(
        status=order.status,
        held=held,
        paid_at=order.paid_at,
        locked_at=order.locked_at,
        breach=breach,
        auto_lock_at=lock_at,
    )
    return refund_quote(DepositPolicy.from_terms(terms), facts, now)


def current_breach(
    uow: UnitOfWork,
    order: Order,
    terms: DepositTerms,
    now: datetime,
    cache: CatalogCache | None = None,
) -> BreachKind | None:
    """A breach staff recorded, or one the catalogue shows now: after the lock, the same
    configuration costs more than it did when the order locked (a rise before the lock is
    no breach), or can no longer be built as ordered."""
    if order.breach is not None or order.locked_at is None:
        return order.breach
    current_price, spec_changed = _catalogue_price(uow, order, now, cache)
    at_lock, _ = _catalogue_price(uow, order, order.locked_at, cache)
    inputs = BreachInputs(
        locked_at=order.locked_at,
        price_at_lock=at_lock or order.price,
        current_price=current_price,
        spec_changed=spec_changed,
    )
    return detect_breach(terms.rules.maker_breach, inputs, now)


def _catalogue_price(
    uow: UnitOfWork, order: Order, moment: datetime, cache: CatalogCache | None
) -> tuple[Money | None, bool]:
    """The order's configuration priced by the book in force at ``moment`` (None when it
    cannot be priced), and whether the catalogue then no longer builds it as ordered."""
    if cache is not None:
        try:
            priced, _ = cache.priced_in(uow, order.configuration_code, moment)
        except ValidationFailed:
            return None, True
        except NotFound:  # the model is no longer offered: nothing to compare with
            return None, False
        return priced.total_price, priced.code != order.configuration_code
    model = uow.catalog.get_model(order.model_code)
    stored = uow.catalog.get_configuration(order.configuration_code)
    offer = None if model is None else offer_for(uow.catalog, model, moment)
    if offer is None or stored is None:
        return None, False
    try:
        configured = catalog.configure(offer, order.trim_code, stored.option_codes, now=moment)
    except ValidationFailed:
        return None, True
    return configured.total_price, configured.code != order.configuration_code


def queue_place(uow: UnitOfWork, order: Order) -> QueuePlace | None:
    """Where a paid order stands in its configuration's queue; None before payment."""
    if order.queue_number is None:
        return None
    return QueuePlace(
        configuration_code=order.configuration_code,
        number=order.queue_number,
        ahead=uow.launch.ahead(order),
        locked=order.locked_at is not None,
    )


def place_on_locking(uow: UnitOfWork, locked: Order) -> QueuePlace | None:
    """The place of an order this transaction has just locked, the same ``queue_place``
    gives, counted from the back of the queue: an order locked a moment ago has next to
    nobody behind it, while counting those ahead would read the whole queue."""
    if locked.queue_number is None or locked.locked_at is None:
        return queue_place(uow, locked)
    return QueuePlace(
        configuration_code=locked.configuration_code,
        number=locked.queue_number,
        ahead=uow.launch.ahead_from_the_back(locked),
        locked=True,
    )


def post(uow: UnitOfWork, posting: Posting, *, source_id: str | None, now: datetime) -> bool:
    return uow.ledger.add(posting, source_id=source_id, now=now)


__all__ = [
    "ORDER_READERS",
    "accepted_terms",
    "buyer_id",
    "current_breach",
    "may_read",
    "move",
    "owned_order",
    "place_on_locking",
    "post",
    "queue_place",
    "quote",
    "quote_of",
    "visible",
    "visible_order",
]
