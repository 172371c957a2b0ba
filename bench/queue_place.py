"""What telling a buyer their queue place costs PostgreSQL at launch scale:
``python -m bench.queue_place [--orders 50000]``.

Fills one configuration of a fresh, migrated database with N locked orders still waiting
(one INSERT, so the triggers of migrations 0008 and 0009 tally them as the application
would), locked ``--spacing-ms`` apart, then changes one row in ten, as a night of payments
and locks does, so that most heap pages are no longer all-visible and an index-only scan must
visit the table. Then it times, on one connection, the ways to tell a locked order's place
(ms per call, median of ``--repeat``): from the lock-time buckets (``ahead``: what every read
of an order does), counting back from the end of the queue (``ahead_from_the_back``: what the
lock answers) and, for comparison, counting every order ahead over the queue index (what
reads did before migration 0009), for the order locked last, one in the middle and the
first. All must give the same number; the run stops if they do not.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial

from sqlalchemy import create_engine, text

from bench.server import drop_database, fresh_database
from marque.adapters.db import migrate as migrations
from marque.adapters.db.repositories.launch import SqlLaunchRepository
from marque.adapters.db.repositories.orders import SqlOrderRepository
from marque.adapters.db.tables.orders import WAITING_LOCKED

CONFIGURATION = "CFG-QUEUEBENCH"
START = datetime(2026, 11, 26, 12, tzinfo=UTC)

FILL = """
INSERT INTO orders (id, customer_id, locale, model_code, trim_code, configuration_code,
    limited_edition, price_amount, currency, deposit_kind, deposit_amount, deposit_currency,
    terms_code, terms_version, terms_hash, terms_accepted_at, status, version, queue_number,
    paid_at, locked_at, created_at, updated_at)
SELECT 'O' || lpad(g::text, 12, '0'), 'C' || g, 'en', 'arc', 'standard', :code, false,
    30000000, 'CNY', 'earnest', 500000, 'CNY', 'arc-earnest', 1, repeat('0', 64), :start,
    'locked', 1, g, :start, :start + g::bigint * :spacing * interval '1 millisecond', :start, :start
FROM generate_series(1, :n) AS g
"""
#: What reads of an order did before the buckets: count the index entries ahead.
COUNT_AHEAD = f"""
SELECT count(*) FROM orders WHERE configuration_code = :code AND {WAITING_LOCKED}
AND (locked_at, queue_number) < (:locked_at, :number)
"""
CHURN = (
    "UPDATE orders SET updated_at = updated_at + interval '1 second' WHERE queue_number % 10 = 0"
)


def timed(call: Callable[[], int], repeat: int) -> tuple[float, int]:
    """(median ms per call, the answer)."""
    answer = call()  # the first call plans and prepares
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        again = call()
        times.append((time.perf_counter() - started) * 1000)
        if again != answer:
            raise SystemExit(f"answers changed between calls: {answer} then {again}")
    return statistics.median(times), int(answer)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument(
        "--spacing-ms",
        type=int,
        default=1,
        help="between two locks (1: a thousand a second; 60000: one a minute, over 35 days)",
    )
    parser.add_argument(
        "--database-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    args = parser.parse_args()
    url = fresh_database(args.database_url, prefix="marque_queue")
    engine = create_engine(url)
    try:
        migrations.upgrade(engine)
        with engine.begin() as conn:
            fill = {"code": CONFIGURATION, "start": START, "n": args.orders}
            conn.execute(text(FILL), {**fill, "spacing": args.spacing_ms})
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE orders"))
            conn.execute(text("VACUUM ANALYZE queue_tallies"))  # 50,000 updates of 16 rows
            conn.execute(text("VACUUM ANALYZE queue_buckets"))
            conn.execute(text(CHURN))
        print(
            f"{args.orders} locked orders waiting in one configuration, {args.spacing_ms} ms "
            "apart; one in ten changed"
        )
        print(
            f"{'order':<16}{'ahead':>8}{'buckets ms':>12}{'from the back ms':>18}"
            f"{'counting ahead ms':>19}"
        )
        with engine.connect() as conn:
            orders, launch = SqlOrderRepository(conn), SqlLaunchRepository(conn)
            for label, number in (
                ("locked last", args.orders),
                ("in the middle", args.orders // 2),
                ("locked first", 1),
            ):
                order = orders.get("O" + str(number).zfill(12))
                at = START + timedelta(milliseconds=number * args.spacing_ms)
                if order is None or order.locked_at != at:
                    raise SystemExit(f"order {number} was not filled as expected")
                ahead_ms, ahead = timed(partial(launch.ahead, order), args.repeat)
                back_ms, back = timed(partial(launch.ahead_from_the_back, order), args.repeat)
                count = partial(
                    lambda at, n: conn.execute(
                        text(COUNT_AHEAD),
                        {"code": CONFIGURATION, "locked_at": at, "number": n},
                    ).scalar_one(),
                    order.locked_at,
                    number,
                )
                count_ms, counted = timed(count, args.repeat)
                if not ahead == back == counted:
                    raise SystemExit(
                        f"{label}: {ahead} from the buckets, {back} from the back, "
                        f"{counted} counted"
                    )
                print(f"{label:<16}{ahead:>8}{ahead_ms:>12.3f}{back_ms:>18.3f}{count_ms:>19.3f}")
            conn.rollback()
    finally:
        engine.dispose()
        drop_database(url)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
