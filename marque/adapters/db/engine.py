"""Engines for SQLite (embedded default) and PostgreSQL (production)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DisconnectionError

from marque.adapters.db.sqlite_gate import GatedConnection
from marque.config import Settings


def make_engine(settings: Settings) -> Engine:
    url = settings.database_url
    if settings.is_sqlite:
        path = settings.sqlite_path()
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30, "factory": GatedConnection},
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        # SQLite's default deferred BEGIN lets two writers both read and then both fail to
        # upgrade to a write lock; BEGIN IMMEDIATE serialises writers up front instead.
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    engine = create_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
    )
    ping_after_idle(engine, settings.db_ping_idle_seconds)
    return engine


def ping_after_idle(engine: Engine, idle_seconds: float) -> None:
    """Ping a pooled connection before use only if it sat idle ``idle_seconds`` or more.

    ``pool_pre_ping`` pings at every checkout: one round trip more per transaction, about
    0.2 ms of CPU on the launch path's ten transactions per paid reservation. A connection
    used a moment ago is alive; one that sat idle may have been closed by the server or a
    proxy, and is replaced before anyone sees an error. If the server restarts while
    connections are busy, their next statement fails once, SQLAlchemy recognises the
    disconnect and recycles the whole pool (docs/operations.md). 0 pings every checkout.
    """
    idle_key = "marque_idle_since"

    def checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info[idle_key] = time.monotonic()

    def checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get(idle_key)
        if since is None or time.monotonic() - since < idle_seconds:
            return  # just connected, or used a moment ago
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:  # any failure: the pool replaces the connection and retries
            raise DisconnectionError("the pooled connection did not answer a ping") from exc

    event.listen(engine.pool, "checkin", checked_in)
    event.listen(engine.pool, "checkout", checked_out)


def _sqlite_begin(conn: Any) -> None:
    if conn.get_execution_options().get("marque_readonly", False):
        conn.exec_driver_sql("BEGIN")
        return
    # Queue on the writers' gate first (adapters/db/sqlite_gate.py): woken the moment the
    # writer ahead commits, instead of SQLite's busy handler sleeping and retrying.
    gate = conn.connection.driver_connection
    if isinstance(gate, GatedConnection):
        gate.enter_write()
    try:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    except BaseException:
        if isinstance(gate, GatedConnection):
            gate.leave_write()
        raise


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


#: Statements that change what the catalogue offers (models, trims, books, terms ...).
CATALOGUE_WRITE = re.compile(
    r"\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+\"?(?:models|trims|option_groups|options"
    r"|option_rules|price_books|price_book_entries|deposit_terms)\b",
    re.IGNORECASE,
)


def watch_catalogue_writes(engine: Engine, on_commit: Callable[[], None]) -> None:
    """Call ``on_commit`` after each commit of a transaction that wrote the catalogue, so
    a per-process cache never serves what this process itself has just changed."""

    def seen(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if CATALOGUE_WRITE.match(statement):
            conn.info["marque_catalogue_written"] = True

    def committed(conn: Any) -> None:
        if conn.info.pop("marque_catalogue_written", False):
            on_commit()

    def rolled_back(conn: Any) -> None:
        conn.info.pop("marque_catalogue_written", None)

    event.listen(engine, "after_cursor_execute", seen)
    event.listen(engine, "commit", committed)
    event.listen(engine, "rollback", rolled_back)
