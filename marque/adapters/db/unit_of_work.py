"""SQLAlchemy unit of work: one connection, one transaction, repositories bound to it.

A request may open one *shared* transaction (``shared_transaction``): every unit of work a
use case opens inside it joins that transaction instead of taking its own connection, and its
``commit()`` is left to whoever opened the shared one. That lets the idempotency key, the
use case and the stored answer go to the database in one commit (see
marque/entrypoints/api/idempotent.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
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


def _reads_alone(engine: Engine) -> dict[str, str]:
    """PostgreSQL runs a read-only unit of work's statements each on its own (autocommit):
    in READ COMMITTED each statement sees its own snapshot inside a transaction too, so
    nothing changes but the BEGIN and COMMIT round trips, two of the three of a one-read
    request such as the buyer's payment poll. SQLite keeps its transaction: its BEGIN is
    how a read waits for no writer (engine.py)."""
    return {"isolation_level": "AUTOCOMMIT"} if engine.dialect.name == "postgresql" else {}


class SqlUnitOfWork:
    def __init__(self, engine: Engine, *, readonly: bool = False) -> None:
        self._engine = engine
        self._readonly = readonly
        self._conn: Connection | None = None
        #: The shared unit of work this one joined (None: it owns its transaction).
        self._joined: SqlUnitOfWork | None = None

    @property
    def conn(self) -> Connection:
        if self._conn is None:
            raise RuntimeError("unit of work used outside its `with` block")
        return self._conn

    def __enter__(self) -> Self:
        shared = _shared.get()
        if shared is not None and shared._engine is self._engine:
            self._joined = shared
            self._bind(shared.conn)
            return self
        conn = self._engine.connect()
        if self._readonly:
            conn = conn.execution_options(marque_readonly=True, **_reads_alone(self._engine))
        conn.begin()
        self._bind(conn)
        return self

    def _bind(self, conn: Connection) -> None:
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

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._joined is not None:  # the shared transaction's owner ends it
            self._joined = None
            self._conn = None
            return
        conn = self.conn
        try:
            if conn.in_transaction():
                if self._readonly and exc_type is None:
                    conn.commit()  # nothing written: see end_unchanged()
                else:
                    conn.rollback()
        finally:
            conn.close()
            self._conn = None

    def commit(self) -> None:
        if self._joined is None:
            self.conn.commit()

    def end_unchanged(self) -> None:
        """End a transaction that changed nothing (a duplicate found, say) with COMMIT.

        The same as a rollback for the data, but psycopg forgets every server-side prepared
        statement of the connection at each ROLLBACK (in case it undid DDL they depend on),
        and the hot statements would then be parsed and planned again and again. Read-only
        units of work end this way by themselves."""
        self.commit()

    def rollback(self) -> None:
        if self._joined is not None:
            raise RuntimeError("a unit of work inside a shared transaction cannot roll it back")
        self.conn.rollback()


_shared: ContextVar[SqlUnitOfWork | None] = ContextVar("marque_shared_uow", default=None)


@contextmanager
def shared_transaction(engine: Engine) -> Iterator[SqlUnitOfWork]:
    """One transaction for everything the caller and the use cases it calls do on ``engine``
    until the block ends: committed only by ``commit()`` on the yielded unit of work, rolled
    back otherwise. Nested calls are refused: a request has one shared transaction."""
    if _shared.get() is not None:
        raise RuntimeError("a shared transaction is already open in this context")
    with SqlUnitOfWork(engine) as uow:
        token = _shared.set(uow)
        try:
            yield uow
        finally:
            _shared.reset(token)
