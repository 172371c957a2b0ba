"""The payment provider contract (GUIDE §5): what every provider adapter must do.

The sandbox provider (marque/adapters/payments/sandbox.py) is the default and a faithful
implementation; Alipay, WeChat Pay and Stripe adapters fit behind the same shape:

- ``create_payment`` is idempotent on ``idempotency_key`` (the same key returns the same
  payment) and returns where the buyer pays (a URL and a QR payload);
- results arrive as signed webhooks, at least once, maybe late, twice or out of order;
  ``parse_webhook`` verifies the signature and the timestamp window and returns one
  ``WebhookEvent`` whose ``event_id`` is stable across redeliveries;
- ``refund`` is idempotent on ``idempotency_key``; it may answer PENDING and settle later
  by webhook; a timeout or 5xx raises ``ProviderUnavailable`` and is safe to retry with
  the same key; an answer that is no longer pending says when the provider settled the
  refund (``settled_at``), the time its settlement report dates it by;
- ``settlement_report`` lists what the provider actually moved on one UTC day.

Nothing here is called inside a database transaction on the hot path.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Protocol

from marque.domain.errors import N_, MarqueError, Unavailable
from marque.domain.money import Money


class ProviderPaymentStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class ProviderRefundStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class WebhookEventType(StrEnum):
    PAYMENT_SUCCEEDED = "payment.succeeded"
    PAYMENT_FAILED = "payment.failed"
    REFUND_SUCCEEDED = "refund.succeeded"
    REFUND_FAILED = "refund.failed"


@dataclass(frozen=True)
class ProviderPayment:
    reference: str  # the provider's id for the payment
    merchant_reference: str  # ours: the payment id marque created
    amount: Money
    status: ProviderPaymentStatus
    pay_url: str
    qr_payload: str
    created_at: datetime


@dataclass(frozen=True)
class ProviderRefund:
    reference: str  # the provider's id for the refund
    payment_reference: str
    merchant_reference: str  # ours: the refund id marque created
    amount: Money
    status: ProviderRefundStatus
    failure_reason: str | None = None
    #: When the provider settled the refund (succeeded or failed), on its own clock: the
    #: time its settlement report files a succeeded refund under. None while it is pending,
    #: or when a provider's answer does not say.
    settled_at: datetime | None = None


@dataclass(frozen=True)
class WebhookEvent:
    event_id: str  # stable across redeliveries of the same event
    type: WebhookEventType
    payment_reference: str
    merchant_reference: str  # our payment id (payment events) or refund id (refund events)
    amount: Money
    occurred_at: datetime
    refund_reference: str | None = None
    failure_reason: str | None = None


class SettlementKind(StrEnum):
    PAYMENT = "payment"
    REFUND = "refund"


@dataclass(frozen=True)
class SettlementLine:
    kind: SettlementKind
    reference: str  # provider's payment or refund id
    merchant_reference: str
    amount: Money  # positive for payments, positive for refunds too (kind says direction)
    settled_at: datetime


def utc_day(day: date) -> tuple[datetime, datetime]:
    """``[start, end)`` of one UTC day: what a settlement report of ``day`` covers, and what
    reconciliation takes of our books for it. Both sides use this, so a time exactly at
    midnight belongs to the day it starts, on both."""
    start = datetime.combine(day, time(0), UTC)
    return start, start + timedelta(days=1)


class ProviderUnavailable(Unavailable):
    """The provider timed out or answered 5xx: retry later with the same idempotency key."""

    default_code = "payments.provider_unavailable"
    default_message = N_(
        "The payment provider is not answering. Please try again in {retry_after} seconds."
    )


class WebhookRejected(MarqueError):
    """A webhook whose signature, timestamp or body is not acceptable (answered 400/401)."""

    status = 400
    default_code = "payments.webhook_rejected"
    title = N_("Webhook rejected")
    default_message = N_("The webhook was rejected: {reason}.")
    expose = True


class PaymentProvider(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def in_process(self) -> bool:
        """True when a call never leaves this machine's process and database (the sandbox):
        such a call may run on the server's event loop."""
        ...

    def create_payment(
        self,
        *,
        merchant_reference: str,
        amount: Money,
        description: str,
        idempotency_key: str,
    ) -> ProviderPayment: ...

    def get_payment(self, reference: str) -> ProviderPayment: ...

    def refund(
        self,
        *,
        payment_reference: str,
        merchant_reference: str,
        amount: Money,
        idempotency_key: str,
    ) -> ProviderRefund: ...

    def parse_webhook(
        self, headers: Mapping[str, str], body: bytes, now: datetime
    ) -> WebhookEvent: ...

    def settlement_report(self, day: date) -> list[SettlementLine]: ...
