"""What the reservation, payment and refund use cases need from storage.

Repositories work on the unit of work's connection and never commit. Updates of an order
or a refund are conditional (``expected_version`` / ``expected_status``) and say whether
they won, so two concurrent requests can never both move the same record.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, Protocol

from marque.domain.deposits import BreachKind
from marque.domain.fair_sale import BuyerOrder
from marque.domain.ledger import Posting
from marque.domain.ledger_invariants import Breach
from marque.domain.money import Money
from marque.domain.order_entities import (
    ConfigurationChange,
    Order,
    Payment,
    PaymentStatus,
    Refund,
)
from marque.domain.order_records import (
    IdempotencyRecord,
    OutboxMessage,
    WebhookOutcome,
    WebhookReceipt,
)
from marque.domain.orders import OrderStatus, StatusChange
from marque.domain.reconciliation import BookLine, ReconciliationRun
from marque.domain.refunds import RefundStatus, RefundStatusChange


class OrderRepository(Protocol):
    def add(self, order: Order) -> None: ...

    def get(self, order_id: str) -> Order | None: ...

    def by_idempotency_key(self, customer_id: str, key: str) -> Order | None: ...

    def update(self, order: Order, *, expected_version: int) -> bool:
        """Store ``order`` (whose version is ``expected_version + 1``) if nobody else has
        changed it since; False (and nothing written) otherwise."""
        ...

    def move_from(
        self,
        order_id: str,
        from_status: OrderStatus,
        to_status: OrderStatus,
        *,
        customer_id: str | None,
        now: datetime,
        **changes: Any,
    ) -> Order | None:
        """Move the order from ``from_status`` to ``to_status`` (version + 1) with ``changes``
        in one conditional statement, without reading it first; None when it is not in
        ``from_status`` or, with ``customer_id``, not that buyer's."""
        ...

    def lock_buyer(self, customer_id: str) -> None:
        """Hold off the same buyer's concurrent reservations until this transaction ends."""
        ...

    def buyer_orders(self, customer_id: str, model_code: str) -> list[BuyerOrder]: ...

    def lock_buyer_orders(
        self, customer_id: str, model_code: str, idempotency_key: str | None
    ) -> tuple[list[BuyerOrder], str | None]:
        """``lock_buyer``, then ``buyer_orders`` and the id of the buyer's order made with
        ``idempotency_key`` (None when there is none) in one read."""
        ...

    def for_customer(
        self, customer_id: str, *, after: tuple[datetime, str] | None, limit: int
    ) -> list[Order]:
        """Newest first; ``after`` is the (created_at, id) of the last order already seen."""
        ...

    def add_status_change(self, order_id: str, change: StatusChange) -> None: ...

    def add_status_changes(self, order_id: str, changes: Sequence[StatusChange]) -> None: ...

    def status_changes(self, order_id: str) -> list[StatusChange]: ...

    def add_configuration_change(self, change: ConfigurationChange) -> None: ...

    def configuration_changes(self, order_id: str) -> list[ConfigurationChange]: ...

    def due(self, status: OrderStatus, column: str, now: datetime, limit: int) -> list[Order]:
        """Orders in ``status`` whose time ``column`` (expires_at, lock_reminder_due_at,
        auto_lock_at) has come, oldest first."""
        ...

    def record_breach(self, order_id: str, breach: BreachKind) -> None: ...


class PaymentRepository(Protocol):
    def add(self, payment: Payment) -> None: ...

    def get(self, payment_id: str) -> Payment | None: ...

    def for_order(self, order_id: str) -> list[Payment]:
        """Oldest first."""
        ...

    def order_and_payments(self, order_id: str) -> tuple[Order, list[Payment]] | None:
        """The order (None if there is none) and its payments as ``for_order`` gives them,
        in one read: the buyer's payment poll."""
        ...

    def set_checkout(
        self,
        payment_id: str,
        *,
        provider_reference: str,
        pay_url: str,
        qr_payload: str,
        now: datetime,
    ) -> None: ...

    def move(
        self,
        payment_id: str,
        *,
        from_statuses: Sequence[PaymentStatus],
        to: PaymentStatus,
        now: datetime,
        captured_at: datetime | None = None,
        failure_reason: str | None = None,
        provider_reference: str | None = None,
    ) -> bool:
        """Move the payment to ``to`` if it is in one of ``from_statuses``; True if moved."""
        ...

    def capture(
        self,
        payment_id: str,
        amount: Money,
        *,
        from_statuses: Sequence[PaymentStatus],
        now: datetime,
        captured_at: datetime,
        provider_reference: str,
    ) -> tuple[Payment, Order] | None:
        """Mark the payment succeeded if it is in ``from_statuses`` and asks for exactly
        ``amount``, without reading it first; the payment as stored and its order as it is
        now (not locked: update it with its version), or None."""
        ...

    def captured_between(self, start: datetime, end: datetime) -> list[Payment]: ...


