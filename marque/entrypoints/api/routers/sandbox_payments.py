"""The sandbox payment provider's own API: decide payments, read them back, settlements.

Sandbox mode only (``MARQUE_SANDBOX=true``); otherwise every route answers 404
``sandbox.disabled``. ``{reference}`` is the *provider's* reference of a payment (``sbp_…``,
``ProviderPayment.reference`` as returned by ``create_payment``), not marque's payment or
order id. These routes stand in for what a buyer does in a payment app, so they need no
sign-in, like the pay page itself.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Body, Path, Query

from marque.adapters.payments.sandbox import SandboxPaymentProvider
from marque.adapters.payments.sandbox_records import SandboxPaymentView
from marque.domain.auth import AuthErrorCode, AuthMessage
from marque.domain.errors import NotFound
from marque.domain.money import Money
from marque.entrypoints.api.blocking import run_blocking
from marque.entrypoints.api.deps import ContainerDep
from marque.entrypoints.api.routers.auth import problem
from marque.entrypoints.api.routers.catalog_schemas import MoneyOut
from marque.entrypoints.api.routers.sandbox_payment_schemas import (
    DeliveredOut,
    FailIn,
    RefundOut,
    SandboxPaymentOut,
    SettlementLineOut,
    SettlementOut,
    SucceedIn,
    WebhookDeliveryOut,
)
from marque.entrypoints.workers.sandbox_webhooks import sandbox_provider_of

router = APIRouter(tags=["sandbox"])

DISABLED = problem("`sandbox.disabled`: the server is not in sandbox mode")
UNKNOWN = problem("`payments.payment_not_found`: the sandbox knows no payment with this reference")
Reference = Annotated[
    str,
    Path(max_length=64, description="The provider's payment reference (sbp_…) from create_payment"),
]
NOT_FOUND = {**UNKNOWN, "description": f"{DISABLED['description']}; {UNKNOWN['description']}"}


def sandbox_provider(container: ContainerDep) -> SandboxPaymentProvider:
    provider = sandbox_provider_of(container)
    if provider is None:
        raise NotFound(AuthMessage.SANDBOX_DISABLED, code=AuthErrorCode.SANDBOX_DISABLED)
    return provider


def payment_out(view: SandboxPaymentView) -> SandboxPaymentOut:
    payment = view.payment
    return SandboxPaymentOut(
        reference=payment.reference,
        merchant_reference=payment.merchant_reference,
        status=payment.status,
        amount=MoneyOut.of(view.requested),
        captured_amount=MoneyOut.of(payment.amount) if view.succeeded_at else None,
        description=view.description,
        failure_reason=view.failure_reason,
        pay_url=payment.pay_url,
        qr_payload=payment.qr_payload,
        created_at=payment.created_at,
        succeeded_at=view.succeeded_at,
        refunds=[
            RefundOut(
                reference=item.refund.reference,
                merchant_reference=item.refund.merchant_reference,
                amount=MoneyOut.of(item.refund.amount),
                status=item.refund.status,
                failure_reason=item.refund.failure_reason,
                created_at=item.created_at,
                settles_at=item.settles_at,
            )
            for item in view.refunds
        ],
        webhooks=[
            WebhookDeliveryOut(
                event_id=hook.event_id,
                type=hook.type,
                refund_reference=hook.refund_reference,
                due_at=hook.due_at,
                attempts=hook.attempts,
                last_status=hook.last_status,
                delivered_at=hook.delivered_at,
                gave_up_at=hook.gave_up_at,
            )
            for hook in view.webhooks
        ],
    )


def _captured(body: SucceedIn | None) -> Money | None:
    if body is None or body.captured_amount is None:
        return None
    return Money(body.captured_amount.amount, body.captured_amount.currency)


@router.post(
    "/sandbox/payments/{reference}/succeed",
    response_model=SandboxPaymentOut,
    summary="Make a sandbox payment succeed, as if the buyer paid",
    description=(
        "Records the payment as succeeded and schedules its signed `payment.succeeded` "
        "webhook. Repeating it changes nothing and schedules nothing. A failed payment may "
        "still succeed (the buyer tried again). `captured_amount` makes the provider report "
        "another amount than was asked, to exercise mismatch handling."
    ),
    responses={404: NOT_FOUND},
)
async def succeed_payment(
    container: ContainerDep,
    reference: Reference,
    body: Annotated[SucceedIn | None, Body()] = None,
) -> SandboxPaymentOut:
    provider = sandbox_provider(container)
    # The sandbox is the provider itself, in this process: its work never leaves the machine.
    view = await run_blocking(
        lambda: provider.complete_and_inspect(reference, succeeded=True, captured=_captured(body)),
    )
    return payment_out(view)


@router.post(
    "/sandbox/payments/{reference}/fail",
    response_model=SandboxPaymentOut,
    summary="Make a sandbox payment fail, as if the buyer's bank declined it",
    description=(
        "Records the payment as failed and schedules its signed `payment.failed` webhook. "
        "Repeating it changes nothing; a payment that already succeeded cannot fail (409)."
    ),
    responses={
        404: NOT_FOUND,
        409: problem("`sandbox.payment_already_succeeded`: the payment succeeded already"),
    },
)
def fail_payment(
    container: ContainerDep,
    reference: Reference,
    body: Annotated[FailIn | None, Body()] = None,
) -> SandboxPaymentOut:
    provider = sandbox_provider(container)
    reason = body.reason if body is not None else None
    return payment_out(
        provider.complete_and_inspect(reference, succeeded=False, failure_reason=reason)
    )


@router.get(
    "/sandbox/payments/{reference}",
    response_model=SandboxPaymentOut,
    summary="A sandbox payment with its refunds and webhook deliveries",
    responses={404: NOT_FOUND},
)
def get_payment(container: ContainerDep, reference: Reference) -> SandboxPaymentOut:
    return payment_out(sandbox_provider(container).inspect(reference))


@router.get(
    "/sandbox/settlements",
    response_model=SettlementOut,
    summary="What the sandbox provider settled on one UTC day",
    description="The payments that succeeded and the refunds that settled as succeeded that day.",
    responses={404: DISABLED, 422: problem("`request.invalid`: the date is not YYYY-MM-DD")},
)
def settlements(
    container: ContainerDep,
    day: Annotated[date, Query(alias="date", description="UTC day, YYYY-MM-DD")],
) -> SettlementOut:
    lines = sandbox_provider(container).settlement_report(day)
    return SettlementOut(
        date=day,
        items=[
            SettlementLineOut(
                kind=line.kind,
                reference=line.reference,
                merchant_reference=line.merchant_reference,
                amount=MoneyOut.of(line.amount),
                settled_at=line.settled_at,
            )
            for line in lines
        ],
    )


@router.post(
    "/sandbox/webhooks/deliver",
    response_model=DeliveredOut,
    summary="Deliver the sandbox webhooks that are due now, without waiting for the dispatcher",
    responses={404: DISABLED},
)
def deliver_webhooks(container: ContainerDep) -> DeliveredOut:
    return DeliveredOut(delivered=sandbox_provider(container).deliver_due())
