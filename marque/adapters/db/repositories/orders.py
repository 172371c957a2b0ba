"""Orders, their status history and configuration history (SQLAlchemy Core). Never commits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, or_, select, update
from sqlalchemy.engine import RowMapping

from marque.adapters.db.repositories.rows import (
    created_before,
    every,
    first,
    status_change_values,
    status_history,
)
from marque.adapters.db.tables.auth import customers
from marque.adapters.db.tables.orders import (
    order_configuration_changes,
    order_status_changes,
    orders,
)
from marque.domain.catalog.deposit_terms import DepositKind
from marque.domain.deposits import BreachKind
from marque.domain.fair_sale import BuyerOrder
from marque.domain.money import Money
from marque.domain.order_entities import AcceptedTerms, ConfigurationChange, Order
from marque.domain.orders import OrderEvent, OrderStatus, StatusChange

#: Time columns the workers look for due orders by.
DUE_COLUMNS = {
    "expires_at": orders.c.expires_at,
    "lock_reminder_due_at": orders.c.lock_reminder_due_at,
    "auto_lock_at": orders.c.auto_lock_at,
}


def order_from_row(row: RowMapping) -> Order:
    return Order(
        id=row["id"],
        customer_id=row["customer_id"],
        locale=row["locale"],
        model_code=row["model_code"],
        trim_code=row["trim_code"],
        configuration_code=row["configuration_code"],
        price=Money(int(row["price_amount"]), row["currency"]),
        deposit_kind=DepositKind(row["deposit_kind"]),
        deposit=Money(int(row["deposit_amount"]), row["deposit_currency"]),
        terms=AcceptedTerms(
            code=row["terms_code"],
            version=row["terms_version"],
            content_hash=row["terms_hash"],
            accepted_at=row["terms_accepted_at"],
        ),
        limited_edition=bool(row["limited_edition"]),
        status=OrderStatus(row["status"]),
        version=row["version"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        expires_at=row["expires_at"],
        paid_at=row["paid_at"],
        locked_at=row["locked_at"],
        lock_reminder_due_at=row["lock_reminder_due_at"],
        lock_reminder_sent_at=row["lock_reminder_sent_at"],
        auto_lock_at=row["auto_lock_at"],
        cancelled_at=row["cancelled_at"],
        queue_number=row["queue_number"],
        breach=BreachKind(row["breach"]) if row["breach"] else None,
        paid_payment_id=row["paid_payment_id"],
        idempotency_key=row["idempotency_key"],
    )


def _mutable_values(order: Order) -> dict[str, Any]:
    """Every column an order's life may change (identity and acceptance never change)."""
    return {
        "configuration_code": order.configuration_code,
        "trim_code": order.trim_code,
        "limited_edition": order.limited_edition,
        "price_amount": order.price.amount,
        "currency": order.price.currency,
        "status": str(order.status),
        "version": order.version,
        "updated_at": order.updated_at,
        "expires_at": order.expires_at,
        "paid_at": order.paid_at,
        "locked_at": order.locked_at,
        "lock_reminder_due_at": order.lock_reminder_due_at,
        "lock_reminder_sent_at": order.lock_reminder_sent_at,
        "auto_lock_at": order.auto_lock_at,
        "cancelled_at": order.cancelled_at,
        "queue_number": order.queue_number,
        "breach": str(order.breach) if order.breach else None,
        "paid_payment_id": order.paid_payment_id,
    }


def _mutable_values_names() -> frozenset[str]:
    """Order fields ``move_from`` may set (their columns share the name)."""
    return frozenset(
        {
            "expires_at",
            "paid_at",
            "locked_at",
            "lock_reminder_due_at",
            "lock_reminder_sent_at",
            "auto_lock_at",
            "cancelled_at",
            "queue_number",
            "paid_payment_id",
        }
    )


#: Built once: a statement built per call with ``.values(...)`` costs more Python than its
#: round trip (0.4 ms for an order's 30 columns, cache key included); executed with a
#: parameter dict, the prebuilt one reuses SQLAlchemy's compiled form at once.
_INSERT_ORDER = insert(orders)
_INSERT_STATUS_CHANGE = insert(order_status_changes)


class SqlOrderRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, order: Order) -> None:
        self.conn.execute(
            _INSERT_ORDER,
            {
                "id": order.id,
                "customer_id": order.customer_id,
                "locale": order.locale,
                "model_code": order.model_code,
                "deposit_kind": str(order.deposit_kind),
                "deposit_amount": order.deposit.amount,
                "deposit_currency": order.deposit.currency,
                "terms_code": order.terms.code,
                "terms_version": order.terms.version,
                "terms_hash": order.terms.content_hash,
                "terms_accepted_at": order.terms.accepted_at,
                "idempotency_key": order.idempotency_key,
                "created_at": order.created_at,
                **_mutable_values(order),
            },
        )

    def get(self, order_id: str) -> Order | None:
        return first(self.conn, select(orders).where(orders.c.id == order_id), order_from_row)

    def by_idempotency_key(self, customer_id: str, key: str) -> Order | None:
        query = select(orders).where(
            orders.c.customer_id == customer_id, orders.c.idempotency_key == key
        )
        return first(self.conn, query, order_from_row)

    def update(self, order: Order, *, expected_version: int) -> bool:
        if order.version != expected_version + 1:
            raise ValueError("an updated order carries the next version")
        result = self.conn.execute(
            update(orders)
            .where(orders.c.id == order.id, orders.c.version == expected_version)
            .values(**_mutable_values(order))
        )
        return bool(result.rowcount == 1)

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
        """Move the order from ``from_status`` to ``to_status`` with ``changes`` (Order field
        names) in one ``UPDATE ... WHERE status = :from RETURNING``, without reading it
        first; None when it is not in ``from_status`` (or not ``customer_id``'s)."""
        values = {name: changes[name] for name in _mutable_values_names() if name in changes}
        unknown = set(changes) - set(values)
        if unknown:
            raise ValueError(f"not changeable order fields: {sorted(unknown)}")
        conditions = [orders.c.id == order_id, orders.c.status == str(from_status)]
        if customer_id is not None:
            conditions.append(orders.c.customer_id == customer_id)
        statement = (
            update(orders)
            .where(*conditions)
            .values(status=str(to_status), version=orders.c.version + 1, updated_at=now, **values)
            .returning(*orders.c)
        )
        return first(self.conn, statement, order_from_row)

    def lock_buyer(self, customer_id: str) -> None:
        """Serialise one buyer's concurrent reservations (fair-sale limits are read, then
        written). PostgreSQL locks the customer row; SQLite's BEGIN IMMEDIATE already
        serialises every writer."""
        if self.conn.dialect.name == "postgresql":
            self.conn.execute(
                select(customers.c.id).where(customers.c.id == customer_id).with_for_update()
            )

    def lock_buyer_orders(
        self, customer_id: str, model_code: str, idempotency_key: str | None
    ) -> tuple[list[BuyerOrder], str | None]:
        """Lock the buyer, then read their orders of ``model_code`` and find the order they
        made with ``idempotency_key`` (its id, or None) in one more statement.

        The read must be a statement of its own after the lock: in READ COMMITTED each
        statement sees what committed before it started, so only a read that starts after
        the lock is granted sees the order a concurrent request of the same buyer has just
        committed (a join in the locking statement would read the old snapshot)."""
        self.lock_buyer(customer_id)
        mine = orders.c.model_code == model_code
        if idempotency_key:
            mine = or_(mine, orders.c.idempotency_key == idempotency_key)
        query = select(
            orders.c.id,
            orders.c.model_code,
            orders.c.trim_code,
            orders.c.status,
            orders.c.idempotency_key,
        ).where(orders.c.customer_id == customer_id, mine)
        found: list[BuyerOrder] = []
        replay = None
        for row in self.conn.execute(query):
            if idempotency_key and row.idempotency_key == idempotency_key:
                replay = row.id
            if row.model_code == model_code:
                found.append(
                    BuyerOrder(row.id, row.model_code, row.trim_code, OrderStatus(row.status))
                )
        return found, replay

    def buyer_orders(self, customer_id: str, model_code: str) -> list[BuyerOrder]:
        query = select(orders.c.id, orders.c.model_code, orders.c.trim_code, orders.c.status).where(
            orders.c.customer_id == customer_id, orders.c.model_code == model_code
        )
        return [
            BuyerOrder(row.id, row.model_code, row.trim_code, OrderStatus(row.status))
            for row in self.conn.execute(query)
        ]

    def for_customer(
        self, customer_id: str, *, after: tuple[datetime, str] | None, limit: int
    ) -> list[Order]:
        query = select(orders).where(orders.c.customer_id == customer_id)
        if after is not None:
            query = query.where(created_before(orders, after))
        query = query.order_by(orders.c.created_at.desc(), orders.c.id.desc()).limit(limit)
        return every(self.conn, query, order_from_row)

    def add_status_change(self, order_id: str, change: StatusChange) -> None:
        self.conn.execute(
            _INSERT_STATUS_CHANGE, {"order_id": order_id, **status_change_values(change)}
        )

    def add_status_changes(self, order_id: str, changes: Sequence[StatusChange]) -> None:
        """Several moves of one order at once (e.g. paid, then locked on payment)."""
        self.conn.execute(
            _INSERT_STATUS_CHANGE,
            [{"order_id": order_id, **status_change_values(change)} for change in changes],
        )

    def status_changes(self, order_id: str) -> list[StatusChange]:
        return status_history(
            self.conn,
            order_status_changes,
            "order_id",
            order_id,
            StatusChange,
            OrderStatus,
            OrderEvent,
        )

    def add_configuration_change(self, change: ConfigurationChange) -> None:
        self.conn.execute(
            insert(order_configuration_changes).values(
                order_id=change.order_id,
                old_code=change.old_code,
                new_code=change.new_code,
                old_price_amount=change.old_price.amount,
                new_price_amount=change.new_price.amount,
                currency=change.new_price.currency,
                actor=change.actor,
                at=change.at,
            )
        )

    def configuration_changes(self, order_id: str) -> list[ConfigurationChange]:
        table = order_configuration_changes
        query = select(table).where(table.c.order_id == order_id).order_by(table.c.id)
        return every(
            self.conn,
            query,
            lambda row: ConfigurationChange(
                order_id=row["order_id"],
                old_code=row["old_code"],
                new_code=row["new_code"],
                old_price=Money(int(row["old_price_amount"]), row["currency"]),
                new_price=Money(int(row["new_price_amount"]), row["currency"]),
                actor=row["actor"],
                at=row["at"],
            ),
        )

    def due(self, status: OrderStatus, column: str, now: datetime, limit: int) -> list[Order]:
        when = DUE_COLUMNS[column]
        query = (
            select(orders)
            .where(orders.c.status == str(status), when.is_not(None), when <= now)
            .order_by(when, orders.c.id)
            .limit(limit)
        )
        return every(self.conn, query, order_from_row)

    def record_breach(self, order_id: str, breach: BreachKind) -> None:
        self.conn.execute(
            update(orders)
            .where(orders.c.id == order_id)
            .values(breach=str(breach), version=orders.c.version + 1)
        )
