"""Orders, their status history and configuration history (SQLAlchemy Core). Never commits.

Every statement is a ``Prepared`` one, built at import (or once per shape, memoised): the
reads by id, the keyed writes and the buyer's lock run on every reservation, payment and
lock of launch night, where building and executing a Core statement per call cost more
Python than the round trip.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Connection, Integer, bindparam, insert, or_, select, update

from marque.adapters.db.prepared import Prepared, Row, bound
from marque.adapters.db.repositories.rows import (
    created_before_bound,
    status_change_insert,
    status_change_params,
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


def order_from_row(row: Mapping[str, Any]) -> Order:
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


def _buyer_order(row: Row) -> BuyerOrder:
    return BuyerOrder(row["id"], row["model_code"], row["trim_code"], OrderStatus(row["status"]))


#: Columns set once, when the order is made.
_IDENTITY_COLUMNS = (
    "id",
    "customer_id",
    "locale",
    "model_code",
    "deposit_kind",
    "deposit_amount",
    "deposit_currency",
    "terms_code",
    "terms_version",
    "terms_hash",
    "terms_accepted_at",
    "idempotency_key",
    "created_at",
)
#: Order fields ``move_from`` may set besides the status (their columns share the name).
_MOVABLE = (
    "expires_at",
    "paid_at",
    "locked_at",
    "lock_reminder_due_at",
    "lock_reminder_sent_at",
    "auto_lock_at",
    "cancelled_at",
    "queue_number",
    "paid_payment_id",
)
#: Every column an order's life may change (identity and acceptance never change).
_MUTABLE_COLUMNS = (
    "configuration_code",
    "trim_code",
    "limited_edition",
    "price_amount",
    "currency",
    "status",
    "version",
    "updated_at",
    "breach",
    *_MOVABLE,
)


def _mutable_params(order: Order) -> dict[str, Any]:
    """The ``b_<column>`` parameters of ``_MUTABLE_COLUMNS``."""
    return {
        "b_configuration_code": order.configuration_code,
        "b_trim_code": order.trim_code,
        "b_limited_edition": order.limited_edition,
        "b_price_amount": order.price.amount,
        "b_currency": order.price.currency,
        "b_status": str(order.status),
        "b_version": order.version,
        "b_updated_at": order.updated_at,
        "b_expires_at": order.expires_at,
        "b_paid_at": order.paid_at,
        "b_locked_at": order.locked_at,
        "b_lock_reminder_due_at": order.lock_reminder_due_at,
        "b_lock_reminder_sent_at": order.lock_reminder_sent_at,
        "b_auto_lock_at": order.auto_lock_at,
        "b_cancelled_at": order.cancelled_at,
        "b_queue_number": order.queue_number,
        "b_breach": str(order.breach) if order.breach else None,
        "b_paid_payment_id": order.paid_payment_id,
    }


_ORDER_BY_ID = Prepared(select(orders).where(orders.c.id == bindparam("id")))
_ORDER_BY_KEY = Prepared(
    select(orders).where(
        orders.c.customer_id == bindparam("customer_id"),
        orders.c.idempotency_key == bindparam("key"),
    )
)
_INSERT_ORDER = Prepared(insert(orders).values(bound(*_IDENTITY_COLUMNS, *_MUTABLE_COLUMNS)))
_UPDATE_ORDER = Prepared(
    update(orders)
    .where(orders.c.id == bindparam("b_id"), orders.c.version == bindparam("b_expected_version"))
    .values(bound(*_MUTABLE_COLUMNS))
)
_RECORD_BREACH = Prepared(
    update(orders)
    .where(orders.c.id == bindparam("b_id"))
    .values(breach=bindparam("b_breach"), version=orders.c.version + 1)
)


@cache
def _move(changes: tuple[str, ...], of_customer: bool) -> Prepared:
    """``move_from``'s UPDATE for one set of changed fields, with or without the owner check."""
    conditions = [orders.c.id == bindparam("b_id"), orders.c.status == bindparam("b_from")]
    if of_customer:
        conditions.append(orders.c.customer_id == bindparam("b_customer_id"))
    return Prepared(
        update(orders)
        .where(*conditions)
        .values(**bound("status", "updated_at", *changes), version=orders.c.version + 1)
        .returning(*orders.c)
    )


