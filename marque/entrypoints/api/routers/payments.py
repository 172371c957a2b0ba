"""Payment provider webhooks: public, verified by the provider's signature, idempotent.

The body is read raw (the signature covers the exact bytes) and handed to the provider
adapter named in the path. A redelivered event answers as the first delivery did.
"""

from __future__ import annotations

from fastapi import APIRouter, Request

from marque.bootstrap import Container
from marque.entrypoints.api.blocking import run_blocking
from marque.entrypoints.api.routers.auth import problem
from marque.entrypoints.api.routers.order_schemas import WebhookOut
from marque.services import payments

router = APIRouter(tags=["payments"])

MAX_BODY = 64 * 1024


@router.post(
    "/payments/webhooks/{provider}",
    response_model=WebhookOut,
    summary="Receive a payment provider's signed event",
    description=(
        "Public; authenticated by the provider's HMAC-SHA256 signature over timestamp and "
        "body, within the timestamp window. Events may come twice, late or out of order: "
        "a repeated event id answers `duplicate: true` and changes nothing."
    ),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    },
    responses={
        400: problem("`payments.webhook_rejected` (bad or missing signature, stale, malformed)"),
        404: problem("`payments.unknown_provider`, `payments.unknown_payment`"),
        422: problem("`payments.amount_mismatch`: recorded and not applied"),
    },
)
async def receive_webhook(provider: str, request: Request) -> WebhookOut:
    container: Container = request.app.state.container
    body = await request.body()
    headers = {key.lower(): value for key, value in request.headers.items()}
    result = await run_blocking(
        lambda: payments.handle_webhook(container, provider[:32], headers, body[:MAX_BODY]),
    )
    return WebhookOut(outcome=result.outcome, duplicate=result.duplicate)
