"""Request and response bodies of the sandbox payment API (never the provider's tables)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

from marque.entrypoints.api.routers.catalog_schemas import MoneyOut
from marque.services.payment_ports import (
    ProviderPaymentStatus,
    ProviderRefundStatus,
    SettlementKind,
)


class MoneyIn(BaseModel):
    amount: int = Field(gt=0, description="Minor units (fen for CNY)", examples=[500000])
    currency: Literal["CNY", "EUR", "USD", "HKD"] = Field(description="ISO 4217 code")


class SucceedIn(BaseModel):
    captured_amount: MoneyIn | None = Field(
        None,
        description="Report this amount as captured instead of the one asked for (sandbox only)",
    )


class FailIn(BaseModel):
    reason: str | None = Field(
        None,
        max_length=200,
        description="Why it failed, as the bank would say",
        examples=["declined"],
    )


class RefundOut(BaseModel):
    reference: str = Field(description="The provider's refund reference (sbr_…)")
    merchant_reference: str = Field(description="marque's refund id")
    amount: MoneyOut
    status: ProviderRefundStatus
    failure_reason: str | None
    created_at: datetime
    settles_at: datetime = Field(description="When it stops being pending and its webhook is due")


class WebhookDeliveryOut(BaseModel):
    event_id: str = Field(description="Stable across duplicate deliveries of one event")
    type: str = Field(examples=["payment.succeeded"])
    refund_reference: str | None
    due_at: datetime = Field(description="When the next attempt is due (or was last claimed)")
    attempts: int
    last_status: int | None = Field(description="HTTP status of the last attempt")
    delivered_at: datetime | None
    gave_up_at: datetime | None


class SandboxPaymentOut(BaseModel):
    reference: str = Field(description="The provider's payment reference (sbp_…)")
    merchant_reference: str = Field(description="marque's payment id")
    status: ProviderPaymentStatus
    amount: MoneyOut = Field(description="The amount asked for")
    captured_amount: MoneyOut | None = Field(description="What was taken, once it succeeded")
    description: str
    failure_reason: str | None
    pay_url: str = Field(description="The sandbox pay page")
    qr_payload: str = Field(description="What the QR code on the pay page encodes")
    created_at: datetime
    succeeded_at: datetime | None
    refunds: list[RefundOut]
    webhooks: list[WebhookDeliveryOut] = Field(description="Every delivery row, oldest first")


class SettlementLineOut(BaseModel):
    kind: SettlementKind
    reference: str
    merchant_reference: str
    amount: MoneyOut = Field(
        description="Positive for payments and refunds alike; kind says which way"
    )
    settled_at: datetime


class SettlementOut(BaseModel):
    date: date
    items: list[SettlementLineOut] = Field(description="Oldest first")


class DeliveredOut(BaseModel):
    delivered: int = Field(description="Webhooks the receiver accepted (2xx) in this round")
