"""The provider's side of a payment webhook, played by the driver.

The sandbox's own dispatcher is one thread per server process that delivers due webhooks
one after another; a real provider pushes them from a fleet, at once. With
``--webhooks driver`` the bench does that: when the sandbox answers that a payment
succeeded, the driver builds that event (the sandbox's event id, so a redelivery is the
same event), signs it with the sandbox's webhook key exactly as the sandbox does, and POSTs
it at once; the server's dispatcher is held back for the run.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

from marque.adapters.payments.sandbox_webhooks import WEBHOOK_PATH, encode_event
from marque.adapters.payments.signing import SIGNATURE_HEADER, signature_header, webhook_secret
from marque.config import Settings
from marque.domain.money import Money
from marque.services.payment_ports import WebhookEvent, WebhookEventType

#: Holds the in-server dispatcher back while the driver delivers (it would send again later).
HOLD_DISPATCHER: Final = {"MARQUE_SANDBOX_WEBHOOK_DELAY_SECONDS": "86400"}

__all__ = ["HOLD_DISPATCHER", "WEBHOOK_PATH", "WebhookSigner"]


class WebhookSigner:
    def __init__(self, settings: Settings) -> None:
        self.key = webhook_secret(settings, "sandbox")

    def sign(self, payment: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
        """Body and headers of the ``payment.succeeded`` event of a sandbox payment as the
        sandbox API returned it (``POST /api/v1/sandbox/payments/{reference}/succeed``)."""
        event_id = next(
            hook["event_id"]
            for hook in payment["webhooks"]
            if hook["type"] == str(WebhookEventType.PAYMENT_SUCCEEDED)
        )
        captured = payment["captured_amount"] or payment["amount"]
        event = WebhookEvent(
            event_id=event_id,
            type=WebhookEventType.PAYMENT_SUCCEEDED,
            payment_reference=payment["reference"],
            merchant_reference=payment["merchant_reference"],
            amount=Money(int(captured["amount"]), str(captured["currency"])),
            occurred_at=datetime.fromisoformat(payment["succeeded_at"]),
        )
        body = encode_event(event)
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: signature_header(self.key, body, datetime.now(UTC)),
        }
        return body, headers
