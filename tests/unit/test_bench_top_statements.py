"""The launch benchmark's table of PostgreSQL statements (bench/top_statements.py): what the
published shares and the shortened query texts are computed from."""

from __future__ import annotations

from typing import Any

from bench.top_statements import preloaded, shorten, summarise


def row(query: str, calls: int, total_ms: float, rows: int = 0) -> dict[str, Any]:
    return {
        "queryid": hash(query),
        "query": query,
        "calls": calls,
        "total_ms": total_ms,
        "rows": rows,
    }


def test_shares_are_of_marques_statements_and_the_bench_monitoring_is_counted_apart() -> None:
    summary = summarise(
        [
            row("INSERT INTO webhook_receipts (a, b) VALUES ($1, $2)", 10, 30.0, 10),
            row("SELECT orders.id, orders.status FROM orders WHERE orders.id = $1", 100, 10.0, 90),
            row("COMMIT", 400, 0.0),
            row("SELECT pid, state FROM pg_stat_activity WHERE datname = $1", 40, 50.0, 80),
        ]
    )

    assert (summary["statements"], summary["calls"], summary["total_ms"]) == (3, 510, 40.0)
    assert summary["bench_monitoring"] == {"statements": 1, "calls": 40, "total_ms": 50.0}
    slowest = summary["by_total_time"][0]
    assert slowest["query"] == "INSERT INTO webhook_receipts (…) VALUES (…)"
    assert (slowest["share"], slowest["mean_ms"], slowest["rows"]) == (0.75, 3.0, 10)
    assert [r["calls"] for r in summary["by_calls"]] == [400, 100, 10]
    assert summary["by_calls"][0]["share"] == 0.0


def test_nothing_executed_gives_no_share_rather_than_a_division_by_zero() -> None:
    summary = summarise([row("BEGIN", 0, 0.0)], top=5)

    assert summary["by_total_time"][0]["share"] is None
    assert summary["by_total_time"][0]["mean_ms"] is None


def test_only_the_top_are_kept() -> None:
    summary = summarise([row(f"SELECT {n}", n, float(n)) for n in range(1, 30)], top=3)

    assert [r["calls"] for r in summary["by_total_time"]] == [29, 28, 27]
    assert summary["statements"] == 29


def test_shortened_queries_keep_table_and_conditions_on_one_line() -> None:
    query = """SELECT orders.id, orders.buyer_id, orders.status
        FROM orders
        WHERE orders.id IN ($1, $2, $3, $4, $5) FOR UPDATE SKIP LOCKED"""

    assert shorten(query) == "SELECT … FROM orders WHERE orders.id IN ($…) FOR UPDATE SKIP LOCKED"
    assert (
        shorten("INSERT INTO t (a, b) VALUES ($1, now()) ON CONFLICT (a) DO NOTHING RETURNING t.a")
        == "INSERT INTO t (…) VALUES (…) ON CONFLICT (a) DO NOTHING RETURNING …"
    )
    cut = shorten("UPDATE orders SET status = $1 WHERE " + "x = $2 AND " * 40 + "true", width=50)
    assert len(cut) == 50
    assert cut.endswith("…")


def test_the_extension_counts_only_when_preloaded() -> None:
    assert preloaded("pg_stat_statements")
    assert preloaded('auto_explain, "$libdir/pg_stat_statements"')
    assert not preloaded("")
    assert not preloaded("auto_explain")
