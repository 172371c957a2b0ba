"""What a buyer does to an order, each behind a page that says plainly what will happen.

- Lock: the confirmation page states, from the refund quote itself, what the deposit is
  worth after the lock (non-refundable, if the terms make it so) and needs a ticked box.
- Cancel: the confirmation page says exactly what comes back (the quote now); the POST
  carries that amount, and if the quote has dropped meanwhile nothing happens and the page
  shows the new amount instead (409).
- Change the configuration (until the lock): the new price next to the old one and the
  warning that the order goes to the back of the queue, before the buyer confirms.

A repeated POST (a double click, a reload) finds the order already moved and shows it.
"""

from __future__ import annotations

from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from marque.domain.errors import N_, MarqueError, ValidationFailed
from marque.domain.identity import Actor
from marque.domain.money import MINOR_UNITS, Money
from marque.domain.order_errors import OrderErrorCode
from marque.domain.orders import OrderStatus
from marque.entrypoints.web import csrf
from marque.entrypoints.web.configurator_view import Choice, choice_from_query, configurator_context
from marque.entrypoints.web.order_pages import names_of
from marque.entrypoints.web.order_view import (
    CANCELLABLE,
    CHANGEABLE,
    lock_warning,
    order_summary,
    quote_view,
)
from marque.entrypoints.web.page_access import buyer, redirect, signin_redirect
from marque.entrypoints.web.rendering import render, translator_of
from marque.entrypoints.web.session import container_of
from marque.entrypoints.web.signin_pages import error_messages
from marque.services import cancellations, order_queries, orders
from marque.services import catalog as catalog_service
from marque.services.order_queries import OrderDetail

router = APIRouter(include_in_schema=False)
CsrfChecked = Depends(csrf.require_token)

MUST_CONFIRM_LOCK: Final = N_(
    "Tick the box to confirm that you read what the lock means; nothing was locked."
)


def _detail(request: Request, actor: Actor, order_id: str) -> OrderDetail:
    return order_queries.order_detail(container_of(request), actor, order_id)


def _head(request: Request, detail: OrderDetail) -> dict[str, Any]:
    _ = translator_of(request)
    return order_summary(
        detail.order, detail.quote, names_of(container_of(request), detail.order, _), _
    )


def _back_to_order(request: Request, order_id: str, done: str = "") -> Response:
    return redirect(request, f"/orders/{order_id}" + (f"?done={done}" if done else ""))


# ---------------------------------------------------------------------------- lock


def _lock_page(
    request: Request, actor: Actor, detail: OrderDetail, *, errors: list[str], status: int = 200
) -> Response:
    _ = translator_of(request)
    return render(
        request,
        "orders/lock.html",
        status=status,
        actor=actor,
        lang_path=f"/orders/{detail.order.id}/lock",
        order=_head(request, detail),
        warning=lock_warning(detail, _),
        errors=errors,
    )


@router.get("/orders/{order_id}/lock", response_class=HTMLResponse)
def lock_page(request: Request, order_id: str) -> Response:
    actor = buyer(request)
    if actor is None:
        return signin_redirect(request)
    detail = _detail(request, actor, order_id)
    if detail.order.status is not OrderStatus.RESERVED:
        return _back_to_order(request, detail.order.id)
    return _lock_page(request, actor, detail, errors=[])


@router.post("/orders/{order_id}/lock", response_class=HTMLResponse, dependencies=[CsrfChecked])
def lock(request: Request, order_id: str, confirm: Annotated[str, Form()] = "") -> Response:
    actor = buyer(request)
    if actor is None:
        return signin_redirect(request, f"/orders/{order_id}/lock")
    detail = _detail(request, actor, order_id)
    if detail.order.status is OrderStatus.LOCKED:  # the same form sent twice
        return _back_to_order(request, detail.order.id, "locked")
    if not confirm:
        _ = translator_of(request)
        return _lock_page(request, actor, detail, errors=[_(MUST_CONFIRM_LOCK)], status=422)
    orders.lock(container_of(request), actor, detail.order.id, confirm=True)
    return _back_to_order(request, detail.order.id, "locked")


# ---------------------------------------------------------------------------- cancel


def _cancel_page(
    request: Request, actor: Actor, detail: OrderDetail, *, errors: list[str], status: int = 200
) -> Response:
    _ = translator_of(request)
    return render(
        request,
        "orders/cancel.html",
        status=status,
        actor=actor,
        lang_path=f"/orders/{detail.order.id}/cancel",
        order=_head(request, detail),
        quote=quote_view(detail.quote, _),
        paid=detail.order.status is not OrderStatus.PENDING_PAYMENT,
        errors=errors,
    )


