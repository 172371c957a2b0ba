"""SQLAlchemy unit of work: one connection, one transaction, repositories bound to it."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy import Connection, Engine

from marque.adapters.db.repositories.auth import SqlAuthRepository
from marque.adapters.db.repositories.catalog import SqlCatalogRepository
from marque.adapters.db.repositories.launch import SqlLaunchRepository
from marque.adapters.db.repositories.ledger import SqlLedgerRepository, SqlReconciliationRepository
from marque.adapters.db.repositories.messaging import (
    SqlIdempotencyRepository,
    SqlOutboxRepository,
    SqlWebhookReceiptRepository,
)
from marque.adapters.db.repositories.orders import SqlOrderRepository
from marque.adapters.db.repositories.payments import SqlPaymentRepository, SqlRefundRepository


class SqlUnitOfWork:
    def __init__(self, engine: Engine, *, readonly: bool = False) -> None:
        self._engine = engine
        self._readonly = readonly
        self._conn: Connection | None = None

    @property
    def conn(self) -> Connection:
        if self._conn is None:
            raise RuntimeError("unit of work used outside its `with` block")
        return self._conn

    def __enter__(self) -> Self:
        conn = self._engine.connect()
        if self._readonly:
            conn = conn.execution_options(marque_readonly=True)
        conn.begin()
        self._conn = conn
        self.catalog = SqlCatalogRepository(conn)
        self.auth = SqlAuthRepository(conn)
        self.orders = SqlOrderRepository(conn)
        self.payments = SqlPaymentRepository(conn)
        self.refunds = SqlRefundRepository(conn)
        self.ledger = SqlLedgerRepository(conn)
        self.reconciliations = SqlReconciliationRepository(conn)
        self.outbox = SqlOutboxRepository(conn)
        self.idempotency = SqlIdempotencyRepository(conn)
        self.webhooks = SqlWebhookReceiptRepository(conn)
        self.launch = SqlLaunchRepository(conn)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        conn = self.conn
        try:
            if conn.in_transaction():
                conn.rollback()
        finally:
            conn.close()
            self._conn = None

    def commit(self) -> None:
        self.conn.commit()

    def rollback(self) -> None:
        self.conn.rollback()
