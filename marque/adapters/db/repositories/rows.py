"""Row mapping that the order and the payment repositories share.

Orders and refunds keep their status history in tables of the same shape (owner id,
``from_status``, ``to_status``, ``event``, ``actor``, ``reason``, ``at``, read back in ``id``
order); orders and refunds page newest first by ``(created_at, id)``; and every repository
turns the first row, or all rows, of a statement into a domain value.

Rows are plain dicts keyed by column key, whether they come from a ``Prepared`` statement or
from a Core statement run through ``first``/``every``, so one mapper serves both.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from enum import StrEnum
from functools import cache
from typing import Any, TypeVar, overload

from sqlalchemy import (
    ColumnElement,
    Connection,
    Executable,
    Table,
    and_,
    bindparam,
    insert,
    or_,
    select,
)
from sqlalchemy.engine import RowMapping

from marque.adapters.db.prepared import Prepared, Row
from marque.domain.orders import StatusChange
from marque.domain.refunds import RefundStatusChange

T = TypeVar("T")
S = TypeVar("S", bound=StrEnum)
E = TypeVar("E", bound=StrEnum)

#: A status-change dataclass built from (from_status, to_status, event, actor, at, reason).
MakeChange = Callable[[S, S, E, str, datetime, str], T]

#: The columns of a status-history row besides its id and its owner's id.
_CHANGE_COLUMNS = ("from_status", "to_status", "event", "actor", "reason", "at")


# A mapper may be typed for dicts (``Row``, ``Mapping[str, Any]``: what ``Prepared`` gives)
# or, as before, for ``RowMapping``; either way it is given a dict.
@overload
def first(conn: Connection, statement: Executable, mapper: Callable[[Row], T]) -> T | None: ...
@overload
def first(
    conn: Connection, statement: Executable, mapper: Callable[[RowMapping], T]
) -> T | None: ...
def first(conn: Connection, statement: Executable, mapper: Callable[[Any], T]) -> T | None:
    """The first row of ``statement`` as a domain value, or None when there is none."""
    row = conn.execute(statement).mappings().first()
    return mapper(dict(row)) if row else None


@overload
def every(conn: Connection, statement: Executable, mapper: Callable[[Row], T]) -> list[T]: ...
@overload
def every(
    conn: Connection, statement: Executable, mapper: Callable[[RowMapping], T]
) -> list[T]: ...
def every(conn: Connection, statement: Executable, mapper: Callable[[Any], T]) -> list[T]:
    return [mapper(dict(row)) for row in conn.execute(statement).mappings()]


def created_before(table: Table, after: tuple[datetime, str]) -> ColumnElement[bool]:
    """Rows after ``after`` in newest-first ``(created_at, id)`` order: the next page."""
    created_at, row_id = after
    return or_(
        table.c.created_at < created_at,
        and_(table.c.created_at == created_at, table.c.id < row_id),
    )


def created_before_bound(table: Table) -> ColumnElement[bool]:
    """``created_before`` for a ``Prepared`` statement: the cursor comes in the parameters
    ``after_created_at`` and ``after_id``."""
    return or_(
        table.c.created_at < bindparam("after_created_at"),
        and_(
            table.c.created_at == bindparam("after_created_at"),
            table.c.id < bindparam("after_id"),
        ),
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


@cache
def status_change_insert(table: Table, owner_column: str, count: int = 1) -> Prepared:
    """One INSERT of ``count`` status-history rows of one owner (a single round trip, as an
    executemany was); its parameters come from ``status_change_params``."""
    rows: list[dict[str, Any]] = [
        {
            owner_column: bindparam(f"b_{owner_column}_{i}"),
            **{name: bindparam(f"b_{name}_{i}") for name in _CHANGE_COLUMNS},
        }
        for i in range(count)
    ]
    return Prepared(insert(table).values(rows))


def status_change_params(
    owner_column: str,
    owner_id: str,
    changes: Sequence[StatusChange | RefundStatusChange],
) -> dict[str, Any]:
    """The parameters of ``status_change_insert(table, owner_column, len(changes))``."""
    params: dict[str, Any] = {}
    for i, change in enumerate(changes):
        params[f"b_{owner_column}_{i}"] = owner_id
        for name, value in status_change_values(change).items():
            params[f"b_{name}_{i}"] = value
    return params


@cache
def _history_query(table: Table, owner_column: str) -> Prepared:
    return Prepared(
        select(table).where(table.c[owner_column] == bindparam("owner_id")).order_by(table.c.id)
    )


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
    return _history_query(table, owner_column).all_as(
        conn,
        {"owner_id": owner_id},
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
    "created_before_bound",
    "every",
    "first",
    "status_change_insert",
    "status_change_params",
    "status_change_values",
    "status_history",
]
