"""The relay's claim reads the next due messages from the partial index of pending ones, in
order, on both engines: no sort of the whole backlog (which made each claim slower the
further the relay fell behind at a launch; migration 0010)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from conftest import Database
from sqlalchemy import Connection, Engine, create_engine

from marque.adapters.db.prepared import Prepared
from marque.adapters.db.repositories import messaging


@pytest.fixture
def engine(seeded: Database) -> Iterator[Engine]:
    built = create_engine(seeded.url)
    yield built
    built.dispose()


def plan(conn: Connection, statement: Prepared) -> str:
    compiled = statement.statement.compile(dialect=conn.dialect)
    values = {**compiled.params, "now": datetime(2030, 1, 1, tzinfo=UTC), "limit": 100}
    if conn.dialect.name == "sqlite":
        positional = tuple(values[name] for name in compiled.positiontup or ())
        rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled.string}", positional)
        return "\n".join(str(row[-1]) for row in rows)
    conn.exec_driver_sql("SET enable_seqscan = off")  # a handful of rows: any plan is cheap
    conn.exec_driver_sql("SET enable_bitmapscan = off")
    rows = conn.exec_driver_sql(f"EXPLAIN {compiled.string}", values)
    return "\n".join(str(row[0]) for row in rows)


def test_the_claim_takes_the_due_messages_from_the_pending_index_in_order(
    engine: Engine,
) -> None:
    postgres = engine.dialect.name == "postgresql"
    claim = messaging._CLAIM_MESSAGES_SKIP_LOCKED if postgres else messaging._CLAIM_MESSAGES
    with engine.connect() as conn:
        found = plan(conn, claim)
        conn.rollback()
    assert "ix_outbox_pending" in found, found
    if postgres:
        assert "Index Scan using ix_outbox_pending" in found, found
        assert "Sort" not in found, found
    else:
        assert "USING INDEX ix_outbox_pending" in found, found
        assert "TEMP B-TREE" not in found, found  # SQLite's sort
