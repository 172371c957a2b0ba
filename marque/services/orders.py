"""Buyer use cases on an order: reserve, change the configuration, lock.

Each write is ONE short transaction with a handful of statements and no remote call:
the configuration is priced beforehand in a read-only unit of work, and the provider is
asked for a checkout only after the reservation has committed (services/payments.py).
The launch-surge work adds a queue number and a limited-edition counter to the same
transactions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from marque.domain import catalog
from marque.domain.catalog import DepositKind, DepositTerms, ModelOffer, PricedConfiguration
from marque.domain.deposits import earnest_cap
from marque.domain.fair_sale import FairSaleLimits, check_fair_sale
from marque.domain.identity import Actor
from marque.domain.locking import ensure_can_lock
from marque.domain.order_entities import AcceptedTerms, ConfigurationChange, Order, Payment, new_id
from marque.domain.order_errors import OrderErrorCode, conflict, invalid
from marque.domain.orders import OrderEvent, OrderStatus
from marque.i18n import normalise
from marque.services import catalog as catalog_service
from marque.services import order_support as support
from marque.services.context import AppContext
from marque.services.notifications import Topic, announce
from marque.services.payments import new_payment, payment_description, start_checkout


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
    """The stored configuration priced by the book and terms in force now (read-only)."""
    stored = catalog_service.get_configuration(ctx, configuration_code)
    with ctx.uow(readonly=True) as uow:
        model = uow.catalog.get_model(stored.model_code)
        offer = None if model is None else catalog_service.offer_for(uow.catalog, model, now)
    if offer is None:
        raise catalog_service.unknown_model(stored.model_code)
    priced = catalog.configure(offer, stored.trim_code, stored.option_codes, now=now)
    return Priced(priced, offer)


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


def reserve(ctx: AppContext, actor: Actor, request: ReserveRequest) -> Reservation:
    """Reserve a configuration: the order waits for its deposit, with one payment."""
    customer_id = support.buyer_id(actor)
    if not request.accept_terms:
        raise invalid(OrderErrorCode.TERMS_NOT_ACCEPTED, "/accept_terms")
    now = ctx.clock()
    priced = price_now(ctx, request.configuration_code, now)
    configuration, terms = priced.configuration, priced.terms
    _check_terms(request, terms)
    _check_earnest_cap(terms, configuration)
    with ctx.uow() as uow:
        if request.idempotency_key:
            existing = uow.orders.by_idempotency_key(customer_id, request.idempotency_key)
            if existing is not None:
                payments = uow.payments.for_order(existing.id)
                return Reservation(existing, payments[-1], created=False)
        uow.orders.lock_buyer(customer_id)
        check_fair_sale(
            fair_sale_limits(ctx),
            uow.orders.buyer_orders(customer_id, configuration.model_code),
            model_code=configuration.model_code,
            trim_code=configuration.trim_code,
            limited_edition=priced.limited_edition,
        )
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
            expires_at=now + timedelta(minutes=ctx.settings.orders_payment_window_minutes),
            idempotency_key=request.idempotency_key,
        )
        payment = new_payment(order, ctx.settings.payment_provider, now)
        uow.orders.add(order)
        uow.payments.add(payment)
        uow.commit()
    payment = start_checkout(ctx, payment, payment_description(order))
    return Reservation(order, payment, created=True)


def change_configuration(
    ctx: AppContext, actor: Actor, order_id: str, configuration_code: str
) -> Order:
    """Switch to another configuration of the same model under the same terms, until the
    lock; repriced, recorded in the history, and sent to the back of the queue."""
    now = ctx.clock()
    priced = price_now(ctx, configuration_code, now)
    configuration = priced.configuration
    with ctx.uow() as uow:
        order = support.owned_order(uow, actor, order_id)
        if configuration.code == order.configuration_code:
            return order
        if configuration.model_code != order.model_code:
            raise invalid(
                OrderErrorCode.OTHER_MODEL,
                "/configuration_code",
                configuration=configuration.code,
                model=configuration.model_code,
                order=order.id,
                order_model=order.model_code,
            )
        terms = priced.terms
        if (terms.code, terms.version, terms.content_hash) != (
            order.terms.code,
            order.terms.version,
            order.terms.content_hash,
        ):
            raise invalid(
                OrderErrorCode.TERMS_DIFFER,
                "/configuration_code",
                configuration=configuration.code,
                terms=terms.code,
                version=terms.version,
            )
        if priced.limited_edition and configuration.trim_code != order.trim_code:
            others = [
                o
                for o in uow.orders.buyer_orders(order.customer_id, order.model_code)
                if o.id != order.id
            ]
            check_fair_sale(
                fair_sale_limits(ctx),
                others,
                model_code=configuration.model_code,
                trim_code=configuration.trim_code,
                limited_edition=True,
            )
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
            queue_number=None,
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


def lock(ctx: AppContext, actor: Actor, order_id: str, *, confirm: bool) -> Order:
    """The buyer locks a paid order, having confirmed the warning about the deposit."""
    now = ctx.clock()
    with ctx.uow() as uow:
        order = support.owned_order(uow, actor, order_id)
        ensure_can_lock(order.id, order.status, confirmed=confirm)
        locked = support.move(
            uow,
            order,
            OrderEvent.LOCK,
            actor=actor,
            now=now,
            reason="the buyer locked the order and confirmed the deposit warning",
            locked_at=now,
            auto_lock_at=None,
            lock_reminder_due_at=None,
        )
        announce(uow, Topic.LOCKED, locked, now)
        uow.commit()
    return locked


__all__ = [
    "Priced",
    "ReserveRequest",
    "Reservation",
    "change_configuration",
    "fair_sale_limits",
    "lock",
    "price_now",
    "reserve",
]
