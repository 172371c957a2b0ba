"""Writers of one SQLite file queue on a lock file instead of in SQLite's busy handler.

SQLite lets one write transaction run at a time (``BEGIN IMMEDIATE``, adapters/db/engine.py).
A writer that finds the lock taken is put to sleep by SQLite's busy handler for 1, 2, 5,
10 ... up to 100 ms and then tries again, however soon the lock comes free: under a
launch's load the write lock sits idle while the writers waiting for it sleep, and several
server processes on one file gain little (docs/decisions.md, "SQLite's writers queue on a
lock file"). Here each connection first takes an exclusive ``flock`` on
``<database>-writers``; the kernel wakes a waiter the moment the holder lets go, whether it
is a thread of the same process or another process. The lock is let go when the
transaction ends (``commit``, ``rollback``, ``close``), after SQLite's own lock is. SQLite's
lock stays the rule: a program writing without this gate (the ``sqlite3`` shell) is still
waited for by the busy handler.

No gate where ``flock`` does not exist (Windows), for an in-memory database, or when the
lock file cannot be opened (logged once per connection).
"""

from __future__ import annotations

import logging
import os
import sqlite3
from typing import Any

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: SQLite's busy handler alone
    fcntl = None  # type: ignore[assignment]

GATE_SUFFIX = "-writers"
log = logging.getLogger(__name__)


def gate_path(database: str) -> str | None:
    """The lock file of a database file (None: no gate)."""
    if fcntl is None or database in ("", ":memory:") or database.startswith("file:"):
        return None
    return database + GATE_SUFFIX


class GatedConnection(sqlite3.Connection):
    """A sqlite3 connection whose write transactions take the database's writers' gate."""

    def __init__(self, database: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(database, *args, **kwargs)
        self._gate_path = gate_path(os.fspath(database))
        self._gate_fd = -1
        self._gate_pid = 0
        self._holding = False

    def enter_write(self) -> None:
        """Wait for the gate (blocking in the kernel, the GIL released)."""
        if self._gate_path is None or self._holding:
            return
        if self._gate_pid != os.getpid():  # opened per process: a forked fd would be shared
            try:
                # Created as SQLite creates its -wal and -shm files (0644 under the umask).
                self._gate_fd = os.open(self._gate_path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                # Someone else's file, say: SQLite's own lock still keeps writers apart.
                log.warning(
                    "no writers' gate at %s (%s): SQLite's busy handler only", self._gate_path, exc
                )
                self._gate_path = None
                return
            self._gate_pid = os.getpid()
        fcntl.flock(self._gate_fd, fcntl.LOCK_EX)
        self._holding = True

    def leave_write(self) -> None:
        if self._holding:
            self._holding = False
            fcntl.flock(self._gate_fd, fcntl.LOCK_UN)

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self.leave_write()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self.leave_write()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.leave_write()
            if self._gate_fd >= 0 and self._gate_pid == os.getpid():
                os.close(self._gate_fd)
            self._gate_fd = -1


__all__ = ["GATE_SUFFIX", "GatedConnection", "gate_path"]
