"""The benchmark on SQLite, marque's embedded default: the database file, the bench's own
engine on it, and the PRAGMAs it runs with.

Kept apart from bench/server.py (which needs the ``bench`` extra's psutil) so that the unit
tests can import it with the ``test`` extra alone.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, make_url

from marque.adapters.db.engine import make_engine
from marque.config import Settings

FOLDER_PREFIX = "marque-bench-sqlite-"
#: ``PRAGMA synchronous`` answers with a number.
SYNCHRONOUS = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}
PRAGMAS = ("journal_mode", "synchronous", "busy_timeout", "foreign_keys", "page_size")


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def sqlite_url(path: Path) -> str:
    """The URL form of marque's default (``sqlite:///./var/marque.db``) for a file; with an
    absolute path that makes four slashes."""
    return f"sqlite:///{path}"


def sqlite_file(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise ValueError(f"{url} names no SQLite file")
    return Path(database)


def fresh_sqlite() -> str:
    """The URL of a database file in a new, empty temporary folder (``marque migrate``
    creates the file)."""
    folder = Path(tempfile.mkdtemp(prefix=FOLDER_PREFIX))
    return sqlite_url(folder / "marque.db")


def drop_sqlite(url: str) -> None:
    """Delete the folder :func:`fresh_sqlite` made (the database, its WAL, anything beside)."""
    folder = sqlite_file(url).parent
    if not folder.name.startswith(FOLDER_PREFIX):
        raise ValueError(f"{folder} was not made by fresh_sqlite: not deleting it")
    shutil.rmtree(folder, ignore_errors=True)


def marque_sqlite_engine(url: str) -> Engine:
    """An engine exactly as marque makes it (its PRAGMAs on connect, its BEGIN IMMEDIATE)."""
    return make_engine(Settings(database_url=url))


def bench_engine(url: str, pool_size: int = 4) -> Engine:
    """The bench's own connections to the database under test.

    On SQLite: marque's engine (its PRAGMAs: WAL, busy_timeout ...), but every transaction
    begins deferred (marque's ``marque_readonly`` option), so that the bench's reads never
    hold the write lock against the server; its few writes (buyers, sales opening) start
    with the write and wait ``busy_timeout`` for the lock like any writer."""
    if is_sqlite(url):
        return marque_sqlite_engine(url).execution_options(marque_readonly=True)
    return create_engine(url, pool_size=pool_size)


def synchronous_name(value: int) -> str:
    """``PRAGMA synchronous``'s number as the name it is set by (``1`` -> ``NORMAL``)."""
    return SYNCHRONOUS.get(int(value), str(value))


def settings(engine: Engine) -> dict[str, Any]:
    """The SQLite library's version, the file, and the PRAGMAs of one of ``engine``'s
    connections (the bench's engine is marque's, so these are the server's)."""
    with engine.connect() as conn:
        facts: dict[str, Any] = {
            "version": conn.exec_driver_sql("SELECT sqlite_version()").scalar_one(),
            "file": engine.url.database,
        }
        for name in PRAGMAS:
            facts[name] = conn.exec_driver_sql(f"PRAGMA {name}").scalar_one()
        conn.rollback()
    facts["synchronous"] = synchronous_name(int(facts["synchronous"]))
    return facts
