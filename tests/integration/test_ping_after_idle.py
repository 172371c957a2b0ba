"""A pooled PostgreSQL connection is pinged before use only after sitting idle, and one the
server closed meanwhile is replaced before the caller sees it (engine.ping_after_idle)."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import Database
from conftest import test_settings as settings_for
from sqlalchemy import Engine, create_engine, text

from marque.adapters.db.engine import make_engine


def engine_for(database: Database, idle_seconds: float) -> Engine:
    if database.name != "postgresql":
        pytest.skip("SQLite has no server to lose a connection to")
    return make_engine(settings_for(database.url, db_ping_idle_seconds=idle_seconds))


def count_pings(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The pings the pool sends from now on (each still runs the dialect's real ping)."""
    seen: list[Any] = []
    real = engine.dialect.do_ping

    def ping(dbapi_connection: Any) -> bool:
        seen.append(dbapi_connection)
        return real(dbapi_connection)

    monkeypatch.setattr(engine.dialect, "do_ping", ping)
    return seen


def backend_pid(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def test_a_connection_used_a_moment_ago_is_not_pinged(
    migrated: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = engine_for(migrated, idle_seconds=3600)
    pings = count_pings(engine, monkeypatch)
    try:
        first = backend_pid(engine)  # a new connection: nothing to ping
        again = [backend_pid(engine) for _ in range(5)]
    finally:
        engine.dispose()
    assert again == [first] * 5
    assert pings == []


def test_a_connection_closed_while_idle_is_replaced_unseen(
    migrated: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = engine_for(migrated, idle_seconds=0)  # every returned connection counts as idle
    pings = count_pings(engine, monkeypatch)
    try:
        victim = backend_pid(engine)
        admin = create_engine(migrated.url)  # its own pool: not the connection it ends
        with admin.begin() as conn:
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": victim})
        admin.dispose()
        # The pool still holds the dead connection: the next checkout pings and replaces it.
        replacement = backend_pid(engine)
    finally:
        engine.dispose()
    assert replacement != victim
    assert pings
