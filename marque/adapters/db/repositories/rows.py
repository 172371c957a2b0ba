"""Row mapping that the order and the payment repositories share.

Orders and refunds keep their status history in tables of the same shape (owner id,
``from_status``, ``to_status``, ``event``, ``actor``, ``reason``, ``at``, read back in ``id``
order); orders and refunds page newest first by ``(created_at, id)``; and every repository
turns the first row, or all rows, of a statement into a domain value.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Connection, Executable, Table, and_, or_, select
from sqlalchemy.engine import RowMapping

from marque.domain.orders import StatusChange
from marque.domain.refunds import RefundStatusChange

T = TypeVar("T")
S = TypeVar("S", bound=StrEnum)
E = TypeVar("E", bound=StrEnum)

#: A status-change dataclass built from (from_status, to_status, event, actor, at, reason).
MakeChange = Callable[[S, S, E, str, datetime, str], T]


def first(conn: Connection, statement: Executable, mapper: Callable[[RowMapping], T]) -> T | None:
    """The first row of ``statement`` as a domain value, or None when there is none."""
    row = conn.execute(statement).mappings().first()
    return mapper(row) if row else None


def every(conn: Connection, statement: Executable, mapper: Callable[[RowMapping], T]) -> list[T]:
    return [mapper(row) for row in conn.execute(statement).mappings()]


def created_before(table: Table, after: tuple[datetime, str]) -> ColumnElement[bool]:
    """Rows after ``after`` in newest-first ``(created_at, id)`` order: the next page."""
    created_at, row_id = after
    return or_(
        table.c.created_at < created_at,
        and_(table.c.created_at == created_at, table.c.id < row_id),
    )


def status_change_values(change: StatusChange | RefundStatusChange) -> dict[str, Any]:
    """The columns of one status-history row, without its owner's id."""
    return {
        "from_status": str(change.from_status),
        "to_status": str(change.to_status),
        "event": str(change.event),
        "actor": change.actor,
        "reason": change.reason[:500],
        "at": change.at,
    }


def status_history(
    conn: Connection,
    table: Table,
    owner_column: str,
    owner_id: str,
    make: MakeChange[S, E, T],
    status: type[S],
    event: type[E],
) -> list[T]:
    """An owner's status changes, oldest first."""
    query = select(table).where(table.c[owner_column] == owner_id).order_by(table.c.id)
    return every(
        conn,
        query,
        lambda row: make(
            status(row["from_status"]),
            status(row["to_status"]),
            event(row["event"]),
            row["actor"],
            row["at"],
            row["reason"],
        ),
    )


__all__ = [
    "created_before",
    "every",
    "first",
    "status_change_values",
    "status_history",
]
