"""SQLite's writers queue on the writers' gate (adapters/db/sqlite_gate.py): a write
transaction holds the lock file from BEGIN to its end, whether it commits, rolls back or
fails to begin; a read-only one never takes it; and a second writer, in another thread or
process, finds it taken until the first one ends. No timing: the gate's state is
read with a non-blocking flock, as another process would see it."""

from __future__ import annotations

import fcntl
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from marque.adapters.db.engine import make_engine
from marque.adapters.db.sqlite_gate import gate_path
from marque.config import Settings


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    built = make_engine(Settings(database_url=f"sqlite:///{tmp_path / 'gate.db'}"))
    with built.begin() as conn:
        conn.execute(text("CREATE TABLE t (n INTEGER)"))
    yield built
    built.dispose()


def gate_is_taken(engine: Engine) -> bool:
    path = gate_path(str(engine.url.database))
    assert path is not None
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing lets go of a lock this probe took
    return False


def test_a_write_transaction_holds_the_gate_until_it_ends(engine: Engine) -> None:
    assert not gate_is_taken(engine)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO t VALUES (1)"))
        assert gate_is_taken(engine)
    assert not gate_is_taken(engine)  # committed

    with engine.connect() as conn:
        transaction = conn.begin()
        conn.execute(text("INSERT INTO t VALUES (2)"))
        assert gate_is_taken(engine)
        transaction.rollback()
        assert not gate_is_taken(engine)  # rolled back

    with engine.connect().execution_options(marque_readonly=True) as conn:
        conn.execute(text("SELECT count(*) FROM t")).scalar_one()
        assert conn.in_transaction()
        assert not gate_is_taken(engine)  # a reader never queues with the writers
    with engine.connect() as conn:
        assert conn.execute(text("SELECT n FROM t")).scalars().all() == [1]


def test_a_begin_that_fails_lets_go_of_the_gate(engine: Engine) -> None:
    database = str(engine.url.database)
    outsider = sqlite3.connect(database, isolation_level=None)  # a writer without the gate
    outsider.execute("BEGIN IMMEDIATE")
    try:
        with engine.connect() as conn:
            driver = conn.connection.driver_connection
            assert driver is not None
            driver.execute("PRAGMA busy_timeout=0")
            with pytest.raises(OperationalError, match="locked"), conn.begin():
                conn.execute(text("INSERT INTO t VALUES (3)"))
            assert not gate_is_taken(engine)
    finally:
        outsider.rollback()
        outsider.close()
    with engine.begin() as conn:  # and the next writer goes ahead
        conn.execute(text("INSERT INTO t VALUES (4)"))
    assert not gate_is_taken(engine)


def test_writes_go_on_without_the_gate_when_its_file_cannot_be_opened(tmp_path: Path) -> None:
    database = tmp_path / "blocked.db"
    Path(f"{database}-writers").mkdir()  # not a file: opening it fails, even for root
    engine = make_engine(Settings(database_url=f"sqlite:///{database}"))
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (n INTEGER)"))
            conn.execute(text("INSERT INTO t VALUES (1)"))
        with engine.connect() as conn:
            assert conn.execute(text("SELECT n FROM t")).scalars().all() == [1]
    finally:
        engine.dispose()
