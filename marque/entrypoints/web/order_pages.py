"""The buyer's order pages: reserve with the deposit terms in full, pay, my orders, one order.

- ``GET /models/{model}/reserve`` takes the configurator's choices (its Reserve button
  submits them here), stores the priced configuration and sends the buyer on to
  ``GET /orders/new?configuration=CFG-…``: the configuration, the deposit terms in full in
  both languages, and an acceptance checkbox.
- ``POST /orders`` reserves with the idempotency key that page was rendered with, so a
  double submit (or a reload of the POST) finds the order the first one made, then sends the
  buyer to the provider's pay page with ``return_url`` back to ``/orders/{id}``.
- ``GET /orders`` and ``GET /orders/{id}``: status, history, payment, refunds and the refund
  quote, which is always on the page. Another buyer's order is the 404 page.
"""

from __future__ import annotations

import logging
import secrets
from typing import Annotated, Any, Final
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.exc import IntegrityError

from marque.domain.errors import N_, Conflict, MarqueError, NotFound, ValidationFailed
from marque.domain.identity import Actor
from marque.domain.launch import opening_time
from marque.domain.order_entities import Order, Payment, PaymentStatus
from marque.domain.orders import OrderStatus
from marque.entrypoints.api import cursors
from marque.entrypoints.web import csrf
from marque.entrypoints.web.configurator_view import choice_from_query
from marque.entrypoints.web.opening_view import opening_view
from marque.entrypoints.web.order_view import order_page, order_summary
from marque.entrypoints.web.page_access import buyer, redirect, signin_redirect
from marque.entrypoints.web.rendering import render, translator_of
from marque.entrypoints.web.session import container_of
from marque.entrypoints.web.signin_pages import error_messages
from marque.entrypoints.web.terms_view import full_terms
from marque.i18n import Translator
from marque.services import catalog as catalog_service
from marque.services import idempotency, order_queries, orders, payments
from marque.services.context import AppContext

log = logging.getLogger("marque.web.orders")
router = APIRouter(include_in_schema=False)
CsrfChecked = Depends(csrf.require_token)
PAGE_SIZE: Final = 20

MUST_ACCEPT: Final = N_("Tick the box to accept the deposit terms; nothing was reserved.")

#: Notices the order page shows after a redirect (``?done=…``).
NOTICES: Final[dict[str, str]] = {
    "locked": N_("Your order is locked."),
    "cancelled": N_("Your order is cancelled. The refund below is on its way."),
    "changed": N_(
        "Your configuration is changed and repriced; the order is now at the back of the queue."
    ),
    "unavailable": N_(
        "The payment service did not answer. Nothing was charged; try again in a moment."
    ),
}


def new_form_key() -> str:
    """A fresh idempotency key for one rendering of the reserve form."""
    return f"web-{secrets.token_urlsafe(18)}"


def names_of(ctx: AppContext, order: Order, _: Translator) -> dict[str, str]:
    """The model and trim names in the page's language; the codes if the model is gone."""
    try:
        model = catalog_service.get_model(ctx, order.model_code).model
    except NotFound:
        return {"model": order.model_code, "trim": order.trim_code}
    trim = model.trim(order.trim_code)
    return {
        "model": model.name.pick(_.locale),
        "trim": trim.name.pick(_.locale) if trim else order.trim_code,
    }


def options_of(ctx: AppContext, configuration_code: str, _: Translator) -> list[dict[str, Any]]:
    try:
        configuration = catalog_service.get_configuration(ctx, configuration_code)
    except NotFound:
        return []
    return [{"code": o.code, "name": o.name.pick(_.locale)} for o in configuration.options]


def pay_redirect(pay_url: str, order_id: str) -> str:
    """The provider's pay page, told to send the buyer back to the order afterwards."""
    joiner = "&" if "?" in pay_url else "?"
    return f"{pay_url}{joiner}{urlencode({'return_url': f'/orders/{order_id}'})}"


def _to_payment(request: Request, order_id: str, payment: Payment) -> Response:
    if payment.status is PaymentStatus.PENDING and payment.pay_url:
        return redirect(request, pay_redirect(payment.pay_url, order_id))
    if payment.status is PaymentStatus.PENDING:
        return redirect(request, f"/orders/{order_id}?done=unavailable")
    return redirect(request, f"/orders/{order_id}")


# ---------------------------------------------------------------------------- reserve


@router.get("/models/{model_code}/reserve", response_class=HTMLResponse)
def reserve_choice(request: Request, model_code: str) -> Response:
    """The configurator's Reserve button: price the choices, then the reserve page."""
    container = container_of(request)
    offer = catalog_service.get_model(container, model_code)  # NotFound -> the 404 page
    choice = choice_from_query(offer, request.query_params)
    try:
        result = catalog_service.configure(container, offer.model.code, choice.trim, choice.options)
    except ValidationFailed:  # the configurator lists the reasons
        return redirect(request, f"/models/{offer.model.code}?{request.url.query}")
    query = urlencode({"configuration": result.configuration.code})
    return redirect(request, f"/orders/new?{query}")


