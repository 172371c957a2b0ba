"""The machine, the server's own view of its latencies, rates, and the printed summary."""

from __future__ import annotations

import json
import os
import platform
from collections import defaultdict
from importlib import metadata
from pathlib import Path
from typing import Any

import psutil
from sqlalchemy import Engine, text

from bench import sqlite
from bench.stats import summary

PG_SETTINGS = (
    "server_version",
    "synchronous_commit",
    "fsync",
    "wal_sync_method",
    "commit_delay",
    "max_connections",
    "shared_buffers",
    "wal_buffers",
    "max_wal_size",
    "full_page_writes",
)


LIBRARIES = ("fastapi", "starlette", "uvicorn", "pydantic", "sqlalchemy", "psycopg", "aiohttp")


def _versions(names: tuple[str, ...]) -> dict[str, str]:
    found = {}
    for name in names:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def machine(engine: Engine | None) -> dict[str, Any]:
    cpu_model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    facts: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "cpu_model": cpu_model,
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        # The server runs in this environment: its libraries' speed changes between releases.
        "libraries": _versions(LIBRARIES),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }
    if engine is not None and engine.dialect.name == "sqlite":
        facts["sqlite"] = sqlite.settings(engine)
    elif engine is not None:
        with engine.connect() as conn:
            facts["postgresql"] = {
                name: conn.execute(text(f"SHOW {name}")).scalar_one() for name in PG_SETTINGS
            }
    return facts


def server_latencies(log_path: Path, offset: int) -> dict[str, Any]:
    """The server's own per-route durations (its access log lines) written after ``offset``."""
    durations: dict[str, list[float]] = defaultdict(list)
    statuses: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    with log_path.open("rb") as handle:
        handle.seek(offset)
        for raw in handle:
            if b'"marque.access"' not in raw:
                continue
            try:
                entry = json.loads(raw)
            except ValueError:
                continue
            method, _, _ = str(entry.get("msg", "")).partition(" ")
            route = f"{method} {entry.get('route', '?')}"
            durations[route].append(float(entry.get("ms", 0)) / 1000)
            statuses[route][str(entry.get("status"))] += 1
    return {
        route: {**summary(values), "statuses": dict(statuses[route])}
        for route, values in sorted(durations.items(), key=lambda item: -len(item[1]))
    }


def print_summary(result: dict[str, Any]) -> None:
    print()
    print(f"== {result['label']}  ({result['finished_at']})")
    headline = result.get("headline", {})
    for key, value in headline.items():
        print(f"  {key + ' ':<34}{value}")
    print("  step                  n     p50ms   p95ms   p99ms   outcomes")
    for step, stats in result.get("steps", {}).items():
        outcomes = ", ".join(f"{k}: {v}" for k, v in list(stats["outcomes"].items())[:5])
        print(
            f"  {step:<18}{stats['count']:>6}  {_ms(stats['p50_ms'])}  {_ms(stats['p95_ms'])}  "
            f"{_ms(stats['p99_ms'])}   {outcomes}"
        )
    resources = result.get("resources", {})
    if resources:
        print(f"  cpu seconds        {resources['cpu_seconds']}")
        if "database_cpu" in resources:
            print(f"  database cpu       {resources['database_cpu']}")
        if "postgres_active_by_wait" in resources:
            print(f"  postgres waits     {resources['postgres_active_by_wait']}")
    print_statements(result.get("pg_stat_statements") or {})
    for check in result.get("checks", []):
        print(f"  [{'PASS' if check['ok'] else 'FAIL'}] {check['name']}: {check['detail']}")


def print_statements(statements: dict[str, Any], shown: int = 8, width: int = 72) -> None:
    """The top statements by total execution time, then by calls, from pg_stat_statements."""
    if not statements.get("available"):
        return
    watching = statements["bench_monitoring"]
    print(
        f"  postgres statements: {statements['statements']} kinds, {statements['calls']} calls, "
        f"{statements['total_ms']} ms executing (the bench's own monitoring: "
        f"{watching['total_ms']} ms more)"
    )
    for key, title in (("by_total_time", "by total time"), ("by_calls", "by calls")):
        print(f"    share  total ms    calls   mean ms     rows  query ({title})")
        for row in statements[key][:shown]:
            share = f"{100 * row['share']:5.1f}%" if row["share"] is not None else "     -"
            mean = f"{row['mean_ms']:>9.3f}" if row["mean_ms"] is not None else "        -"
            query = row["query"] if len(row["query"]) <= width else row["query"][: width - 1] + "…"
            print(
                f"   {share} {row['total_ms']:>9.1f} {row['calls']:>8} {mean} {row['rows']:>8}  "
                f"{query}"
            )


def _ms(value: float | None) -> str:
    return f"{value:>6}" if value is not None else "     -"