#: PostgreSQL only: SQLite has no row locks (its BEGIN IMMEDIATE serialises writers).
_LOCK_BUYER = Prepared(
    select(customers.c.id).where(customers.c.id == bindparam("customer_id")).with_for_update()
)
_BUYER_ORDER_COLUMNS = (orders.c.id, orders.c.model_code, orders.c.trim_code, orders.c.status)
_BUYER_ORDERS = Prepared(
    select(*_BUYER_ORDER_COLUMNS).where(
        orders.c.customer_id == bindparam("customer_id"),
        orders.c.model_code == bindparam("model_code"),
    )
)
#: The buyer's orders of a model, and (second shape) the one made with an idempotency key.
_LOCKED_BUYER_ORDERS = Prepared(
    select(*_BUYER_ORDER_COLUMNS, orders.c.idempotency_key).where(
        orders.c.customer_id == bindparam("customer_id"),
        orders.c.model_code == bindparam("model_code"),
    )
)
_LOCKED_BUYER_ORDERS_OR_KEY = Prepared(
    select(*_BUYER_ORDER_COLUMNS, orders.c.idempotency_key).where(
        orders.c.customer_id == bindparam("customer_id"),
        or_(
            orders.c.model_code == bindparam("model_code"),
            orders.c.idempotency_key == bindparam("key"),
        ),
    )
)
_LIMIT = bindparam("limit", type_=Integer)
_NEWEST_FIRST = (orders.c.created_at.desc(), orders.c.id.desc())
_FOR_CUSTOMER = Prepared(
    select(orders)
    .where(orders.c.customer_id == bindparam("customer_id"))
    .order_by(*_NEWEST_FIRST)
    .limit(_LIMIT)
)
_FOR_CUSTOMER_AFTER = Prepared(
    select(orders)
    .where(orders.c.customer_id == bindparam("customer_id"), created_before_bound(orders))
    .order_by(*_NEWEST_FIRST)
    .limit(_LIMIT)
)
#: One statement per time column (``due``'s choice of column is its shape).
_DUE = {
    name: Prepared(
        select(orders)
        .where(orders.c.status == bindparam("status"), when.is_not(None), when <= bindparam("now"))
        .order_by(when, orders.c.id)
        .limit(_LIMIT)
    )
    for name, when in DUE_COLUMNS.items()
}
_INSERT_CONFIGURATION_CHANGE = Prepared(
    insert(order_configuration_changes).values(
        bound(
            "order_id",
            "old_code",
            "new_code",
            "old_price_amount",
            "new_price_amount",
            "currency",
            "actor",
            "at",
        )
    )
)
_CONFIGURATION_CHANGES = Prepared(
    select(order_configuration_changes)
    .where(order_configuration_changes.c.order_id == bindparam("order_id"))
    .order_by(order_configuration_changes.c.id)
)


def _configuration_change(row: Row) -> ConfigurationChange:
    return ConfigurationChange(
        order_id=row["order_id"],
        old_code=row["old_code"],
        new_code=row["new_code"],
        old_price=Money(int(row["old_price_amount"]), row["currency"]),
        new_price=Money(int(row["new_price_amount"]), row["currency"]),
        actor=row["actor"],
        at=row["at"],
    )


class SqlOrderRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, order: Order) -> None:
        _INSERT_ORDER.run(
            self.conn,
            {
                "b_id": order.id,
                "b_customer_id": order.customer_id,
                "b_locale": order.locale,
                "b_model_code": order.model_code,
                "b_deposit_kind": str(order.deposit_kind),
                "b_deposit_amount": order.deposit.amount,
                "b_deposit_currency": order.deposit.currency,
                "b_terms_code": order.terms.code,
                "b_terms_version": order.terms.version,
                "b_terms_hash": order.terms.content_hash,
                "b_terms_accepted_at": order.terms.accepted_at,
                "b_idempotency_key": order.idempotency_key,
                "b_created_at": order.created_at,
                **_mutable_params(order),
            },
        )

    def get(self, order_id: str) -> Order | None:
        return _ORDER_BY_ID.one_as(self.conn, {"id": order_id}, order_from_row)

    def by_idempotency_key(self, customer_id: str, key: str) -> Order | None:
        return _ORDER_BY_KEY.one_as(
            self.conn, {"customer_id": customer_id, "key": key}, order_from_row
        )

    def update(self, order: Order, *, expected_version: int) -> bool:
        if order.version != expected_version + 1:
            raise ValueError("an updated order carries the next version")
        touched = _UPDATE_ORDER.run(
            self.conn,
            {"b_id": order.id, "b_expected_version": expected_version, **_mutable_params(order)},
        )
        return touched == 1

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
        unknown = set(changes).difference(_MOVABLE)
        if unknown:
            raise ValueError(f"not changeable order fields: {sorted(unknown)}")
        params = {f"b_{name}": value for name, value in changes.items()}
        params.update(
            b_id=order_id,
            b_from=str(from_status),
            b_status=str(to_status),
            b_updated_at=now,
            b_customer_id=customer_id,
        )
        statement = _move(tuple(sorted(changes)), customer_id is not None)
        return statement.one_as(self.conn, params, order_from_row)

    def lock_buyer(self, customer_id: str) -> None:
        """Serialise one buyer's concurrent reservations (fair-sale limits are read, then
        written). PostgreSQL locks the customer row; SQLite's BEGIN IMMEDIATE already
        serialises every writer."""
        if self.conn.dialect.name == "postgresql":
            _LOCK_BUYER.rows(self.conn, {"customer_id": customer_id})

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
        params = {"customer_id": customer_id, "model_code": model_code, "key": idempotency_key}
        query = _LOCKED_BUYER_ORDERS_OR_KEY if idempotency_key else _LOCKED_BUYER_ORDERS
        found: list[BuyerOrder] = []
        replay = None
        for row in query.rows(self.conn, params):
            if idempotency_key and row["idempotency_key"] == idempotency_key:
                replay = row["id"]
            if row["model_code"] == model_code:
                found.append(_buyer_order(row))
        return found, replay

    def buyer_orders(self, customer_id: str, model_code: str) -> list[BuyerOrder]:
        return _BUYER_ORDERS.all_as(
            self.conn, {"customer_id": customer_id, "model_code": model_code}, _buyer_order
        )

    def for_customer(
        self, customer_id: str, *, after: tuple[datetime, str] | None, limit: int
    ) -> list[Order]:
        if after is None:
            params = {"customer_id": customer_id, "limit": limit}
            return _FOR_CUSTOMER.all_as(self.conn, params, order_from_row)
        params = {
            "customer_id": customer_id,
            "after_created_at": after[0],
            "after_id": after[1],
            "limit": limit,
        }
        return _FOR_CUSTOMER_AFTER.all_as(self.conn, params, order_from_row)

    def add_status_change(self, order_id: str, change: StatusChange) -> None:
        self.add_status_changes(order_id, (change,))

    def add_status_changes(self, order_id: str, changes: Sequence[StatusChange]) -> None:
        """Several moves of one order at once (e.g. paid, then locked on payment), in one
        statement."""
        if not changes:
            return
        statement = status_change_insert(order_status_changes, "order_id", len(changes))
        statement.run(self.conn, status_change_params("order_id", order_id, changes))

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
        _INSERT_CONFIGURATION_CHANGE.run(
            self.conn,
            {
                "b_order_id": change.order_id,
                "b_old_code": change.old_code,
                "b_new_code": change.new_code,
                "b_old_price_amount": change.old_price.amount,
                "b_new_price_amount": change.new_price.amount,
                "b_currency": change.new_price.currency,
                "b_actor": change.actor,
                "b_at": change.at,
            },
        )

    def configuration_changes(self, order_id: str) -> list[ConfigurationChange]:
        return _CONFIGURATION_CHANGES.all_as(
            self.conn, {"order_id": order_id}, _configuration_change
        )

    def due(self, status: OrderStatus, column: str, now: datetime, limit: int) -> list[Order]:
        params = {"status": str(status), "now": now, "limit": limit}
        return _DUE[column].all_as(self.conn, params, order_from_row)

    def record_breach(self, order_id: str, breach: BreachKind) -> None:
        _RECORD_BREACH.run(self.conn, {"b_id": order_id, "b_breach": str(breach)})