def _reserve_page(
    request: Request, actor: Actor, code: str, *, errors: list[str], status: int = 200
) -> Response:
    container = container_of(request)
    _ = translator_of(request)
    now = container.clock()
    priced = orders.price_now(container, code, now)
    configuration, model = priced.configuration, priced.offer.model
    trim = model.trim(configuration.trim_code)
    return render(
        request,
        "orders/reserve.html",
        status=status,
        actor=actor,
        lang_path=f"/orders/new?{urlencode({'configuration': configuration.code})}",
        configuration={
            "code": configuration.code,
            "model_code": model.code,
            "model_name": model.name.pick(_.locale),
            "trim_name": trim.name.pick(_.locale) if trim else configuration.trim_code,
            "limited_edition": priced.limited_edition,
            "options": [
                {"name": o.name.pick(_.locale), "price": o.price} for o in configuration.options
            ],
            "base_price": configuration.base_price,
            "options_price": configuration.options_price,
            "total_price": configuration.total_price,
        },
        terms=full_terms(priced.terms, now, _),
        # Before the opening the submit button is off; a POST anyway gets sales.not_open.
        opening=opening_view(opening_time(model, configuration.trim_code), now, _),
        idempotency_key=new_form_key(),
        errors=errors,
    )


@router.get("/orders/new", response_class=HTMLResponse)
def reserve_page(request: Request, configuration: str = "") -> Response:
    actor = buyer(request)
    if actor is None:
        return signin_redirect(request)
    return _reserve_page(request, actor, configuration[:40], errors=[])


def _reserve_once(
    ctx: AppContext, actor: Actor, wanted: orders.ReserveRequest
) -> orders.Reservation:
    try:
        return orders.reserve(ctx, actor, wanted)
    except IntegrityError:
        # Two submits of one form raced: the database lets one order per (buyer, key) in,
        # and asking again now finds the order the other submit made.
        log.info("a concurrent submit of the reserve form made the order first")
        return orders.reserve(ctx, actor, wanted)


@router.post("/orders", response_class=HTMLResponse, dependencies=[CsrfChecked])
def reserve(
    request: Request,
    configuration_code: Annotated[str, Form()] = "",
    terms_code: Annotated[str, Form()] = "",
    terms_version: Annotated[str, Form()] = "",
    terms_hash: Annotated[str, Form()] = "",
    idempotency_key: Annotated[str, Form()] = "",
    accept_terms: Annotated[str, Form()] = "",
) -> Response:
    code = configuration_code[:40]
    actor = buyer(request)
    if actor is None:
        return signin_redirect(request, f"/orders/new?{urlencode({'configuration': code})}")
    _ = translator_of(request)
    if not accept_terms:
        return _reserve_page(request, actor, code, errors=[_(MUST_ACCEPT)], status=422)
    container = container_of(request)
    wanted = orders.ReserveRequest(
        configuration_code=code,
        terms_code=terms_code[:40],
        terms_version=int(terms_version) if terms_version.isdigit() else 0,
        terms_hash=terms_hash[:64],
        accept_terms=True,
        locale=_.locale,
        idempotency_key=idempotency.check_key(idempotency_key),
    )
    try:
        reservation = _reserve_once(container, actor, wanted)
    except MarqueError as exc:
        if not exc.expose or exc.status not in (409, 422):
            raise
        # Fair-sale limits, terms changed since the page was shown, earnest money over the cap.
        errors = error_messages(request, exc)
        return _reserve_page(request, actor, code, errors=errors, status=exc.status)
    order, payment = reservation.order, reservation.payment
    if order.status is OrderStatus.PENDING_PAYMENT and not payment.pay_url:
        payment = payments.current_payment(container, actor, order.id)
    return _to_payment(request, order.id, payment)


# ---------------------------------------------------------------------------- my orders


@router.get("/orders", response_class=HTMLResponse)
def my_orders(request: Request, cursor: str = "") -> Response:
    actor = buyer(request)
    if actor is None:
        return signin_redirect(request)
    container = container_of(request)
    _ = translator_of(request)
    found = order_queries.list_orders(
        container, actor, after=cursors.decode(cursor[:200] or None), limit=PAGE_SIZE
    )
    names: dict[tuple[str, str], dict[str, str]] = {}
    items = []
    for summary in found:
        order = summary.order
        key = (order.model_code, order.trim_code)
        if key not in names:
            names[key] = names_of(container, order, _)
        items.append(order_summary(order, summary.quote, names[key], _))
    last = found[-1].order if len(found) == PAGE_SIZE else None
    more = (
        f"/orders?{urlencode({'cursor': cursors.encode(last.created_at, last.id)})}"
        if last
        else None
    )
    return render(
        request, "orders/list.html", actor=actor, orders=items, more=more, first=not cursor
    )


@router.get("/orders/{order_id}", response_class=HTMLResponse)
def order_detail(request: Request, order_id: str, done: str = "") -> Response:
    actor = buyer(request)
    if actor is None:
        return signin_redirect(request)
    container = container_of(request)
    _ = translator_of(request)
    detail = order_queries.order_detail(container, actor, order_id)  # 404 for others' orders
    order = detail.order
    view = order_page(
        detail, names_of(container, order, _), options_of(container, order.configuration_code, _), _
    )
    notice = _(NOTICES[done]) if done in NOTICES else ""
    return render(
        request, "orders/detail.html", actor=actor, lang_path=None, order=view, notice=notice
    )


@router.post("/orders/{order_id}/pay", dependencies=[CsrfChecked])
def pay(request: Request, order_id: str) -> Response:
    """Open the provider's pay page for this order's deposit (a new payment if the last failed)."""
    actor = buyer(request)
    if actor is None:
        return signin_redirect(request, f"/orders/{order_id}")
    container = container_of(request)
    payment = payments.current_payment(container, actor, order_id)
    if payment.status is not PaymentStatus.PENDING:
        try:
            payment = payments.retry_payment(container, actor, order_id)
        except Conflict:  # paid meanwhile (or ended): the order page says which
            return redirect(request, f"/orders/{order_id}")
    return _to_payment(request, order_id, payment)


__all__ = ["names_of", "options_of", "pay_redirect", "router"]
