"""The buyer's orders: reserve, read, change the configuration, lock, cancel, pay, quote.

Another buyer's order answers 404, exactly as an order that does not exist. Every POST or
PATCH that creates an order or moves money needs an ``Idempotency-Key`` header.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from marque.bootstrap import Container
from marque.domain.errors import Forbidden, Unauthenticated
from marque.domain.identity import Actor
from marque.entrypoints.api import cursors
from marque.entrypoints.api.blocking import asks_payment_provider, run_blocking
from marque.entrypoints.api.deps import ActorDep, ContainerDep, CustomerDep, TranslatorDep
from marque.entrypoints.api.idempotent import (
    CallOut,
    IdempotencyKey,
    Outcome,
    run_once_per_key,
)
from marque.entrypoints.api.responses import model_json
from marque.entrypoints.api.routers.auth import problem
from marque.entrypoints.api.routers.launch_schemas import ChangePreviewOut
from marque.entrypoints.api.routers.order_schemas import (
    CancelIn,
    CancelOut,
    ChangeConfigurationIn,
    LockIn,
    OrderDetailOut,
    OrderListOut,
    OrderOut,
    PaymentOut,
    RefundOut,
    RefundQuoteOut,
    ReserveIn,
)
from marque.i18n import Translator
from marque.services import cancellations, order_queries, orders, payments, queue
from marque.services.context import AppContext
from marque.services.order_support import ORDER_READERS
from marque.services.payment_ports import ProviderPayment

router = APIRouter(tags=["orders"])

KEY_PROBLEMS: dict[int | str, dict[str, Any]] = {
    400: problem("`idempotency.key_required`: no Idempotency-Key header"),
    401: problem("Not signed in"),
    403: problem("Signed in as staff: only buyers may do this"),
    409: problem(
        "`idempotency.key_reused`: the key was used for another request; "
        "`idempotency.in_progress`: the first request with this key is still running"
    ),
}
NOT_FOUND = problem("`order.not_found`: no such order in your account (also another buyer's)")


def detail_out(container: AppContext, actor: Actor, order_id: str, _: Translator) -> OrderDetailOut:
    return OrderDetailOut.of_detail(order_queries.order_detail(container, actor, order_id), _)


def _ensure_visible(container: AppContext, actor: Actor, order_id: str) -> None:
    order_queries.refund_quote(container, actor, order_id)


def _once_per_key_on_order(
    request: Request,
    container: Container,
    actor: Actor,
    order_id: str,
    idempotency_key: str | None,
    body: BaseModel | None,
    work: Callable[[], Outcome],
) -> JSONResponse:
    """An idempotent write on one order: another buyer's order is a 404 before any key check."""
    return run_once_per_key(
        request,
        container,
        actor,
        idempotency_key,
        body,
        work,
        before_key_check=lambda: _ensure_visible(container, actor, order_id),
    )


