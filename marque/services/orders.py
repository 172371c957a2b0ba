"""Buyer use cases on an order: reserve, change the configuration, lock.

Each write is ONE short transaction with a handful of statements and no remote call
(docs/decisions.md, "Launch night"):

- the configuration is priced from this process's catalogue cache (no statement when
  warm), and the provider is asked for a checkout only after the reservation has committed
  (services/payments.py);
- reserve: one statement locks the buyer (PostgreSQL), one reads their orders of the model
  and the one made with the same Idempotency-Key; a limited edition claims a numbered unit
  in one statement (held through the payment window); then the order and its payment are
  inserted;
- lock: one conditional UPDATE ... RETURNING moves a reserved order of this buyer, then its
  history row and the notice; only when that finds nothing is the order read to say why.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime, timedelta

from marque.domain import catalog
from marque.domain.catalog import DepositKind, DepositTerms, ModelOffer, PricedConfiguration
from marque.domain.deposits import earnest_cap
from marque.domain.fair_sale import FairSaleLimits, check_fair_sale
from marque.domain.identity import Actor
from marque.domain.launch import QueuePlace, ensure_on_sale, sold_out
from marque.domain.locking import ensure_can_lock
from marque.domain.order_entities import AcceptedTerms, ConfigurationChange, Order, Payment, new_id
from marque.domain.order_errors import OrderErrorCode, conflict, invalid
from marque.domain.orders import OrderEvent, OrderStatus, transition
from marque.i18n import normalise
from marque.services import catalog as catalog_service
from marque.services import order_support as support
from marque.services.catalog_cache import unknown_configuration
from marque.services.context import AppContext
from marque.services.notifications import Topic, announce
from marque.services.payments import new_payment, payment_description, start_checkout
from marque.services.unit_of_work import UnitOfWork


@dataclass(frozen=True)
class ReserveRequest:
    configuration_code: str
    terms_code: str
    terms_version: int
    terms_hash: str
    accept_terms: bool
    locale: str
    idempotency_key: str | None = None


@dataclass(frozen=True)
class Reservation:
    order: Order
    payment: Payment
    #: False when the idempotency key named an order this buyer had already reserved.
    created: bool
    #: The terms accepted (known without a read when the order was just created).
    terms: DepositTerms | None = None


@dataclass(frozen=True)
class Priced:
    configuration: PricedConfiguration
    offer: ModelOffer

    @property
    def terms(self) -> DepositTerms:
        return self.configuration.deposit_terms

    @property
    def limited_edition(self) -> bool:
        trim = self.offer.model.trim(self.configuration.trim_code)
        return trim is not None and trim.limited_edition


def price_now(ctx: AppContext, configuration_code: str, now: datetime) -> Priced:
    """The stored configuration priced by the book and terms in force now (from the
    process's catalogue cache; read-only and without a statement when warm)."""
    if not catalog_service.CONFIGURATION_CODE.fullmatch(configuration_code):
        raise unknown_configuration(configuration_code)
    configuration, offer = ctx.catalog_cache.priced(ctx.uow, configuration_code, now)
    return Priced(configuration, offer)


def fair_sale_limits(ctx: AppContext) -> FairSaleLimits:
    return FairSaleLimits(
        max_open_per_model=ctx.settings.orders_max_open_per_model,
        limited_edition_per_buyer=ctx.settings.orders_limited_edition_per_buyer,
    )


def _check_terms(request: ReserveRequest, terms: DepositTerms) -> None:
    accepted = (request.terms_code, request.terms_version, request.terms_hash)
    if accepted != (terms.code, terms.version, terms.content_hash):
        raise conflict(
            OrderErrorCode.TERMS_OUTDATED,
            terms=request.terms_code[:40],
            version=request.terms_version,
            current_terms=terms.code,
            current_version=terms.version,
        )


def _check_earnest_cap(terms: DepositTerms, price: catalog.PricedConfiguration) -> None:
    cap = earnest_cap(price.total_price)
    if terms.kind is DepositKind.EARNEST and terms.amount > cap:
        raise invalid(
            OrderErrorCode.EARNEST_OVER_CAP,
            "/configuration_code",
            deposit=terms.amount.format(),
            price=price.total_price.format(),
            cap=cap.format(),
        )


def reserve(
    ctx: AppContext, actor: Actor, request: ReserveRequest, *, checkout: bool = True
) -> Reservation:
    """Reserve a configuration: the order waits for its deposit, with one payment; a
    limited edition's unit is held for it until the payment window closes.

    With ``checkout=False`` the caller asks the provider for the pay URL itself after its
    transaction (payments.ask_checkout / store_checkout)."""
    customer_id = support.buyer_id(actor)
    if not request.accept_terms:
        raise invalid(OrderErrorCode.TERMS_NOT_ACCEPTED, "/accept_terms")
    now = ctx.clock()
    priced = price_now(ctx, request.configuration_code, now)
    configuration, terms = priced.configuration, priced.terms
    ensure_on_sale(priced.offer.model, configuration.trim_code, now)
    _check_terms(request, terms)
    _check_earnest_cap(terms, configuration)
    with ctx.uow() as uow:
        existing, replay = uow.orders.lock_buyer_orders(
            customer_id, configuration.model_code, request.idempotency_key
        )
        if replay is not None:
            reservation = _replayed(uow, replay)
            uow.end_unchanged()  # a replay writes nothing
        else:
            check_fair_sale(
                fair_sale_limits(ctx),
                existing,
                model_code=configuration.model_code,
                trim_code=configuration.trim_code,
                limited_edition=priced.limited_edition,
            )
            reservation = _add_reservation(ctx, uow, customer_id, request, priced, now)
            uow.commit()
    if not checkout:
        return reservation
    # After commit, never inside the transaction: ask the provider where the buyer pays.
    # A replay asks again too (same key), as its first request may still be asking.
    payment = start_checkout(ctx, reservation.payment, payment_description(reservation.order))
    return dataclasses.replace(reservation, payment=payment)


def _add_reservation(
    ctx: AppContext,
    uow: UnitOfWork,
    customer_id: str,
    request: ReserveRequest,
    priced: Priced,
    now: datetime,
) -> Reservation:
    configuration, terms = priced.configuration, priced.terms
    expires_at = now + timedelta(minutes=ctx.settings.orders_payment_window_minutes)
    order = Order(
        id=new_id("O"),
        customer_id=customer_id,
        locale=normalise(request.locale),
        model_code=configuration.model_code,
        trim_code=configuration.trim_code,
        configuration_code=configuration.code,
        price=configuration.total_price,
        deposit_kind=terms.kind,
        deposit=terms.amount,
        terms=AcceptedTerms(terms.code, terms.version, terms.content_hash, now),
        limited_edition=priced.limited_edition,
        status=OrderStatus.PENDING_PAYMENT,
        version=1,
        created_at=now,
        updated_at=now,
        expires_at=expires_at,
        idempotency_key=request.idempotency_key,
    )
    if priced.limited_edition:
        _hold_unit(uow, priced, order.id, held_until=expires_at, now=now)
    payment = new_payment(order, ctx.settings.payment_provider, now)
    uow.orders.add(order)
    uow.payments.add(payment)
    return Reservation(order, payment, created=True, terms=terms)


def _replayed(uow: UnitOfWork, order_id: str) -> Reservation:
    """The buyer sent this Idempotency-Key before: their first reservation, unchanged."""
    order = uow.orders.get(order_id)
    assert order is not None  # found by the same transaction a statement ago
    return Reservation(order, uow.payments.for_order(order.id)[-1], created=False)


def _hold_unit(
    uow: UnitOfWork,
    priced: Priced,
    order_id: str,
    *,
    held_until: datetime | None,
    now: datetime,
) -> int:
    """Claim a unit of the limited edition for ``order_id`` until ``held_until`` (None: as
    sold, for a paid order); SoldOut when none is left."""
    model, trim_code = priced.offer.model, priced.configuration.trim_code
    number = uow.launch.claim_unit(model.code, trim_code, order_id, held_until=held_until, now=now)
    if number is None:
        trim = model.trim(trim_code)
        raise sold_out(model.code, trim_code, trim.unit_cap if trim else None)
    return number


def check_change(order: Order, priced: Priced) -> None:
    """Refuse a configuration of another model or under other terms (422)."""
    configuration, terms = priced.configuration, priced.terms
    if configuration.model_code != order.model_code:
        raise invalid(
            OrderErrorCode.OTHER_MODEL,
            "/configuration_code",
            configuration=configuration.code,
            model=configuration.model_code,
            order=order.id,
            order_model=order.model_code,
        )
    accepted = (order.terms.code, order.terms.version, order.terms.content_hash)
    if (terms.code, terms.version, terms.content_hash) != accepted:
        raise invalid(
            OrderErrorCode.TERMS_DIFFER,
            "/configuration_code",
            configuration=configuration.code,
            terms=terms.code,
            version=terms.version,
        )


def change_configuration(
    ctx: AppContext, actor: Actor, order_id: str, configuration_code: str
) -> Order:
    """Switch to another configuration of the same model under the same terms, until the
    lock; repriced, recorded in the history, and sent to the back of the queue: a paid
    order gets a new number at the end of the new configuration's queue (the preview in
    services/queue.py says so before the buyer confirms). Moving to another trim gives a
    limited edition's unit back, or claims one (sold out: refused)."""
    now = ctx.clock()
    priced = price_now(ctx, configuration_code, now)
    configuration = priced.configuration
    with ctx.uow() as uow:
        order = support.owned_order(uow, actor, order_id)
        if configuration.code == order.configuration_code:
            return order
        check_change(order, priced)
        # The transition table refuses a locked or ended order before anything is written.
        transition(order.status, OrderEvent.CHANGE_CONFIGURATION, actor=actor, at=now, reason="")
        if configuration.trim_code != order.trim_code:
            _change_trim(ctx, uow, order, priced, now)
        queue_number = None
        if order.paid_at is not None:
            queue_number = uow.launch.next_queue_number(configuration.code)
        changed = support.move(
            uow,
            order,
            OrderEvent.CHANGE_CONFIGURATION,
            actor=actor,
            now=now,
            reason=f"{order.configuration_code} -> {configuration.code}",
            configuration_code=configuration.code,
            trim_code=configuration.trim_code,
            limited_edition=priced.limited_edition,
            price=configuration.total_price,
            queue_number=queue_number,
        )
        uow.orders.add_configuration_change(
            ConfigurationChange(
                order_id=order.id,
                old_code=order.configuration_code,
                new_code=configuration.code,
                old_price=order.price,
                new_price=configuration.total_price,
                actor=actor.ref,
                at=now,
            )
        )
        uow.commit()
    return changed


def _change_trim(
    ctx: AppContext, uow: UnitOfWork, order: Order, priced: Priced, now: datetime
) -> None:
    """Another trim: it must be on sale; a limited edition's unit goes back or is claimed."""
    trim_code = priced.configuration.trim_code
    ensure_on_sale(priced.offer.model, trim_code, now)
    if order.limited_edition:
        uow.launch.release_unit(order.id)
    if priced.limited_edition:
        others = [
            o
            for o in uow.orders.buyer_orders(order.customer_id, order.model_code)
            if o.id != order.id
        ]
        check_fair_sale(
            fair_sale_limits(ctx),
            others,
            model_code=order.model_code,
            trim_code=trim_code,
            limited_edition=True,
        )
        paid = order.paid_at is not None
        held_until = None if paid else (order.expires_at or now)
        _hold_unit(uow, priced, order.id, held_until=held_until, now=now)


def lock(ctx: AppContext, actor: Actor, order_id: str, *, confirm: bool) -> Order:
    """The buyer locks a paid order, having confirmed the warning about the deposit.

    Lock time decides build order among locked orders (domain/launch.py)."""
    return lock_and_place(ctx, actor, order_id, confirm=confirm)[0]


def lock_and_place(
    ctx: AppContext, actor: Actor, order_id: str, *, confirm: bool
) -> tuple[Order, QueuePlace | None]:
    """``lock``, and the order's place in its queue as the lock left it (None if unpaid)."""
    now = ctx.clock()
    reason = "the buyer locked the order and confirmed the deposit warning"
    with ctx.uow() as uow:
        if confirm and actor.is_customer and actor.id and len(order_id) <= 20:
            # The usual case in one statement: a reserved order of this buyer, moved.
            change = transition(
                OrderStatus.RESERVED, OrderEvent.LOCK, actor=actor, at=now, reason=reason
            )
            locked = uow.orders.move_from(
                order_id,
                OrderStatus.RESERVED,
                change.to_status,
                customer_id=actor.id,
                now=now,
                locked_at=now,
                auto_lock_at=None,
                lock_reminder_due_at=None,
            )
            if locked is not None:
                uow.orders.add_status_change(order_id, change)
                announce(uow, Topic.LOCKED, locked, now)
                place = support.place_on_locking(uow, locked)
                uow.commit()
                return locked, place
        # Not a reserved order of this buyer: read it to say exactly why.
        order = support.owned_order(uow, actor, order_id)
        ensure_can_lock(order.id, order.status, confirmed=confirm)
        locked = support.move(
            uow,
            order,
            OrderEvent.LOCK,
            actor=actor,
            now=now,
            reason=reason,
            locked_at=now,
            auto_lock_at=None,
            lock_reminder_due_at=None,
        )
        announce(uow, Topic.LOCKED, locked, now)
        place = support.place_on_locking(uow, locked)
        uow.commit()
    return locked, place


__all__ = [
    "Priced",
    "ReserveRequest",
    "Reservation",
    "change_configuration",
    "check_change",
    "fair_sale_limits",
    "lock",
    "lock_and_place",
    "price_now",
    "reserve",
]
