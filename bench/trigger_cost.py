"""What the queue triggers cost a lock: ``python -m bench.trigger_cost``.

Fills a fresh, migrated database with paid orders not locked yet, then locks them one per
transaction from one client (``UPDATE orders SET status = 'locked', locked_at = now()``,
``synchronous_commit=off`` so that the WAL flush does not hide the work), in rounds of three
variants: both queue triggers on (the tallies of migration 0008 and the buckets of 0009),
the buckets' trigger off, both off. Prints the median µs per lock of each variant per round.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

from sqlalchemy import create_engine, text

from bench.queue_place import START
from bench.server import drop_database, fresh_database
from marque.adapters.db import migrate as migrations

CONFIGURATION = "CFG-TRIGGERS"
FILL = """
INSERT INTO orders (id, customer_id, locale, model_code, trim_code, configuration_code,
    limited_edition, price_amount, currency, deposit_kind, deposit_amount, deposit_currency,
    terms_code, terms_version, terms_hash, terms_accepted_at, status, version, queue_number,
    paid_at, created_at, updated_at)
SELECT 'O' || lpad(g::text, 12, '0'), 'C' || g, 'en', 'arc', 'standard', :code, false,
    30000000, 'CNY', 'intent', 500000, 'CNY', 'arc-intent', 1, repeat('0', 64), :start,
    'reserved', 1, g, :start, :start, :start
FROM generate_series(1, :n) AS g
"""
LOCK = "UPDATE orders SET status = 'locked', locked_at = now() WHERE id = %s"
VARIANTS: dict[str, tuple[str, ...]] = {
    "both triggers": (),
    "tallies only": ("orders_queue_bucket_update",),
    "neither": ("orders_queue_bucket_update", "orders_queue_tally_update"),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--locks", type=int, default=1000, help="per variant and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--database-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    args = parser.parse_args()
    url = fresh_database(args.database_url, prefix="marque_triggers")
    engine = create_engine(url)
    total = args.locks * len(VARIANTS) * args.rounds
    try:
        migrations.upgrade(engine)
        with engine.begin() as conn:
            conn.execute(text(FILL), {"code": CONFIGURATION, "start": START, "n": total})
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
        raw: Any = engine.raw_connection()
        cursor = raw.cursor()
        cursor.execute("SET synchronous_commit = off")
        raw.commit()
        print(f"µs per lock (median of {args.locks}), one client, synchronous_commit=off")
        print(f"{'round':<7}" + "".join(f"{name:>16}" for name in VARIANTS))
        next_order = 1
        for round_ in range(1, args.rounds + 1):
            medians = []
            for disabled in VARIANTS.values():
                for trigger in disabled:
                    cursor.execute(f"ALTER TABLE orders DISABLE TRIGGER {trigger}")
                raw.commit()
                times = []
                for number in range(next_order, next_order + args.locks):
                    started = time.perf_counter()
                    cursor.execute(LOCK, ("O" + str(number).zfill(12),))
                    raw.commit()
                    times.append(time.perf_counter() - started)
                next_order += args.locks
                cursor.execute("ALTER TABLE orders ENABLE TRIGGER ALL")
                raw.commit()
                medians.append(statistics.median(times) * 1e6)
            print(f"{round_:<7}" + "".join(f"{m:>16.0f}" for m in medians))
        raw.close()
    finally:
        engine.dispose()
        drop_database(url)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
