"""Request and response bodies of the orders, payments and finance APIs (the public contract).

Built from the domain records by ``*.of(...)`` with the caller's Translator, so labels and
the refund-quote message come in the caller's language.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from marque.domain.catalog import DepositKind
from marque.domain.deposits import KIND_LABELS
from marque.domain.money import MINOR_UNITS, Money
from marque.domain.order_entities import (
    ConfigurationChange,
    Order,
    Payment,
    PaymentStatus,
    Refund,
)
from marque.domain.order_records import WebhookOutcome
from marque.domain.orders import (
    STATUS_LABELS,
    OrderEvent,
    OrderStatus,
    StatusChange,
    allowed_events,
)
from marque.domain.refunds import STATUS_LABELS as REFUND_STATUS_LABELS
from marque.domain.refunds import RefundStatus, RefundStatusChange
from marque.entrypoints.api.routers.catalog_schemas import MoneyOut
from marque.entrypoints.api.routers.launch_schemas import QueueOut
from marque.i18n import Translator
from marque.services.order_queries import OrderDetail, OrderSummary, QuoteView

ConfigurationCode = Annotated[
    str, StringConstraints(pattern=r"^CFG-[A-Z2-7]{10}$"), Field(examples=["CFG-ABCDEFGHIJ"])
]

#: What the buyer may ask for next, by order event (pay = pay the deposit).
BUYER_ACTIONS = {
    OrderEvent.PAY: "pay",
    OrderEvent.CHANGE_CONFIGURATION: "change_configuration",
    OrderEvent.LOCK: "lock",
    OrderEvent.CANCEL: "cancel",
}


class MoneyIn(BaseModel):
    amount: int = Field(ge=0, le=10**12, description="Minor units (fen for CNY)")
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] = Field(examples=["CNY"])

    def to_money(self) -> Money | None:
        return Money(self.amount, self.currency) if self.currency in MINOR_UNITS else None


class ReserveIn(BaseModel):
    configuration_code: ConfigurationCode
    terms_code: Annotated[str, StringConstraints(min_length=1, max_length=40)] = Field(
        description="`deposit_terms.code` of the configuration", examples=["lumen-s-intent"]
    )
    terms_version: int = Field(ge=1, le=10_000, examples=[1])
    terms_hash: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")] = Field(
        description="`deposit_terms.content_hash` the buyer was shown", examples=["0" * 64]
    )
    accept_terms: bool = Field(description="Must be true: the buyer accepts these terms")


class ChangeConfigurationIn(BaseModel):
    configuration_code: ConfigurationCode


class LockIn(BaseModel):
    confirm: bool = Field(
        description="Must be true: the buyer saw the warning that after the lock the deposit "
        "follows the after-lock rules of the terms (e.g. becomes non-refundable)"
    )


class CancelIn(BaseModel):
    reason: Annotated[str, StringConstraints(max_length=200)] = ""
    expected_refund: MoneyIn | None = Field(
        None,
        description="The total the buyer was shown; if cancelling now returns less, the "
        "cancel is refused with 409 `order.quote_changed` and nothing changes",
    )


class RefundQuoteOut(BaseModel):
    order_id: str
    amount: MoneyOut = Field(description="The deposit (or part of it) that comes back")
    compensation: MoneyOut = Field(description="Paid on top by the maker when it breached")
    total: MoneyOut
    forfeited: MoneyOut = Field(description="What the buyer loses under the terms")
    rule: str = Field(description="The rule that applies, e.g. full_before_lock")
    message: str = Field(description="Why, in the caller's language")
    quoted_at: datetime
    next_change_at: datetime | None = Field(description="When this answer will next change")
    refund_within_days: int
    refund_by: datetime = Field(description="When the money is back if cancelled now")

    @classmethod
    def of(cls, order_id: str, view: QuoteView, _: Translator) -> RefundQuoteOut:
        quote = view.quote
        return cls(
            order_id=order_id,
            amount=MoneyOut.of(quote.refund),
            compensation=MoneyOut.of(quote.compensation),
            total=MoneyOut.of(quote.total),
            forfeited=MoneyOut.of(quote.forfeited),
            rule=str(quote.rule),
            message=quote.render(_),
            quoted_at=view.quoted_at,
            next_change_at=quote.next_change_at,
            refund_within_days=quote.refund_by_days,
            refund_by=view.refund_by,
        )


class PaymentOut(BaseModel):
    id: str
    order_id: str
    status: PaymentStatus
    provider: str
    provider_reference: str | None
    amount: MoneyOut
    pay_url: str | None = Field(
        description="Where the buyer pays; null while the provider is unreachable (ask again)"
    )
    qr_payload: str | None = Field(description="Text to render as a QR code for paying by phone")
    failure_reason: str | None
    created_at: datetime
    captured_at: datetime | None

    @classmethod
    def of(cls, payment: Payment) -> PaymentOut:
        return cls(
            id=payment.id,
            order_id=payment.order_id,
            status=payment.status,
            provider=payment.provider,
            provider_reference=payment.provider_reference,
            amount=MoneyOut.of(payment.amount),
            pay_url=payment.pay_url,
            qr_payload=payment.qr_payload,
            failure_reason=payment.failure_reason,
            created_at=payment.created_at,
            captured_at=payment.captured_at,
        )


class StatusChangeOut(BaseModel):
    from_status: str | None
    to_status: str
    status_label: str
    event: str
    actor: str
    at: datetime
    reason: str


class RefundOut(BaseModel):
    id: str
    order_id: str
    status: RefundStatus
    status_label: str
    reason: str = Field(description="cancelled, late_payment or duplicate_payment")
    amount: MoneyOut = Field(description="Returned through the payment provider")
    compensation: MoneyOut = Field(description="Paid on top by transfer (maker's breach)")
    total: MoneyOut
    rule: str = Field(description="The refund-quote rule it was created by")
    quoted_at: datetime
    expected_by: datetime = Field(description="The date the terms promise the money back by")
    created_at: datetime
    sent_at: datetime | None
    succeeded_at: datetime | None
    history: list[StatusChangeOut]

    @classmethod
    def of(cls, refund: Refund, history: list[RefundStatusChange], _: Translator) -> RefundOut:
        return cls(
            id=refund.id,
            order_id=refund.order_id,
            status=refund.status,
            status_label=_(REFUND_STATUS_LABELS[refund.status]),
            reason=str(refund.reason),
            amount=MoneyOut.of(refund.amount),
            compensation=MoneyOut.of(refund.compensation),
            total=MoneyOut.of(refund.total),
            rule=refund.quote_rule,
            quoted_at=refund.quoted_at,
            expected_by=refund.expected_by,
            created_at=refund.created_at,
            sent_at=refund.sent_at,
            succeeded_at=refund.succeeded_at,
            history=[
                StatusChangeOut(
                    from_status=str(c.from_status),
                    to_status=str(c.to_status),
                    status_label=_(REFUND_STATUS_LABELS[c.to_status]),
                    event=str(c.event),
                    actor=c.actor,
                    at=c.at,
                    reason=c.reason,
                )
                for c in history
            ],
        )


class DepositOut(BaseModel):
    kind: DepositKind
    kind_label: str
    amount: MoneyOut


class AcceptedTermsOut(BaseModel):
    code: str
    version: int
    content_hash: str
    accepted_at: datetime
    title: str | None = None


class OrderOut(BaseModel):
    id: str
    status: OrderStatus
    status_label: str
    model: str
    trim: str
    configuration_code: str
    limited_edition: bool
    price: MoneyOut = Field(description="The configuration's price as the order holds it")
    deposit: DepositOut
    terms: AcceptedTermsOut
    held: MoneyOut = Field(description="What the maker holds for this order now")
    refund_quote: RefundQuoteOut
    actions: list[str] = Field(
        description="What the buyer may do now: pay, change_configuration, lock, cancel"
    )
    queue_number: int | None
    created_at: datetime
    updated_at: datetime
    expires_at: datetime | None = Field(description="An unpaid reservation expires then")
    paid_at: datetime | None
    locked_at: datetime | None
    auto_lock_at: datetime | None = Field(
        description="When the order locks by itself, if the terms say so"
    )
    lock_reminder_sent_at: datetime | None
    cancelled_at: datetime | None

    @classmethod
    def build(
        cls, order: Order, held: Money, quote: QuoteView, _: Translator, **extra: object
    ) -> OrderOut:
        actions = [BUYER_ACTIONS[e] for e in allowed_events(order.status) if e in BUYER_ACTIONS]
        return cls(
            id=order.id,
            status=order.status,
            status_label=_(STATUS_LABELS[order.status]),
            model=order.model_code,
            trim=order.trim_code,
            configuration_code=order.configuration_code,
            limited_edition=order.limited_edition,
            price=MoneyOut.of(order.price),
            deposit=DepositOut(
                kind=order.deposit_kind,
                kind_label=_(KIND_LABELS[order.deposit_kind]),
                amount=MoneyOut.of(order.deposit),
            ),
            terms=AcceptedTermsOut(
                code=order.terms.code,
                version=order.terms.version,
                content_hash=order.terms.content_hash,
                accepted_at=order.terms.accepted_at,
            ),
            held=MoneyOut.of(held),
            refund_quote=RefundQuoteOut.of(order.id, quote, _),
            actions=actions,
            queue_number=order.queue_number,
            created_at=order.created_at,
            updated_at=order.updated_at,
            expires_at=order.expires_at,
            paid_at=order.paid_at,
            locked_at=order.locked_at,
            auto_lock_at=order.auto_lock_at,
            lock_reminder_sent_at=order.lock_reminder_sent_at,
            cancelled_at=order.cancelled_at,
            **extra,
        )

    @classmethod
    def of(cls, summary: OrderSummary, _: Translator) -> OrderOut:
        return cls.build(summary.order, summary.held, summary.quote, _)


class ConfigurationChangeOut(BaseModel):
    old_code: str
    new_code: str
    old_price: MoneyOut
    new_price: MoneyOut
    actor: str
    at: datetime

    @classmethod
    def of(cls, change: ConfigurationChange) -> ConfigurationChangeOut:
        return cls(
            old_code=change.old_code,
            new_code=change.new_code,
            old_price=MoneyOut.of(change.old_price),
            new_price=MoneyOut.of(change.new_price),
            actor=change.actor,
            at=change.at,
        )


class OrderDetailOut(OrderOut):
    queue: QueueOut | None = Field(
        None,
        description="The order's place in its configuration's queue; null before the deposit "
        "is paid",
    )
    history: list[StatusChangeOut] = Field(description="Every status change: who, when, why")
    configuration_changes: list[ConfigurationChangeOut]
    payment: PaymentOut | None = Field(description="The latest payment")
    payments: list[PaymentOut]
    refunds: list[RefundOut]

    @classmethod
    def of_detail(cls, detail: OrderDetail, _: Translator) -> OrderDetailOut:
        order = detail.order
        created = StatusChangeOut(
            from_status=None,
            to_status="pending_payment",
            status_label=_(STATUS_LABELS[OrderStatus.PENDING_PAYMENT]),
            event="reserve",
            actor=f"customer:{order.customer_id}",
            at=order.created_at,
            reason="reserved",
        )
        out = cls.build(
            order,
            detail.held,
            detail.quote,
            _,
            history=[created] + [_change(c, _) for c in detail.history],
            configuration_changes=[
                ConfigurationChangeOut.of(c) for c in detail.configuration_changes
            ],
            payment=PaymentOut.of(detail.payments[-1]) if detail.payments else None,
            payments=[PaymentOut.of(p) for p in detail.payments],
            refunds=[RefundOut.of(r.refund, r.history, _) for r in detail.refunds],
            queue=QueueOut.of(detail.queue) if detail.queue else None,
        )
        assert isinstance(out, OrderDetailOut)
        out.terms.title = detail.terms.title.pick(_.locale)
        return out


def _change(change: StatusChange, _: Translator) -> StatusChangeOut:
    return StatusChangeOut(
        from_status=str(change.from_status),
        to_status=str(change.to_status),
        status_label=_(STATUS_LABELS[change.to_status]),
        event=str(change.event),
        actor=change.actor,
        at=change.at,
        reason=change.reason,
    )


class OrderListOut(BaseModel):
    items: list[OrderOut] = Field(description="Newest first")
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end"
    )


class CancelOut(BaseModel):
    order: OrderOut
    applied_quote: RefundQuoteOut = Field(
        description="The quote at the moment of cancelling: what is paid"
    )
    refund: RefundOut | None = Field(description="Null when nothing comes back")


class WebhookOut(BaseModel):
    outcome: WebhookOutcome = Field(
        description="applied, ignored (nothing to change) or refunded (money for an order "
        "that no longer wanted it is sent back)"
    )
    duplicate: bool = Field(description="True when this event id was received before")