@router.get("/orders/{order_id}/cancel", response_class=HTMLResponse)
def cancel_page(request: Request, order_id: str) -> Response:
    actor = buyer(request)
    if actor is None:
        return signin_redirect(request)
    detail = _detail(request, actor, order_id)
    if detail.order.status not in CANCELLABLE:
        return _back_to_order(request, detail.order.id)
    return _cancel_page(request, actor, detail, errors=[])


def _expected(amount: str, currency: str) -> Money | None:
    if not amount.isdigit() or len(amount) > 13 or currency not in MINOR_UNITS:
        return None
    return Money(int(amount), currency)


@router.post("/orders/{order_id}/cancel", response_class=HTMLResponse, dependencies=[CsrfChecked])
def cancel(
    request: Request,
    order_id: str,
    expected_amount: Annotated[str, Form()] = "",
    expected_currency: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
) -> Response:
    actor = buyer(request)
    if actor is None:
        return signin_redirect(request, f"/orders/{order_id}/cancel")
    detail = _detail(request, actor, order_id)
    if detail.order.status is OrderStatus.CANCELLED:  # the same form sent twice
        return _back_to_order(request, detail.order.id, "cancelled")
    try:
        cancellations.cancel(
            container_of(request),
            actor,
            detail.order.id,
            reason=reason.strip()[:200],
            expected_total=_expected(expected_amount, expected_currency),
        )
    except MarqueError as exc:
        if exc.code != OrderErrorCode.QUOTE_CHANGED:
            raise
        # Less would come back than the page said: show the new amount, cancel nothing.
        fresh = _detail(request, actor, order_id)
        return _cancel_page(
            request, actor, fresh, errors=error_messages(request, exc), status=exc.status
        )
    return _back_to_order(request, detail.order.id, "cancelled")


# ---------------------------------------------------------------------------- configuration


def _current_choice(request: Request, detail: OrderDetail) -> Choice:
    stored = catalog_service.get_configuration(
        container_of(request), detail.order.configuration_code
    )
    return Choice(stored.trim_code, stored.option_codes)


def _change_page(
    request: Request,
    actor: Actor,
    detail: OrderDetail,
    *,
    errors: list[str],
    status: int = 200,
) -> Response:
    container = container_of(request)
    _ = translator_of(request)
    order = detail.order
    offer = catalog_service.get_model(container, order.model_code)
    asked = "trim" in request.query_params
    choice = (
        choice_from_query(offer, request.query_params)
        if asked
        else _current_choice(request, detail)
    )
    priced = None
    violations: list[str] = []
    try:
        priced = catalog_service.configure(
            container, offer.model.code, choice.trim, choice.options
        ).configuration
    except ValidationFailed as exc:
        violations = [_(v.message, **v.params) for v in exc.violations]
    context = configurator_context(offer, choice, priced, violations, _)
    # Only trims under the same deposit terms: another trim's terms need a new reservation.
    same_terms = {
        t.code for t in offer.model.trims if offer.terms_for(t.code).code == order.terms.code
    }
    context["trims"] = [t for t in context["trims"] if t["code"] in same_terms]
    changed = priced is not None and priced.code != order.configuration_code
    difference = priced.total_price - order.price if priced is not None else None
    return render(
        request,
        "orders/change.html",
        status=status,
        actor=actor,
        lang_path=None,
        order=_head(request, detail),
        current_code=order.configuration_code,
        new=priced,
        changed=changed,
        difference=difference,
        queue_number=order.queue_number,
        errors=errors,
        **{k: context[k] for k in ("trims", "groups", "violations")},
    )


@router.get("/orders/{order_id}/configuration", response_class=HTMLResponse)
def change_page(request: Request, order_id: str) -> Response:
    actor = buyer(request)
    if actor is None:
        return signin_redirect(request)
    detail = _detail(request, actor, order_id)
    if detail.order.status not in CHANGEABLE:
        return _back_to_order(request, detail.order.id)
    return _change_page(request, actor, detail, errors=[])


@router.post(
    "/orders/{order_id}/configuration", response_class=HTMLResponse, dependencies=[CsrfChecked]
)
def change_configuration(
    request: Request, order_id: str, configuration_code: Annotated[str, Form()] = ""
) -> Response:
    actor = buyer(request)
    if actor is None:
        return signin_redirect(request, f"/orders/{order_id}/configuration")
    detail = _detail(request, actor, order_id)
    if detail.order.configuration_code == configuration_code:  # the same form sent twice
        return _back_to_order(request, detail.order.id, "changed")
    try:
        orders.change_configuration(
            container_of(request), actor, detail.order.id, configuration_code[:40]
        )
    except MarqueError as exc:
        if not exc.expose or exc.status not in (404, 409, 422):
            raise
        return _change_page(
            request, actor, detail, errors=error_messages(request, exc), status=exc.status
        )
    return _back_to_order(request, detail.order.id, "changed")


__all__ = ["router"]
