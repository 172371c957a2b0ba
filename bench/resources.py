"""CPU used by the server, PostgreSQL and the driver, and what PostgreSQL was waiting on.

A background thread samples every ``interval`` seconds:
- CPU time (user + system) of every process of the server tree, of every PostgreSQL
  backend connected to the bench database, of PostgreSQL's shared helpers (WAL writer,
  checkpointer ...; only the private cluster's with ``--private-postgres``), and of the
  driver's own process. A process counts from when it was first seen to when it was last
  seen, so a killed worker keeps what it used and a new worker or backend is counted from
  zero.
- ``pg_stat_activity`` of the bench database: active backends by wait event (``CPU`` when
  they wait on nothing), a cheap sampling profile of the database side.
- ``pg_stat_database`` commit and row counters at start and end (commits per reservation).

The sampler runs in the driver's process, so its own CPU (the thread's ``thread_time``) is
taken out of the driver's and reported as ``bench_monitoring``; it keeps its ``psutil``
handles, lists the server's processes once a second and PostgreSQL's shared helpers every
~10 s, because scanning every process of the machine four times a second cost a sixth of the
driver's CPU.

On SQLite the database is a library inside the server process: its CPU is part of the
server's (reported as ``server_including_sqlite``, with a note), and there are no backends,
shared helpers, activity or counters to read.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psutil
from sqlalchemy import Engine, text

SQLITE_NOTE = (
    "SQLite runs inside the server process: the database's CPU is part of the server's "
    "and is not counted apart"
)
SQLITE_UNWATCHED = (
    "SQLite runs inside the server process, which this run did not watch (--url): neither "
    "the server's CPU nor the database's is counted"
)
SHARED_POSTGRES = ("walwriter", "wal writer", "checkpointer", "background writer", "autovacuum")

ACTIVITY = text(
    "SELECT pid, state, coalesce(wait_event_type, '') AS wtype, coalesce(wait_event, '') AS wev, "
    "left(query, 120) AS query "
    "FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
)
COUNTERS = text(
    "SELECT xact_commit, xact_rollback, tup_inserted, tup_updated, tup_deleted, "
    "blks_read, deadlocks FROM pg_stat_database WHERE datname = current_database()"
)


def _cpu(proc: psutil.Process) -> float | None:
    try:
        times = proc.cpu_times()
    except psutil.Error:
        return None
    return float(times.user + times.system)


@dataclass
class _Tally:
    first: dict[int, float] = field(default_factory=dict)
    last: dict[int, float] = field(default_factory=dict)

    def see(self, pid: int, cpu: float | None) -> None:
        if cpu is None:
            return
        self.first.setdefault(pid, cpu)
        self.last[pid] = cpu

    def total(self) -> float:
        return sum(self.last[pid] - self.first[pid] for pid in self.last)


class ResourceSampler:
    def __init__(
        self,
        engine: Engine,
        server_processes: Callable[[], list[psutil.Process]],
        *,
        interval: float = 0.25,
        postmaster_pid: int | None = None,
    ) -> None:
        self.engine = engine
        self.sqlite = engine.dialect.name == "sqlite"
        self.postmaster_pid = postmaster_pid  # count only this cluster's shared helpers
        self.server_processes = server_processes
        self.interval = interval
        self.server = _Tally()
        self.backends = _Tally()
        self.shared = _Tally()
        self.driver = _Tally()
        self.waits: Counter[str] = Counter()
        self.lock_waits: Counter[str] = Counter()
        self.samples = 0
        self.max_backends = 0
        self._counters: list[dict[str, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-sampler", daemon=True)
        self._me = psutil.Process()
        self._procs: dict[int, psutil.Process] = {}  # backends, by pid, reused between samples
        self._shared_procs: list[psutil.Process] = []
        self._server_procs: list[psutil.Process] = []
        self._ticks = 0
        self._monitoring_cpu = 0.0  # the sampler thread's own CPU seconds
        self._started = 0.0
        self._elapsed = 0.0

    def start(self) -> None:
        self._started = time.monotonic()
        self._counters.append(self._read_counters())
        self._sample_processes()
        if not self.sqlite:
            with self.engine.connect() as conn:
                self._sample_postgres(conn)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)
        self._elapsed = time.monotonic() - self._started
        self._counters.append(self._read_counters())

    def _read_counters(self) -> dict[str, int]:
        if self.sqlite:
            return {}
        with self.engine.connect() as conn:
            row = conn.execute(COUNTERS).mappings().one()
        return {key: int(value) for key, value in row.items()}

    def _run(self) -> None:
        started = time.thread_time()
        try:
            self._loop()
        finally:
            self._monitoring_cpu = time.thread_time() - started

    def _loop(self) -> None:
        if self.sqlite:
            while not self._stop.wait(self.interval):
                with contextlib.suppress(Exception):  # e.g. while the server is restarted
                    self._sample_processes()
            self._sample_processes()
            return
        with self.engine.connect() as conn:
            while not self._stop.wait(self.interval):
                try:
                    self._sample_processes()
                    self._sample_postgres(conn)
                except Exception:  # a sample may fail while a worker is being killed
                    continue
            self._sample_processes()
            self._sample_postgres(conn)

    def _sample_processes(self) -> None:
        # Listing the server's process tree reads every process of the machine: once a
        # second is enough (a restarted worker is then counted from at most 1 s late).
        if self._ticks % 4 == 0:
            self._server_procs = self.server_processes()
        self._ticks += 1
        for proc in self._server_procs:
            self.server.see(proc.pid, _cpu(proc))
        self.driver.see(self._me.pid, _cpu(self._me))

    def _sample_postgres(self, conn: Any) -> None:
        rows = conn.execute(ACTIVITY).all()
        conn.commit()
        self.samples += 1
        self.max_backends = max(self.max_backends, len(rows))
        for row in rows:
            with contextlib.suppress(psutil.Error):
                proc = self._procs.get(row.pid) or self._procs.setdefault(
                    row.pid, psutil.Process(row.pid)
                )
                self.backends.see(row.pid, _cpu(proc))
            if row.state == "active":
                self.waits[f"{row.wtype}:{row.wev}" if row.wtype else "CPU"] += 1
                if row.wtype == "Lock":  # who waits on a row or table lock, and in what
                    self.lock_waits[" ".join(str(row.query).split())] += 1
        if self.samples % 40 == 1:  # the helpers rarely change: look for them every ~10 s
            self._shared_procs = self._find_shared_helpers()
        for proc in self._shared_procs:
            self.shared.see(proc.pid, _cpu(proc))

    def _find_shared_helpers(self) -> list[psutil.Process]:
        found = []
        for proc in psutil.process_iter(["name", "cmdline", "ppid"]):
            cmdline = " ".join(proc.info.get("cmdline") or [])
            if self.postmaster_pid is not None and proc.info.get("ppid") != self.postmaster_pid:
                continue
            if cmdline.startswith("postgres:") and any(n in cmdline for n in SHARED_POSTGRES):
                found.append(proc)
        return found

    def _driver_cpu(self) -> float:
        """The driver's process less the sampler's own thread, which is not load."""
        return max(0.0, self.driver.total() - self._monitoring_cpu)

    def report(self) -> dict[str, Any]:
        before = self._counters[0] if self._counters else {}
        after = self._counters[-1] if len(self._counters) > 1 else before
        deltas = {key: after.get(key, 0) - value for key, value in before.items()}
        active = sum(self.waits.values())
        if self.sqlite:
            return {
                "seconds": round(self._elapsed, 2),
                "database": "sqlite",
                "cpu_seconds": {
                    "server_including_sqlite": round(self.server.total(), 2),
                    "driver": round(self._driver_cpu(), 2),
                    "bench_monitoring": round(self._monitoring_cpu, 2),
                },
                "database_cpu": SQLITE_NOTE if self.server.last else SQLITE_UNWATCHED,
                "server_processes_seen": len(self.server.last),
            }
        return {
            "seconds": round(self._elapsed, 2),
            "cpu_seconds": {
                "server": round(self.server.total(), 2),
                "postgres_backends": round(self.backends.total(), 2),
                "postgres_shared": round(self.shared.total(), 2),
                "driver": round(self._driver_cpu(), 2),
                "bench_monitoring": round(self._monitoring_cpu, 2),
            },
            "server_processes_seen": len(self.server.last),
            "postgres_backends_seen": len(self.backends.last),
            "postgres_backends_max": self.max_backends,
            "postgres_counters": deltas,
            "postgres_active_by_wait": {
                wait: round(count / max(1, self.samples), 2)
                for wait, count in self.waits.most_common(12)
            },
            "postgres_active_avg": round(active / max(1, self.samples), 2),
            "postgres_lock_waits_by_query": dict(self.lock_waits.most_common(5)),
        }