# The launch's steps first (reserve, the payment poll, lock, cancel): FastAPI tries the
# routes one by one in the order they are declared here.
@router.post(
    "/orders",
    status_code=status.HTTP_201_CREATED,
    response_model=OrderDetailOut,
    summary="Reserve a configuration: the order waits for its deposit",
    description=(
        "Send the configuration code and the deposit terms (code, version, content hash) the "
        "buyer read and accepted; they must be the terms in force for that configuration. "
        "The answer has the payment with its pay URL and QR payload."
    ),
    responses={
        **KEY_PROBLEMS,
        404: problem("`catalog.unknown_configuration` or `catalog.unknown_model`"),
        409: problem(
            "`sales.not_open`: before the opening time (in `params.opens_at`); "
            "`order.sold_out`: every unit of the limited edition is reserved or sold; "
            "`order.terms_outdated`: other terms are in force now; `order.open_order_limit`, "
            "`order.limited_edition_taken`: fair-sale limits; or an idempotency conflict"
        ),
        422: problem(
            "`order.terms_not_accepted`, `order.earnest_over_cap`, "
            "`idempotency.key_invalid`, `request.invalid`"
        ),
    },
)
@asks_payment_provider
async def reserve(
    body: ReserveIn,
    request: Request,
    container: ContainerDep,
    actor: CustomerDep,
    _: TranslatorDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    def work() -> CallOut:
        reservation = orders.reserve(
            container,
            actor,
            orders.ReserveRequest(
                configuration_code=body.configuration_code,
                terms_code=body.terms_code,
                terms_version=body.terms_version,
                terms_hash=body.terms_hash,
                accept_terms=body.accept_terms,
                locale=_.locale,
                idempotency_key=idempotency_key,
            ),
            checkout=False,
        )
        order = reservation.order

        def ask() -> ProviderPayment | None:
            description = payments.payment_description(order)
            return payments.ask_checkout(container, reservation.payment, description)

        def answer(checkout: ProviderPayment | None) -> tuple[int, OrderDetailOut]:
            payment = payments.store_checkout(container, reservation.payment, checkout)
            if not reservation.created or reservation.terms is None:
                return status.HTTP_200_OK, detail_out(container, actor, order.id, _)
            # Just written by this request: answered from memory, not read back.
            detail = order_queries.new_order_detail(
                order, payment, reservation.terms, container.clock()
            )
            return status.HTTP_201_CREATED, OrderDetailOut.of_detail(detail, _)

        # The provider is asked where the buyer pays after the order is committed, never
        # while its transaction (and a limited edition's unit) is held.
        return CallOut(remote=ask, answer=answer)

    return await run_blocking(
        lambda: run_once_per_key(request, container, actor, idempotency_key, body, work)
    )


@router.get(
    "/orders/{order_id}/payment",
    response_model=PaymentOut,
    summary="The order's latest payment: where and how to pay",
    description="Asks the provider again for a pay URL if it was unreachable when reserving.",
    responses={
        401: problem("Not signed in"),
        403: problem("Staff without sales or finance"),
        404: NOT_FOUND,
    },
)
@asks_payment_provider  # asks again for a pay URL the provider did not give at first
async def get_payment(order_id: str, container: ContainerDep, actor: ActorDep) -> Response:
    _require_signed_in(actor)
    return await run_blocking(
        lambda: model_json(PaymentOut.of(payments.current_payment(container, actor, order_id)))
    )


@router.post(
    "/orders/{order_id}/lock",
    response_model=OrderDetailOut,
    summary="Lock a paid order; the buyer confirms the deposit warning",
    responses={
        **KEY_PROBLEMS,
        404: NOT_FOUND,
        409: problem("`order.not_paid`; `order.invalid_transition`; or an idempotency conflict"),
        422: problem("`order.lock_not_confirmed`: send confirm: true; `request.invalid`"),
    },
)
async def lock(
    order_id: str,
    body: LockIn,
    request: Request,
    container: ContainerDep,
    actor: CustomerDep,
    _: TranslatorDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    def work() -> tuple[int, OrderDetailOut]:
        locked, place = orders.lock_and_place(container, actor, order_id, confirm=body.confirm)
        detail = order_queries.detail_of(container, locked, place)
        return status.HTTP_200_OK, OrderDetailOut.of_detail(detail, _)

    return await run_blocking(
        lambda: _once_per_key_on_order(
            request, container, actor, order_id, idempotency_key, body, work
        ),
    )


@router.post(
    "/orders/{order_id}/cancel",
    response_model=CancelOut,
    summary="Cancel; the refund is exactly the refund quote at this moment",
    responses={
        **KEY_PROBLEMS,
        404: NOT_FOUND,
        409: problem(
            "`order.invalid_transition`: already ended; `order.quote_changed`: the quote is "
            "now lower than `expected_refund`; or an idempotency conflict"
        ),
        422: problem("`request.invalid`"),
    },
)
async def cancel(
    order_id: str,
    body: CancelIn,
    request: Request,
    container: ContainerDep,
    actor: CustomerDep,
    _: TranslatorDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    def work() -> tuple[int, CancelOut]:
        expected = body.expected_refund.to_money() if body.expected_refund else None
        done = cancellations.cancel(
            container, actor, order_id, reason=body.reason, expected_total=expected
        )
        detail = order_queries.order_detail(container, actor, order_id)
        refund = next(
            (r for r in detail.refunds if done.refund and r.refund.id == done.refund.id), None
        )
        applied = order_queries.QuoteView(done.quote, done.quoted_at, done.refund_by)
        return status.HTTP_200_OK, CancelOut(
            order=OrderDetailOut.of_detail(detail, _),
            applied_quote=RefundQuoteOut.of(order_id, applied, _),
            refund=RefundOut.of(refund.refund, refund.history, _) if refund else None,
        )

    return await run_blocking(
        lambda: _once_per_key_on_order(
            request, container, actor, order_id, idempotency_key, body, work
        ),
    )


@router.get(
    "/orders",
    response_model=OrderListOut,
    summary="The caller's own orders, newest first",
    responses={
        401: problem("Not signed in"),
        403: problem("Signed in as staff"),
        422: problem("`request.cursor_invalid` or `request.invalid`"),
    },
)
def list_orders(
    container: ContainerDep,
    actor: CustomerDep,
    _: TranslatorDep,
    cursor: Annotated[str | None, Query(max_length=200, description="From `next_cursor`")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> OrderListOut:
    found = order_queries.list_orders(container, actor, after=cursors.decode(cursor), limit=limit)
    last = found[-1].order if len(found) == limit else None
    return OrderListOut(
        items=[OrderOut.of(summary, _) for summary in found],
        next_cursor=cursors.encode(last.created_at, last.id) if last else None,
    )


@router.get(
    "/orders/{order_id}",
    response_model=OrderDetailOut,
    summary="One order with its status history, payment, refunds and refund quote",
    responses={
        401: problem("Not signed in"),
        403: problem("Staff without sales or finance"),
        404: NOT_FOUND,
    },
)
async def get_order(
    order_id: str, container: ContainerDep, actor: ActorDep, _: TranslatorDep
) -> Response:
    _require_signed_in(actor)
    return await run_blocking(lambda: model_json(detail_out(container, actor, order_id, _)))


@router.get(
    "/orders/{order_id}/configuration-preview",
    response_model=ChangePreviewOut,
    summary="What changing the configuration would do: new price, and the queue warning",
    description=(
        "Changes nothing. Show `warnings` before the buyer confirms: a paid order leaves its "
        "place and gets a new number at the end of the new configuration's queue."
    ),
    responses={
        401: problem("Not signed in"),
        403: problem("Signed in as staff: only buyers may do this"),
        404: problem("`order.not_found`; `catalog.unknown_configuration`"),
        409: problem("`order.invalid_transition`: locked or ended"),
        422: problem("`order.other_model`, `order.terms_differ`, `request.invalid`"),
    },
)
def preview_configuration_change(
    order_id: str,
    container: ContainerDep,
    actor: CustomerDep,
    _: TranslatorDep,
    configuration_code: Annotated[str, Query(pattern=r"^CFG-[A-Z2-7]{10}$")],
) -> ChangePreviewOut:
    return ChangePreviewOut.of(
        queue.preview_change(container, actor, order_id, configuration_code), _
    )


@router.patch(
    "/orders/{order_id}/configuration",
    response_model=OrderDetailOut,
    summary="Change the configuration before the lock (repriced; back of the queue)",
    description=(
        "A paid order gets a new number at the end of the new configuration's queue "
        "(`queue` in the answer); ask `configuration-preview` first to warn the buyer. "
        "Moving to another trim gives a limited edition's unit back, or claims one."
    ),
    responses={
        **KEY_PROBLEMS,
        404: NOT_FOUND,
        409: problem(
            "`order.invalid_transition`: locked or ended; `sales.not_open`, `order.sold_out`: "
            "the new trim; or an idempotency conflict"
        ),
        422: problem("`order.other_model`, `order.terms_differ`, `request.invalid`"),
    },
)
def change_configuration(
    order_id: str,
    body: ChangeConfigurationIn,
    request: Request,
    container: ContainerDep,
    actor: CustomerDep,
    _: TranslatorDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    def work() -> tuple[int, OrderDetailOut]:
        orders.change_configuration(container, actor, order_id, body.configuration_code)
        return status.HTTP_200_OK, detail_out(container, actor, order_id, _)

    return _once_per_key_on_order(request, container, actor, order_id, idempotency_key, body, work)


@router.get(
    "/orders/{order_id}/refund-quote",
    response_model=RefundQuoteOut,
    summary="What cancelling now would return, by which rule, and until when",
    responses={
        401: problem("Not signed in"),
        403: problem("Staff without sales or finance"),
        404: NOT_FOUND,
    },
)
def refund_quote(
    order_id: str, container: ContainerDep, actor: ActorDep, _: TranslatorDep
) -> RefundQuoteOut:
    _require_signed_in(actor)
    order, view = order_queries.refund_quote(container, actor, order_id)
    return RefundQuoteOut.of(order.id, view, _)


@router.post(
    "/orders/{order_id}/payments",
    status_code=status.HTTP_201_CREATED,
    response_model=PaymentOut,
    summary="Start a new payment after the last one failed",
    description="Returns the pending payment instead when one is still open.",
    responses={
        **KEY_PROBLEMS,
        404: NOT_FOUND,
        409: problem("`order.not_awaiting_payment`: paid, expired or cancelled"),
    },
)
def retry_payment(
    order_id: str,
    request: Request,
    container: ContainerDep,
    actor: CustomerDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    def work() -> CallOut:
        payment, description = payments.new_payment_attempt(container, actor, order_id)

        def answer(checkout: ProviderPayment | None) -> tuple[int, PaymentOut]:
            stored = payments.store_checkout(container, payment, checkout)
            return status.HTTP_201_CREATED, PaymentOut.of(stored)

        return CallOut(lambda: payments.ask_checkout(container, payment, description), answer)

    return _once_per_key_on_order(request, container, actor, order_id, idempotency_key, None, work)


def _require_signed_in(actor: Actor) -> None:
    """Buyers (their own orders) and staff who may read orders; 401/403 for the rest."""
    if actor.is_customer:
        return
    if not actor.is_staff:
        raise Unauthenticated()
    if not actor.has_any(ORDER_READERS):
        raise Forbidden()
