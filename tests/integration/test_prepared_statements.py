"""``Prepared`` statements give what SQLAlchemy's own execution gives, on both engines: the
same rows (UTC datetimes, JSON, booleans converted), inside the caller's transaction, seen by
the engine's statement listeners; and they refuse what they cannot run."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conftest import Database
from sqlalchemy import (
    Column,
    Engine,
    Integer,
    MetaData,
    Table,
    bindparam,
    create_engine,
    delete,
    event,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError, OperationalError

from marque.adapters.db.prepared import Prepared
from marque.adapters.db.tables.orders import outbox

NOW = datetime(2026, 11, 26, 6, 0, 0, 123456, tzinfo=UTC)
#: An outbox row with a given id: a second one with the same id breaks the primary key.
ADD_WITH_ID = Prepared(
    insert(outbox).values(
        id=bindparam("b_id"),
        topic=bindparam("b_topic"),
        payload={},
        created_at=NOW,
        available_at=NOW,
        attempts=0,
        dead=True,
    )
)

BY_TOPIC = Prepared(
    select(outbox).where(outbox.c.topic == bindparam("topic")).order_by(outbox.c.id)
)
ADD = Prepared(
    insert(outbox)
    .values(
        topic=bindparam("b_topic"),
        payload=bindparam("b_payload"),
        created_at=bindparam("b_at"),
        available_at=bindparam("b_at"),
        attempts=0,
        dead=True,  # never the notification relay's to send
    )
    .returning(outbox.c.id, outbox.c.dead, outbox.c.created_at)
)
SEND = Prepared(
    update(outbox)
    .where(outbox.c.topic == bindparam("b_topic"), outbox.c.sent_at.is_(None))
    .values(sent_at=bindparam("b_at"), attempts=outbox.c.attempts + 1)
)
COUNT = Prepared(
    select(func.count().label("n")).select_from(outbox).where(outbox.c.topic == bindparam("t"))
)


@pytest.fixture
def engine(migrated: Database) -> Iterator[Engine]:
    """The session's database; the rows a test adds are gone afterwards (they are in the
    outbox, which other tests' relays read)."""
    built = create_engine(migrated.url)
    yield built
    with built.begin() as conn:
        conn.execute(delete(outbox).where(outbox.c.topic.like("test.prepared.%")))
    built.dispose()


def topic() -> str:
    return f"test.prepared.{secrets.token_hex(4)}"


def test_rows_match_what_sqlalchemy_reads(engine: Engine) -> None:
    name = topic()
    payload = {"order": "O1", "amount": 500000, "nested": {"zh": "定金", "ok": True}}
    with engine.begin() as conn:
        added = ADD.first(conn, {"b_topic": name, "b_payload": payload, "b_at": NOW})
        ADD.first(conn, {"b_topic": name, "b_payload": [1, 2], "b_at": NOW + timedelta(1)})
    assert added is not None
    assert added["dead"] is True
    assert added["created_at"] == NOW
    assert added["created_at"].tzinfo is not None

    with engine.connect() as conn:
        prepared = BY_TOPIC.rows(conn, {"topic": name})
        core = [
            dict(row)
            for row in conn.execute(
                select(outbox).where(outbox.c.topic == name).order_by(outbox.c.id)
            ).mappings()
        ]
    assert prepared == core
    assert [row["payload"] for row in prepared] == [payload, [1, 2]]
    assert prepared[1]["available_at"] == NOW + timedelta(1)


def test_runs_inside_the_callers_transaction(engine: Engine) -> None:
    name = topic()
    with engine.connect() as conn:
        conn.begin()
        ADD.first(conn, {"b_topic": name, "b_payload": {}, "b_at": NOW})
        assert COUNT.scalar(conn, {"t": name}) == 1
        conn.rollback()
    with engine.connect() as conn:
        assert COUNT.scalar(conn, {"t": name}) == 0


def test_a_fresh_connection_begins_a_transaction_as_sqlalchemy_would(engine: Engine) -> None:
    name = topic()
    with engine.connect() as conn:
        ADD.first(conn, {"b_topic": name, "b_payload": {}, "b_at": NOW})
        assert conn.in_transaction()
    with engine.connect() as conn:  # closed without a commit: nothing was kept
        assert COUNT.scalar(conn, {"t": name}) == 0


