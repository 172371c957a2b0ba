"""The machine's durable-commit ceiling: how many one-row INSERT transactions per second
PostgreSQL commits here, with the server's own ``synchronous_commit`` (on, by default).

``pgbench`` (PostgreSQL's client package; Debian keeps it in /usr/lib/postgresql/*/bin)
runs a one-statement script from several clients; without pgbench an equivalent loop of
threads, each committing one INSERT at a time over psycopg, measures the same thing. Our
rate divided by this ceiling says how close marque comes to what the disk and PostgreSQL
allow: every paid reservation needs at least two durable commits (reserve, webhook).

On SQLite (:func:`measure_sqlite`) the same one-row INSERT transactions are committed by a
loop of threads, each on its own connection made by marque's own engine (so with marque's
PRAGMAs: ``journal_mode=WAL``, ``synchronous=NORMAL``, ``busy_timeout``) and each
transaction begun with ``BEGIN IMMEDIATE`` as marque begins its writes, into a scratch file
beside the bench database (same folder, same file system), deleted afterwards. With
``synchronous=NORMAL`` a WAL commit is not synced to disk (checkpoints are): that ceiling is
of commits that survive a crash of the process, not a power loss (docs/operations.md).
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import psycopg
from psycopg.conninfo import make_conninfo
from sqlalchemy import Engine, make_url

from bench.sqlite import marque_sqlite_engine, settings, sqlite_file, sqlite_url
from marque.adapters.db.sqlite_gate import GATE_SUFFIX

TABLE = "bench_commit_ceiling"
SCRIPT = f"INSERT INTO {TABLE} (client) VALUES (:client_id);\n"
SQLITE_SCRIPT = f"BEGIN IMMEDIATE; INSERT INTO {TABLE} (client) VALUES (?); COMMIT"
SQLITE_FILE = "bench-commit-ceiling.db"


def pgbench_path() -> str | None:
    found = shutil.which("pgbench")
    if found:
        return found
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pgbench"))
    return candidates[-1] if candidates else None


def _libpq(url: str) -> dict[str, str]:
    parsed = make_url(url)
    return {
        "host": parsed.host or "127.0.0.1",
        "port": str(parsed.port or 5432),
        "user": parsed.username or "postgres",
        "dbname": parsed.database or "postgres",
        "password": parsed.password or "",
    }


def _dsn(conninfo: dict[str, str]) -> str:
    return make_conninfo(**{k: v for k, v in conninfo.items() if v})


def _prepare(conninfo: dict[str, str]) -> str:
    with psycopg.connect(_dsn(conninfo), autocommit=True) as conn:
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {TABLE} "
            "(id bigserial PRIMARY KEY, client int NOT NULL, at timestamptz NOT NULL DEFAULT now())"
        )
        conn.execute(f"TRUNCATE {TABLE}")
        row = conn.execute("SHOW synchronous_commit").fetchone()
    return str(row[0]) if row else "?"


def _with_pgbench(binary: str, conninfo: dict[str, str], clients: int, seconds: int) -> float:
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as script:
        script.write(SCRIPT)
    env = dict(os.environ, PGPASSWORD=conninfo["password"])
    try:
        done = subprocess.run(
            [
                binary,
                "-n",
                "-M",
                "prepared",
                "-f",
                script.name,
                "-c",
                str(clients),
                "-j",
                str(min(clients, os.cpu_count() or 1)),
                "-T",
                str(seconds),
                "-h",
                conninfo["host"],
                "-p",
                conninfo["port"],
                "-U",
                conninfo["user"],
                conninfo["dbname"],
            ],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        os.unlink(script.name)
    match = re.search(r"tps = ([0-9.]+)", done.stdout)
    if done.returncode != 0 or not match:
        raise RuntimeError(f"pgbench failed: {done.stderr or done.stdout}")
    return float(match.group(1))


def _with_psycopg(conninfo: dict[str, str], clients: int, seconds: int) -> float:
    counts = [0] * clients
    deadline = time.monotonic() + seconds

    def loop(index: int) -> None:
        with psycopg.connect(_dsn(conninfo), autocommit=True) as conn:
            statement = f"INSERT INTO {TABLE} (client) VALUES (%s)"
            while time.monotonic() < deadline:
                conn.execute(statement, (index,), prepare=True)
                counts[index] += 1

    elapsed = _run_clients(loop, clients)  # before counting: the threads fill ``counts``
    return sum(counts) / elapsed


def _run_clients(loop: Callable[[int], None], clients: int) -> float:
    """Run ``loop(i)`` on one thread per client until all return; the seconds it took."""
    threads = [threading.Thread(target=loop, args=(i,)) for i in range(clients)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.monotonic() - started


def measure(
    database_url: str, *, clients: Sequence[int] = (1, 16), seconds: int = 5
) -> dict[str, Any]:
    """Commits per second with each number of clients; the best is the ceiling."""
    conninfo = _libpq(database_url)
    synchronous_commit = _prepare(conninfo)
    binary = pgbench_path()
    by_clients: dict[int, float] = {}
    for count in clients:
        if binary:
            by_clients[count] = _with_pgbench(binary, conninfo, count, seconds)
        else:
            by_clients[count] = _with_psycopg(conninfo, count, seconds)
    with psycopg.connect(_dsn(conninfo), autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {TABLE}")
    return {
        "tool": "pgbench" if binary else "psycopg loop",
        "script": SCRIPT.strip(),
        "seconds": seconds,
        "synchronous_commit": synchronous_commit,
        "commits_per_second_by_clients": {n: round(tps, 1) for n, tps in by_clients.items()},
        "commits_per_second": round(max(by_clients.values()), 1),
    }


def sqlite_scratch(database_url: str) -> Path:
    """Where the SQLite ceiling commits: a file beside the bench database."""
    return sqlite_file(database_url).with_name(SQLITE_FILE)


def _sqlite_engine(path: Path) -> Engine:
    return marque_sqlite_engine(sqlite_url(path))


def _with_sqlite(path: Path, clients: int, seconds: float) -> float:
    counts = [0] * clients
    errors: list[Exception] = []
    engines = [_sqlite_engine(path) for _ in range(clients)]  # one connection each
    try:
        connections = [engine.raw_connection() for engine in engines]  # marque's PRAGMAs
        deadline = time.monotonic() + seconds

        def loop(index: int) -> None:
            cursor = connections[index].cursor()
            try:
                while time.monotonic() < deadline:
                    cursor.execute("BEGIN IMMEDIATE")
                    cursor.execute(f"INSERT INTO {TABLE} (client) VALUES (?)", (index,))
                    cursor.execute("COMMIT")
                    counts[index] += 1
            except Exception as error:  # e.g. still locked after busy_timeout
                errors.append(error)
            finally:
                cursor.close()

        elapsed = _run_clients(loop, clients)
        for connection in connections:
            connection.close()
    finally:
        for engine in engines:
            engine.dispose()
    if errors:
        raise RuntimeError(f"the SQLite commit loop failed: {errors[0]!r}") from errors[0]
    return sum(counts) / elapsed


def measure_sqlite(
    database_url: str, *, clients: Sequence[int] = (1, 16), seconds: float = 5
) -> dict[str, Any]:
    """Commits per second into a scratch SQLite file beside ``database_url``'s, with
    marque's PRAGMAs, for each number of clients; the best is the ceiling."""
    path = sqlite_scratch(database_url)
    engine = _sqlite_engine(path)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(
                f"CREATE TABLE IF NOT EXISTS {TABLE} (id INTEGER PRIMARY KEY, "
                "client INTEGER NOT NULL, at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)"
            )
            conn.commit()
        pragmas = settings(engine)
        by_clients = {count: _with_sqlite(path, count, seconds) for count in clients}
    finally:
        engine.dispose()
        for leftover in (
            path,
            path.with_name(path.name + "-wal"),
            path.with_name(path.name + "-shm"),
            path.with_name(path.name + GATE_SUFFIX),  # made by marque's engine's writes
        ):
            leftover.unlink(missing_ok=True)
    return {
        "tool": "sqlite3 loop (marque's engine and PRAGMAs)",
        "script": SQLITE_SCRIPT,
        "seconds": seconds,
        "journal_mode": pragmas["journal_mode"],
        "synchronous": pragmas["synchronous"],
        "sqlite_version": pragmas["version"],
        "commits_per_second_by_clients": {n: round(tps, 1) for n, tps in by_clients.items()},
        "commits_per_second": round(max(by_clients.values()), 1),
    }
