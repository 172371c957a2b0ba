"""INSERT ... ON CONFLICT DO NOTHING on SQLite and PostgreSQL alike."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

from sqlalchemy import Connection, Row, Table
from sqlalchemy.dialects import postgresql, sqlite


@cache
def _statement(dialect: str, table: Table, unique: tuple[str, ...], whole_row: bool) -> Any:
    """Built once per table and key, executed with the row as parameters: building it per
    call with ``.values(...)`` cost more Python than the round trip (hot on launch night:
    idempotency claims, webhook receipts, ledger postings)."""
    if dialect == "postgresql":
        statement: Any = postgresql.insert(table)
    elif dialect == "sqlite":
        statement = sqlite.insert(table)
    else:  # pragma: no cover - marque runs on these two
        raise RuntimeError(f"unsupported database {dialect}")
    returned = table.columns if whole_row else table.primary_key.columns
    return statement.on_conflict_do_nothing(index_elements=list(unique)).returning(*returned)


def insert_returning_key(
    conn: Connection, table: Table, values: Mapping[str, Any], *, unique: Sequence[str]
) -> Any | None:
    """Insert one row unless one with the same ``unique`` columns exists; the new row's
    (first) primary-key value, or None when the row existed.

    A concurrent insert of the same key waits for the other transaction and then does
    nothing, so exactly one of two racing callers gets a key.
    """
    statement = _statement(conn.dialect.name, table, tuple(unique), False)
    # RETURNING, not rowcount: with an implicit RETURNING the driver's rowcount is unreliable.
    row = conn.execute(statement, dict(values)).first()
    return None if row is None else row[0]


def insert_returning_row(
    conn: Connection, table: Table, values: Mapping[str, Any], *, unique: Sequence[str]
) -> Row[Any] | None:
    """``insert_returning_key``, giving back the whole new row (None when it existed)."""
    statement = _statement(conn.dialect.name, table, tuple(unique), True)
    return conn.execute(statement, dict(values)).first()


def insert_if_absent(
    conn: Connection, table: Table, values: Mapping[str, Any], *, unique: Sequence[str]
) -> bool:
    """``insert_returning_key`` as a yes/no: True if this call inserted the row."""
    return insert_returning_key(conn, table, values, unique=unique) is not None
