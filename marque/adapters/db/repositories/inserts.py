"""INSERT ... ON CONFLICT DO NOTHING on SQLite and PostgreSQL alike."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite


def insert_if_absent(
    conn: Connection, table: Table, values: Mapping[str, Any], *, unique: Sequence[str]
) -> bool:
    """Insert one row unless one with the same ``unique`` columns exists; True if inserted.

    A concurrent insert of the same key waits for the other transaction and then does
    nothing, so exactly one of two racing callers gets True.
    """
    dialect = conn.dialect.name
    if dialect == "postgresql":
        statement: Any = postgresql.insert(table)
    elif dialect == "sqlite":
        statement = sqlite.insert(table)
    else:  # pragma: no cover - marque runs on these two
        raise RuntimeError(f"unsupported database {dialect}")
    statement = (
        statement.values(**values)
        .on_conflict_do_nothing(index_elements=list(unique))
        .returning(*table.primary_key.columns)
    )
    # RETURNING, not rowcount: with an implicit RETURNING the driver's rowcount is unreliable.
    return conn.execute(statement).first() is not None