class RefundRepository(Protocol):
    def add(self, refund: Refund) -> None: ...

    def get(self, refund_id: str) -> Refund | None: ...

    def for_order(self, order_id: str) -> list[Refund]: ...

    def update(
        self, refund: Refund, *, expected_status: RefundStatus, expected_attempts: int
    ) -> bool:
        """Store ``refund`` if the stored one is still in ``expected_status`` after
        ``expected_attempts`` attempts; False otherwise."""
        ...

    def add_status_change(self, refund_id: str, change: RefundStatusChange) -> None: ...

    def status_changes(self, refund_id: str) -> list[RefundStatusChange]: ...

    def due(self, now: datetime, limit: int) -> list[Refund]:
        """Refunds to send now: requested or retrying, their next attempt time reached."""
        ...

    def search(
        self,
        *,
        statuses: Sequence[RefundStatus],
        expected_before: datetime | None,
        after: tuple[datetime, str] | None,
        limit: int,
    ) -> list[Refund]:
        """Newest first, optionally only those promised before ``expected_before``."""
        ...


class LedgerRepository(Protocol):
    def add(self, posting: Posting, *, source_id: str | None, now: datetime) -> bool:
        """Append a posting; False (nothing written) when its reference is already posted."""
        ...

    def for_order(self, order_id: str) -> list[Posting]: ...

    def held(self, order_id: str, currency: str) -> Money:
        """received - refunded - applied - forfeited for the order."""
        ...

    def book_lines(self, start: datetime, end: datetime) -> list[BookLine]:
        """Captured payments and settled refunds posted in [start, end), for reconciliation."""
        ...

    def breaches(self) -> list[Breach]:
        """Every breach of the invariants in domain/ledger_invariants.py."""
        ...


class OutboxRepository(Protocol):
    def add(self, topic: str, payload: dict[str, Any], *, now: datetime) -> None: ...

    def claim(self, now: datetime, *, lease_until: datetime, limit: int) -> list[OutboxMessage]:
        """Due messages, made invisible to other workers until ``lease_until``."""
        ...

    def mark_sent(self, message_ids: Sequence[int], now: datetime) -> None: ...

    def mark_failed(
        self, message_id: int, *, error: str, retry_at: datetime, dead: bool
    ) -> None: ...

    def pending(self, topic: str | None = None) -> list[OutboxMessage]: ...


class IdempotencyRepository(Protocol):
    def claim(self, record: IdempotencyRecord) -> bool:
        """Insert the in-progress record; False when (actor, key) already exists."""
        ...

    def get(self, actor: str, key: str) -> IdempotencyRecord | None: ...

    def complete(
        self, actor: str, key: str, *, status: int, response: Any, now: datetime
    ) -> None: ...

    def release(self, actor: str, key: str) -> None:
        """Forget an unfinished record so the request can be tried again."""
        ...

    def restart(
        self, actor: str, key: str, *, now: datetime, lease_started_before: datetime
    ) -> bool:
        """Take over an unfinished record started before ``lease_started_before``."""
        ...

    def purge(self, older_than: datetime) -> int: ...


class WebhookReceiptRepository(Protocol):
    def record(
        self,
        receipt: WebhookReceipt,
        *,
        payment_reference: str,
        merchant_reference: str,
        amount: Money,
    ) -> bool:
        """Insert the receipt; False when this provider's event id was seen before."""
        ...

    def get(self, provider: str, event_id: str) -> WebhookReceipt | None: ...

    def set_outcome(
        self, provider: str, event_id: str, outcome: WebhookOutcome, detail: str
    ) -> None: ...


class ReconciliationRepository(Protocol):
    def add(self, run: ReconciliationRun) -> int: ...

    def latest(self, day: date | None, limit: int) -> list[ReconciliationRun]: ...
