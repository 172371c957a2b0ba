"""The database side of the replay: PostgreSQL's ``pg_stat_statements`` for the bench database.

:func:`prepare` runs just before the replay: when the server preloads the extension (a
``--private-postgres`` cluster does; the shared server does not) it creates it in the bench
database and resets that database's entries. :func:`collect` runs right after the replay
(before the verification's own queries) and keeps the top statements by total execution time
and by calls: the query text shortened, calls, total and mean ms, rows, and each one's share
of all the time PostgreSQL spent executing marque's statements. The bench's own monitoring
(``pg_stat_activity`` samples and the like) is counted apart.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Engine, text

EXTENSION = "pg_stat_statements"
MONITORING = ("pg_stat_activity", "pg_stat_database", "pg_stat_statements")
TOP = 15
WIDTH = 200

PRELOADED = text("SELECT current_setting('shared_preload_libraries')")
INSTALLED = text("SELECT count(*) FROM pg_available_extensions WHERE name = :name")
RESET = text(
    "SELECT pg_stat_statements_reset(0, "
    "(SELECT oid FROM pg_database WHERE datname = current_database()), 0)"
)
ROWS = text(
    "SELECT queryid, query, calls, total_exec_time AS total_ms, rows "
    "FROM pg_stat_statements WHERE dbid = "
    "(SELECT oid FROM pg_database WHERE datname = current_database())"
)


def preloaded(setting: str) -> bool:
    """Whether a ``shared_preload_libraries`` value names the extension."""
    names = (part.strip().strip('"').rsplit("/", 1)[-1] for part in setting.split(","))
    return EXTENSION in names


def prepare(engine: Engine) -> dict[str, Any]:
    """Create the extension and reset this database's statistics, when the server can keep
    them; otherwise say why not (and touch nothing)."""
    if engine.dialect.name != "postgresql":
        return {
            "available": False,
            "reason": f"{EXTENSION} is PostgreSQL's ({engine.dialect.name})",
        }
    with engine.connect() as conn:
        setting = str(conn.execute(PRELOADED).scalar_one())
        if not preloaded(setting):
            return {"available": False, "reason": f"not preloaded ({setting or 'none'})"}
        if not conn.execute(INSTALLED, {"name": EXTENSION}).scalar_one():
            return {"available": False, "reason": "not installed on the server"}
        try:
            conn.execute(text(f"CREATE EXTENSION IF NOT EXISTS {EXTENSION}"))
            conn.execute(RESET)
            conn.commit()
        except Exception as error:  # e.g. no right to create it in someone's database
            conn.rollback()
            return {"available": False, "reason": str(error).splitlines()[0]}
    return {"available": True}


def collect(engine: Engine, top: int = TOP) -> dict[str, Any]:
    with engine.connect() as conn:
        rows = [dict(row) for row in conn.execute(ROWS).mappings()]
        conn.rollback()
    return {"available": True, **summarise(rows, top)}


def shorten(query: str, width: int = WIDTH) -> str:
    """One line, without the parts that say little: select, column and value lists, long runs
    of parameters; cut to ``width`` characters."""
    short = " ".join(query.split())
    short = re.sub(r"^SELECT (.+?) FROM ", "SELECT … FROM ", short)
    short = re.sub(r"^(INSERT INTO \S+) \([^)]*\)", r"\1 (…)", short)
    short = re.sub(
        r"\bVALUES \(.*?\)(?:, \(.*?\))*(?= RETURNING|$| ON CONFLICT)", "VALUES (…)", short
    )
    short = re.sub(r"\bRETURNING .+$", "RETURNING …", short)
    short = re.sub(r"\$\d+(?:, \$\d+){3,}", "$…", short)
    return short if len(short) <= width else short[: width - 1] + "…"


def summarise(rows: Iterable[Mapping[str, Any]], top: int = TOP) -> dict[str, Any]:
    """Totals and the ``top`` statements by total time and by calls; each share is of the
    execution time of all statements but the bench's own monitoring."""
    ours: list[Mapping[str, Any]] = []
    theirs: list[Mapping[str, Any]] = []
    for row in rows:
        watching = any(name in str(row["query"]) for name in MONITORING)
        (theirs if watching else ours).append(row)
    total_ms = sum(float(row["total_ms"]) for row in ours)

    def entry(row: Mapping[str, Any]) -> dict[str, Any]:
        calls, ms = int(row["calls"]), float(row["total_ms"])
        return {
            "queryid": row.get("queryid"),
            "query": shorten(str(row["query"])),
            "calls": calls,
            "total_ms": round(ms, 1),
            "mean_ms": round(ms / calls, 3) if calls else None,
            "rows": int(row["rows"]),
            "share": round(ms / total_ms, 3) if total_ms else None,
        }

    by_time = sorted(ours, key=lambda row: (-float(row["total_ms"]), -int(row["calls"])))
    by_calls = sorted(ours, key=lambda row: (-int(row["calls"]), -float(row["total_ms"])))
    return {
        "statements": len(ours),
        "calls": sum(int(row["calls"]) for row in ours),
        "total_ms": round(total_ms, 1),
        "by_total_time": [entry(row) for row in by_time[:top]],
        "by_calls": [entry(row) for row in by_calls[:top]],
        "bench_monitoring": {
            "statements": len(theirs),
            "calls": sum(int(row["calls"]) for row in theirs),
            "total_ms": round(sum(float(row["total_ms"]) for row in theirs), 1),
        },
    }
