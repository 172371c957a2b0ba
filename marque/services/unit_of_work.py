"""The unit-of-work port: one transaction per use case, committed only by the use case.

Repositories never commit. A use case does ``with uow_factory() as uow: ...; uow.commit()``;
leaving the block without ``commit()`` rolls everything back.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Protocol, Self

if TYPE_CHECKING:
    from marque.services.auth_ports import AuthRepository
    from marque.services.catalog_ports import CatalogRepository
    from marque.services.launch_ports import LaunchRepository
    from marque.services.order_ports import (
        IdempotencyRepository,
        LedgerRepository,
        OrderRepository,
        OutboxRepository,
        PaymentRepository,
        ReconciliationRepository,
        RefundRepository,
        WebhookReceiptRepository,
    )


class UnitOfWork(Protocol):
    # Read-only members, so that an adapter's concrete repository types satisfy them.
    @property
    def catalog(self) -> CatalogRepository: ...

    @property
    def auth(self) -> AuthRepository: ...

    # -- the money core (orders, payments, refunds, ledger and their machinery) ----------
    @property
    def orders(self) -> OrderRepository: ...

    @property
    def payments(self) -> PaymentRepository: ...

    @property
    def refunds(self) -> RefundRepository: ...

    @property
    def ledger(self) -> LedgerRepository: ...

    @property
    def reconciliations(self) -> ReconciliationRepository: ...

    @property
    def outbox(self) -> OutboxRepository: ...

    @property
    def idempotency(self) -> IdempotencyRepository: ...

    @property
    def webhooks(self) -> WebhookReceiptRepository: ...

    # -- launch night: limited-edition units, queue numbers, on-sale times ---------------
    @property
    def launch(self) -> LaunchRepository: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def commit(self) -> None: ...

    def end_unchanged(self) -> None:
        """End a transaction that changed nothing: cheaper than a rollback for some drivers."""

    def rollback(self) -> None: ...


#: Builds a fresh unit of work; ``readonly=True`` lets the adapter skip write locks.
UnitOfWorkFactory = Callable[..., UnitOfWork]
