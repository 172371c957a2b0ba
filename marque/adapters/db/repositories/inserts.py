"""INSERT ... ON CONFLICT DO NOTHING on SQLite and PostgreSQL alike."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite

from marque.adapters.db.prepared import Prepared, Row, bound


@cache
def _statement(
    dialect: str, table: Table, unique: tuple[str, ...], whole_row: bool, keys: tuple[str, ...]
) -> Prepared:
    """One ``Prepared`` per shape: the inserted columns are fixed in the VALUES (a bind per
    column the caller gives, named ``b_<column>``). Hot on launch night: idempotency
    claims, webhook receipts, ledger postings.

    The dialect is part of the shape because ON CONFLICT is a dialect's own construct:
    PostgreSQL's and SQLite's compile only on their own dialect."""
    if dialect == "postgresql":
        statement: Any = postgresql.insert(table)
    elif dialect == "sqlite":
        statement = sqlite.insert(table)
    else:  # pragma: no cover - marque runs on these two
        raise RuntimeError(f"unsupported database {dialect}")
    returned = table.columns if whole_row else table.primary_key.columns
    return Prepared(
        statement.values(bound(*keys))
        .on_conflict_do_nothing(index_elements=list(unique))
        .returning(*returned)
    )


def _run(
    conn: Connection,
    table: Table,
    values: Mapping[str, Any],
    unique: Sequence[str],
    whole_row: bool,
) -> Row | None:
    prepared = _statement(conn.dialect.name, table, tuple(unique), whole_row, tuple(sorted(values)))
    return prepared.first(conn, {f"b_{key}": value for key, value in values.items()})


def insert_returning_key(
    conn: Connection, table: Table, values: Mapping[str, Any], *, unique: Sequence[str]
) -> Any | None:
    """Insert one row unless one with the same ``unique`` columns exists; the new row's
    (first) primary-key value, or None when the row existed.

    A concurrent insert of the same key waits for the other transaction and then does
    nothing, so exactly one of two racing callers gets a key.
    """
    # RETURNING, not rowcount: with an implicit RETURNING the driver's rowcount is unreliable.
    row = _run(conn, table, values, unique, False)
    return None if row is None else next(iter(row.values()))


def insert_returning_row(
    conn: Connection, table: Table, values: Mapping[str, Any], *, unique: Sequence[str]
) -> Row | None:
    """``insert_returning_key``, giving back the whole new row as a dict keyed by column
    key (None when it existed)."""
    return _run(conn, table, values, unique, True)


def insert_if_absent(
    conn: Connection, table: Table, values: Mapping[str, Any], *, unique: Sequence[str]
) -> bool:
    """``insert_returning_key`` as a yes/no: True if this call inserted the row."""
    return insert_returning_key(conn, table, values, unique=unique) is not None
