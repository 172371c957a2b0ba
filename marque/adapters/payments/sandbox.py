"""The sandbox payment provider: a faithful ``PaymentProvider`` that moves no money.

It plays the remote side. Its state lives in its own tables (``sandbox_payments``,
``sandbox_refunds``, ``sandbox_webhook_deliveries``) and every call runs in its own short
transaction on the engine, never in the caller's unit of work, exactly as a remote provider
would not share our transaction. Several server processes share one sandbox through the
database.

- ``create_payment`` is idempotent on the key (the same key with another merchant reference
  or amount is a 409 ``payments.idempotency_key_reused``) and answers a pay page URL
  (``/sandbox/pay/{reference}``) that is also the QR payload.
- The buyer (the pay page) or a test (``POST /api/v1/sandbox/payments/{reference}/succeed``
  or ``/fail``) decides the payment with ``complete_payment``; that records the result and
  schedules signed webhooks. Succeeding twice is idempotent; a failed payment may still
  succeed on a later attempt; a succeeded one cannot fail.
- ``refund`` is idempotent on the key, answers PENDING and settles (succeeded or failed)
  at ``settles_at``, announced by a webhook. Refunds that succeed or are still pending can
  never add up to more than was captured.
- ``settlement_report(day)`` lists the payments and refunds that succeeded on that UTC day.

Misbehaviour (duplicate, late, reordered webhooks, failing refunds, outages) is configured in
``Settings`` and applied by ``SandboxBehaviour`` (see sandbox_behaviour.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Final

from sqlalchemy import Connection, Engine, bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from marque.adapters.clock import system_clock
from marque.adapters.db.prepared import Prepared, Row, bound
from marque.adapters.db.repositories.inserts import insert_returning_row
from marque.adapters.db.tables.sandbox_payments import sandbox_payments as payments
from marque.adapters.db.tables.sandbox_payments import sandbox_refunds as refunds
from marque.adapters.payments import sandbox_records as records
from marque.adapters.payments import sandbox_webhooks
from marque.adapters.payments.errors import PaymentErrorCode, PaymentMessage
from marque.adapters.payments.sandbox_behaviour import SandboxBehaviour
from marque.adapters.payments.signing import verify, webhook_secret
from marque.config import Settings
from marque.domain.errors import Conflict
from marque.domain.money import Money
from marque.services.payment_ports import (
    ProviderPayment,
    ProviderPaymentStatus,
    ProviderRefund,
    ProviderRefundStatus,
    ProviderUnavailable,
    SettlementLine,
    WebhookEvent,
    WebhookEventType,
)

NAME: Final = "sandbox"
PAY_PAGE_PATH: Final = "/sandbox/pay/{reference}"
SIMULATED_REFUND_FAILURE: Final = "sandbox: refund refused (MARQUE_SANDBOX_REFUND_FAILURE_RATE)"


_SUCCEED = Prepared(
    update(payments)
    .where(payments.c.reference == bindparam("b_reference"))
    .values(
        **bound("captured_amount", "captured_currency"),
        status=ProviderPaymentStatus.SUCCEEDED.value,
        failure_reason=None,
        succeeded_at=bindparam("b_now"),
        updated_at=bindparam("b_now"),
    )
)
# A pending payment succeeding, in one statement: the usual pay call. A pending payment has
# no refunds and no webhook before this one, so its answer needs no reading back.
_SUCCEED_PENDING = Prepared(
    update(payments)
    .where(
        payments.c.reference == bindparam("b_reference"),
        payments.c.status == ProviderPaymentStatus.PENDING.value,
    )
    .values(
        captured_amount=func.coalesce(
            bindparam("b_captured_amount", type_=payments.c.amount.type), payments.c.amount
        ),
        captured_currency=func.coalesce(
            bindparam("b_captured_currency", type_=payments.c.currency.type),
            payments.c.currency,
        ),
        status=ProviderPaymentStatus.SUCCEEDED.value,
        failure_reason=None,
        succeeded_at=bindparam("b_now"),
        updated_at=bindparam("b_now"),
    )
    .returning(*payments.c)
)
_FAIL = Prepared(
    update(payments)
    .where(payments.c.reference == bindparam("b_reference"))
    .values(
        status=ProviderPaymentStatus.FAILED.value,
        failure_reason=bindparam("b_failure_reason"),
        updated_at=bindparam("b_now"),
    )
)
_REFUNDED_SO_FAR = Prepared(
    select(func.coalesce(func.sum(refunds.c.amount), 0)).where(
        refunds.c.payment_reference == bindparam("reference"),
        refunds.c.outcome == ProviderRefundStatus.SUCCEEDED.value,
    )
)
_ADD_REFUND = Prepared(
    insert(refunds)
    .values(
        bound(
            "reference",
            "payment_reference",
            "merchant_reference",
            "idempotency_key",
            "amount",
            "currency",
            "outcome",
            "failure_reason",
            "created_at",
            "settles_at",
        )
    )
    .inline()
)


@dataclass(frozen=True)
class _Succeeded:
    """A pending payment that has just succeeded: its new row and the webhook it scheduled."""

    row: Row
    scheduled: list[records.WebhookDeliveryView]


class SandboxPaymentProvider:
    """``PaymentProvider`` for demos and tests; the default (``MARQUE_PAYMENT_PROVIDER``)."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        *,
        clock: Callable[[], datetime] = system_clock,
    ) -> None:
        self._engine = engine
        self._settings = settings
        self._clock = clock
        self._key = webhook_secret(settings, NAME)
        self.behaviour = SandboxBehaviour(settings)
        # Prepared statements raise the driver's own exceptions, not SQLAlchemy's wrappers.
        self._duplicate: tuple[type[Exception], ...] = (
            IntegrityError,
            engine.dialect.loaded_dbapi.IntegrityError,
        )

    # -------------------------------------------------------------- what the dispatcher uses

    @property
    def name(self) -> str:
        return NAME

    @property
    def in_process(self) -> bool:
        return True  # its "provider" is tables in marque's own database

    @property
    def engine(self) -> Engine:
        return self._engine

    @property
    def webhook_url(self) -> str:
        return self._settings.sandbox_webhook_url or (
            self._settings.base_url + sandbox_webhooks.WEBHOOK_PATH
        )

    @property
    def webhook_key(self) -> bytes:
        return self._key

    def now(self) -> datetime:
        return self._clock()

    def pay_url(self, reference: str) -> str:
        return self._settings.base_url + PAY_PAGE_PATH.format(reference=reference)

    # -------------------------------------------------------------- the contract

    def create_payment(
        self,
        *,
        merchant_reference: str,
        amount: Money,
        description: str,
        idempotency_key: str,
    ) -> ProviderPayment:
        records.check_text(merchant_reference, "merchant_reference", 64)
        records.check_text(idempotency_key, "idempotency_key", 128)
        records.check_amount(amount)
        lose_answer = self.behaviour.outage()
        now = self._clock()
        try:
            with self._engine.begin() as conn:
                # One statement in the usual case: a new key inserts and returns the row.
                row = insert_returning_row(
                    conn,
                    payments,
                    {
                        "reference": records.new_reference("sbp"),
                        "merchant_reference": merchant_reference,
                        "idempotency_key": idempotency_key,
                        "amount": amount.amount,
                        "currency": amount.currency,
                        "description": (description or merchant_reference)[:200],
                        "status": ProviderPaymentStatus.PENDING.value,
                        "created_at": now,
                        "updated_at": now,
                    },
                    unique=["idempotency_key"],
                )
                if row is None:  # the key was used before: its payment, as it is
                    row = records.payment_by_key(conn, idempotency_key)
        except self._duplicate:  # the same key created at the same moment by another call
            with self._engine.begin() as conn:
                row = records.payment_by_key(conn, idempotency_key)
        if row is None:  # pragma: no cover - the unique key guarantees a row
            raise ProviderUnavailable(retry_after=1)
        if row["merchant_reference"] != merchant_reference or records.requested(row) != amount:
            raise records.key_reused(idempotency_key, "payment")
        if lose_answer:
            raise ProviderUnavailable(retry_after=1)
        return self._payment(row)

    def get_payment(self, reference: str) -> ProviderPayment:
        self._outage_before()
        with records.reading(self._engine) as conn:
            row = records.payment_row(conn, reference)
        if row is None:
            raise records.not_found(reference)
        return self._payment(row)

    def refund(
        self,
        *,
        payment_reference: str,
        merchant_reference: str,
        amount: Money,
        idempotency_key: str,
    ) -> ProviderRefund:
        records.check_text(merchant_reference, "merchant_reference", 64)
        records.check_text(idempotency_key, "idempotency_key", 128)
        records.check_amount(amount)
        lose_answer = self.behaviour.outage()
        now = self._clock()
        try:
            with self._engine.begin() as conn:
                row = records.refund_by_key(conn, idempotency_key)
                created = row is None
                if row is None:
                    reference = self._new_refund(
                        conn, payment_reference, merchant_reference, amount, idempotency_key, now
                    )
                    row = records.refund_row(conn, reference)
                    assert row is not None  # inserted just now, in this transaction
        except self._duplicate:
            created = False
            with self._engine.begin() as conn:
                row = records.refund_by_key(conn, idempotency_key)
            if row is None:  # pragma: no cover - the unique key guarantees a row
                raise ProviderUnavailable(retry_after=1) from None
        if (
            row["payment_reference"] != payment_reference
            or row["merchant_reference"] != merchant_reference
            or Money(row["amount"], row["currency"]) != amount
        ):
            raise records.key_reused(idempotency_key, "refund")
        if lose_answer:
            raise ProviderUnavailable(retry_after=1)
        return records.to_refund(row, now, first_answer=created)

    def parse_webhook(self, headers: Mapping[str, str], body: bytes, now: datetime) -> WebhookEvent:
        verify(
            self._key,
            headers,
            body,
            now,
            tolerance_seconds=self._settings.webhook_tolerance_seconds,
        )
        return sandbox_webhooks.decode_event(body)

    def settlement_report(self, day: date) -> list[SettlementLine]:
        self._outage_before()
        now = self._clock()
        with records.reading(self._engine) as conn:
            return records.settlement_lines(conn, day, now)

    def inspect(self, reference: str) -> records.SandboxPaymentView:
        """The payment with its refunds and webhook deliveries (for the sandbox API and page)."""
        now = self._clock()
        with records.reading(self._engine) as conn:
            return self._view(conn, reference, now)

    def _view(self, conn: Connection, reference: str, now: datetime) -> records.SandboxPaymentView:
        row = records.payment_row(conn, reference)
        if row is None:
            raise records.not_found(reference)
        return self._view_of(
            row,
            records.refund_views(conn, reference, now),
            records.delivery_views(conn, reference),
        )

    def _view_of(
        self,
        row: Row,
        refunds: list[records.SandboxRefundView],
        webhooks: list[records.WebhookDeliveryView],
    ) -> records.SandboxPaymentView:
        return records.SandboxPaymentView(
            payment=self._payment(row),
            requested=records.requested(row),
            description=row["description"],
            failure_reason=row["failure_reason"],
            succeeded_at=row["succeeded_at"],
            refunds=refunds,
            webhooks=webhooks,
        )

    # -------------------------------------------------------------- the buyer's side

    def complete_payment(
        self,
        reference: str,
        *,
        succeeded: bool,
        failure_reason: str | None = None,
        captured: Money | None = None,
    ) -> ProviderPayment:
        """The buyer paid (``succeeded``) or the payment failed; schedules its webhook.

        Repeating the same outcome changes nothing and schedules nothing. ``captured``
        makes the provider take another amount than was asked (sandbox only: to exercise
        mismatch handling).
        """
        now = self._clock()
        with self._engine.begin() as conn:
            done = self._complete(conn, reference, succeeded, failure_reason, captured, now)
            row = done.row if done is not None else records.payment_row(conn, reference)
        assert row is not None
        return self._payment(row)

    def complete_and_inspect(
        self,
        reference: str,
        *,
        succeeded: bool,
        failure_reason: str | None = None,
        captured: Money | None = None,
    ) -> records.SandboxPaymentView:
        """``complete_payment``, answered with the payment's view (``inspect``) read in the
        same transaction: the sandbox API's pay call costs one transaction, not two."""
        now = self._clock()
        with self._engine.begin() as conn:
            done = self._complete(conn, reference, succeeded, failure_reason, captured, now)
            if done is None:
                return self._view(conn, reference, now)
        return self._view_of(done.row, [], done.scheduled)

    def _complete(
        self,
        conn: Connection,
        reference: str,
        succeeded: bool,
        failure_reason: str | None,
        captured: Money | None,
        now: datetime,
    ) -> _Succeeded | None:
        """The payment's outcome; a pending payment that succeeded is answered with its new
        row and its webhook (``_Succeeded``), without reading either back."""
        if succeeded:
            fresh = _SUCCEED_PENDING.first(
                conn,
                {
                    "b_reference": reference,
                    "b_captured_amount": captured.amount if captured else None,
                    "b_captured_currency": captured.currency if captured else None,
                    "b_now": now,
                },
            )
            if fresh is not None:
                kind = WebhookEventType.PAYMENT_SUCCEEDED
                scheduled = self._announce(conn, fresh, kind, records.captured(fresh), now)
                return _Succeeded(fresh, scheduled)
        row = records.payment_row(conn, reference, for_update=True)
        if row is None:
            raise records.not_found(reference)
        status = ProviderPaymentStatus(row["status"])
        if succeeded and status is not ProviderPaymentStatus.SUCCEEDED:
            taken = captured or records.requested(row)
            _SUCCEED.run(
                conn,
                {
                    "b_reference": reference,
                    "b_captured_amount": taken.amount,
                    "b_captured_currency": taken.currency,
                    "b_now": now,
                },
            )
            self._announce(conn, row, WebhookEventType.PAYMENT_SUCCEEDED, taken, now)
        elif not succeeded and status is ProviderPaymentStatus.SUCCEEDED:
            raise Conflict(
                PaymentMessage.PAYMENT_ALREADY_SUCCEEDED,
                code=PaymentErrorCode.PAYMENT_ALREADY_SUCCEEDED,
                reference=reference,
            )
        elif not succeeded and status is ProviderPaymentStatus.PENDING:
            reason = (failure_reason or "declined")[:200]
            _FAIL.run(conn, {"b_reference": reference, "b_failure_reason": reason, "b_now": now})
            self._announce(
                conn, row, WebhookEventType.PAYMENT_FAILED, records.requested(row), now, reason
            )
        return None

    def deliver_due(
        self,
        *,
        now: datetime | None = None,
        post: sandbox_webhooks.Post | None = None,
        payment_reference: str | None = None,
    ) -> int:
        """Deliver the webhooks due now (see ``sandbox_webhooks.deliver_due``)."""
        return sandbox_webhooks.deliver_due(
            self, now=now, post=post, payment_reference=payment_reference
        )

    # -------------------------------------------------------------- rows

    def _outage_before(self) -> None:
        if self.behaviour.outage():  # nothing to lose: read calls fail before answering
            raise ProviderUnavailable(retry_after=1)

    def _payment(self, row: Row) -> ProviderPayment:
        return records.to_payment(row, self.pay_url(row["reference"]))

    def _new_refund(
        self,
        conn: Connection,
        payment_reference: str,
        merchant_reference: str,
        amount: Money,
        key: str,
        now: datetime,
    ) -> str:
        payment = records.payment_row(conn, payment_reference, for_update=True)
        if payment is None:
            raise records.not_found(payment_reference)
        if payment["status"] != ProviderPaymentStatus.SUCCEEDED.value:
            raise Conflict(
                PaymentMessage.PAYMENT_NOT_CAPTURED,
                code=PaymentErrorCode.PAYMENT_NOT_CAPTURED,
                reference=payment_reference,
                status=payment["status"],
            )
        captured = records.captured(payment)
        records.check_amount(amount, captured.currency)
        already = _REFUNDED_SO_FAR.scalar(conn, {"reference": payment_reference})
        remaining = Money(captured.amount - int(already), captured.currency)
        if amount > remaining:
            raise Conflict(
                PaymentMessage.REFUND_EXCEEDS_PAYMENT,
                code=PaymentErrorCode.REFUND_EXCEEDS_PAYMENT,
                amount=amount.format(),
                remaining=remaining.format(),
                reference=payment_reference,
            )
        fails = self.behaviour.refund_fails()
        outcome = ProviderRefundStatus.FAILED if fails else ProviderRefundStatus.SUCCEEDED
        settles_at = now + self.behaviour.refund_delay
        reference = records.new_reference("sbr")
        _ADD_REFUND.run(
            conn,
            {
                "b_reference": reference,
                "b_payment_reference": payment_reference,
                "b_merchant_reference": merchant_reference,
                "b_idempotency_key": key,
                "b_amount": amount.amount,
                "b_currency": amount.currency,
                "b_outcome": outcome.value,
                "b_failure_reason": SIMULATED_REFUND_FAILURE if fails else None,
                "b_created_at": now,
                "b_settles_at": settles_at,
            },
        )
        event = WebhookEvent(
            event_id=records.new_reference("evt"),
            type=WebhookEventType.REFUND_FAILED if fails else WebhookEventType.REFUND_SUCCEEDED,
            payment_reference=payment_reference,
            merchant_reference=merchant_reference,
            amount=amount,
            occurred_at=settles_at,
            refund_reference=reference,
            failure_reason=SIMULATED_REFUND_FAILURE if fails else None,
        )
        sandbox_webhooks.schedule(conn, event, self.behaviour.plan(settles_at), now=now)
        return reference

    def _announce(
        self,
        conn: Connection,
        row: Row,
        kind: WebhookEventType,
        amount: Money,
        now: datetime,
        failure_reason: str | None = None,
    ) -> list[records.WebhookDeliveryView]:
        event = WebhookEvent(
            event_id=records.new_reference("evt"),
            type=kind,
            payment_reference=row["reference"],
            merchant_reference=row["merchant_reference"],
            amount=amount,
            occurred_at=now,
            failure_reason=failure_reason,
        )
        return sandbox_webhooks.schedule(conn, event, self.behaviour.plan(now), now=now)


__all__ = ["NAME", "PAY_PAGE_PATH", "SandboxPaymentProvider"]
