"""The records of the money core: an order, its payments and its refunds.

Plain frozen dataclasses: services decide with the transition tables and build the next
version with ``dataclasses.replace``; repositories store them. An order keeps its OWN
snapshot of price and accepted terms (configurations are repriced in place).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final

from marque.domain.catalog.deposit_terms import DepositKind
from marque.domain.deposits import BreachKind
from marque.domain.money import Money
from marque.domain.orders import OrderStatus
from marque.domain.refunds import RefundReason, RefundStatus

_ALPHABET: Final = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def new_id(prefix: str, length: int = 12) -> str:
    """``O-7KQ2M9XD4PZA``: a random id with a one-letter kind prefix."""
    return prefix + "-" + "".join(secrets.choice(_ALPHABET) for _ in range(length))


class PaymentStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    #: The order expired or was cancelled before this payment succeeded.
    ABANDONED = "abandoned"


@dataclass(frozen=True)
class AcceptedTerms:
    code: str
    version: int
    content_hash: str
    accepted_at: datetime


@dataclass(frozen=True)
class Order:
    id: str
    customer_id: str
    locale: str
    model_code: str
    trim_code: str
    configuration_code: str
    price: Money
    deposit_kind: DepositKind
    deposit: Money
    terms: AcceptedTerms
    limited_edition: bool
    status: OrderStatus
    version: int
    created_at: datetime
    updated_at: datetime
    expires_at: datetime | None = None
    paid_at: datetime | None = None
    locked_at: datetime | None = None
    lock_reminder_due_at: datetime | None = None
    lock_reminder_sent_at: datetime | None = None
    auto_lock_at: datetime | None = None
    cancelled_at: datetime | None = None
    queue_number: int | None = None
    breach: BreachKind | None = None
    paid_payment_id: str | None = None
    idempotency_key: str | None = None


@dataclass(frozen=True)
class Payment:
    id: str
    order_id: str
    provider: str
    amount: Money
    status: PaymentStatus
    idempotency_key: str
    created_at: datetime
    updated_at: datetime
    provider_reference: str | None = None
    pay_url: str | None = None
    qr_payload: str | None = None
    failure_reason: str | None = None
    captured_at: datetime | None = None


@dataclass(frozen=True)
class Refund:
    id: str
    order_id: str
    payment_id: str
    amount: Money  # the deposit part, back through the provider
    compensation: Money  # paid on top when the maker breached
    status: RefundStatus
    reason: RefundReason
    idempotency_key: str
    key_generation: int
    attempts: int
    expected_by: datetime
    quote_rule: str
    quoted_at: datetime
    created_at: datetime
    updated_at: datetime
    next_attempt_at: datetime | None = None
    last_error: str | None = None
    provider_reference: str | None = None
    sent_at: datetime | None = None
    succeeded_at: datetime | None = None

    @property
    def total(self) -> Money:
        return self.amount + self.compensation


@dataclass(frozen=True)
class ConfigurationChange:
    order_id: str
    old_code: str
    new_code: str
    old_price: Money
    new_price: Money
    actor: str
    at: datetime


__all__ = [
    "AcceptedTerms",
    "ConfigurationChange",
    "Order",
    "Payment",
    "PaymentStatus",
    "Refund",
    "new_id",
]