def test_run_gives_the_row_count_and_mappers_build_values(engine: Engine) -> None:
    name = topic()
    with engine.begin() as conn:
        for _ in range(3):
            ADD.first(conn, {"b_topic": name, "b_payload": {}, "b_at": NOW})
        assert SEND.run(conn, {"b_topic": name, "b_at": NOW}) == 3
        assert SEND.run(conn, {"b_topic": name, "b_at": NOW}) == 0
        attempts = BY_TOPIC.all_as(conn, {"topic": name}, lambda row: row["attempts"])
        first_sent = BY_TOPIC.one_as(conn, {"topic": name}, lambda row: row["sent_at"])
        missing = BY_TOPIC.one_as(conn, {"topic": topic()}, lambda row: row["id"])
    assert attempts == [1, 1, 1]
    assert first_sent == NOW
    assert missing is None


def test_statement_listeners_see_prepared_statements(engine: Engine) -> None:
    seen: list[tuple[str, str]] = []

    def before(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(("before", statement))

    def after(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(("after", statement))

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    with engine.connect() as conn:
        COUNT.scalar(conn, {"t": topic()})
    assert [kind for kind, _ in seen] == ["before", "after"]
    assert seen[0][1].startswith("SELECT count(*)")


def test_driver_errors_are_sqlalchemys_and_a_lost_connection_is_invalidated(
    engine: Engine, migrated: Database
) -> None:
    name = topic()
    with engine.begin() as conn:
        added = ADD.first(conn, {"b_topic": name, "b_payload": {}, "b_at": NOW})
    assert added is not None
    with engine.connect() as conn, pytest.raises(IntegrityError):
        ADD_WITH_ID.run(conn, {"b_id": added["id"], "b_topic": name})
    if migrated.name != "postgresql":
        return
    with engine.connect() as conn:
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        admin = create_engine(migrated.url)
        with admin.begin() as other:
            other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        admin.dispose()
        with pytest.raises(OperationalError) as lost:
            COUNT.scalar(conn, {"t": name})
        assert lost.value.connection_invalidated
    with engine.connect() as conn:  # the pool gives a working connection again
        assert COUNT.scalar(conn, {"t": name}) == 1


def test_a_connection_keeps_one_cursor_and_a_failed_statement_gets_a_fresh_one(
    engine: Engine,
) -> None:
    """Making a cursor per statement cost a tenth of a reservation's Python time."""
    cursors: list[Any] = []
    event.listen(engine, "before_cursor_execute", lambda _c, cursor, *_: cursors.append(cursor))
    name = topic()
    with engine.begin() as conn:
        added = ADD.first(conn, {"b_topic": name, "b_payload": {}, "b_at": NOW})
        assert added is not None
        assert COUNT.scalar(conn, {"t": name}) == 1
    with engine.connect() as conn:
        assert COUNT.scalar(conn, {"t": name}) == 1
        assert len({id(cursor) for cursor in cursors}) == 1, "one cursor, every statement"
        with pytest.raises(IntegrityError):
            ADD_WITH_ID.run(conn, {"b_id": added["id"], "b_topic": name})
        conn.rollback()
        assert COUNT.scalar(conn, {"t": name}) == 1
    assert cursors[-1] is not cursors[0], "the failed statement's cursor is not used again"


def test_python_side_column_defaults_are_refused(engine: Engine) -> None:
    """SQLAlchemy fills such defaults in at execution; a Prepared statement would not."""
    table = Table(
        "prepared_defaults",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("n", Integer, default=0),
    )
    with engine.connect() as conn, pytest.raises(ValueError, match="Python-side defaults"):
        Prepared(insert(table).values(id=bindparam("b_id"))).run(conn, {"b_id": 1})


def test_a_missing_parameter_is_a_key_error_and_in_lists_are_refused(engine: Engine) -> None:
    with engine.connect() as conn:
        with pytest.raises(KeyError):
            BY_TOPIC.rows(conn, {})
        expanding = Prepared(select(outbox.c.id).where(outbox.c.topic.in_(["a", "b"])))
        with pytest.raises(ValueError, match="rendered at execution"):
            expanding.rows(conn)
