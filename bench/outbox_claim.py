"""What the notification relay's claim costs PostgreSQL with a backlog:
``python -m bench.outbox_claim [--messages 100000] [--sent 75000]``.

Fills the outbox of a fresh, migrated database with ``--messages`` due messages, then relays
``--sent`` of them the way the relay does (claim a batch of 500 with a lease, mark it sent),
so that the index holds the entries of sent messages until the next vacuum. Then, after an
``ANALYZE`` (autovacuum's statistics), it runs the relay's claim statement
(``repositories/messaging.py``: the next 100 due messages, ``FOR UPDATE SKIP LOCKED``) a
few times under ``EXPLAIN ANALYZE`` and prints the plan's scan and each execution's time.
"""

from __future__ import annotations

import argparse
import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import create_engine, text

from bench.server import drop_database, fresh_database
from marque.adapters.db import migrate as migrations
from marque.adapters.db.repositories.messaging import _CLAIM_MESSAGES_SKIP_LOCKED

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)
FILL = """
INSERT INTO outbox (topic, payload, created_at, available_at, attempts, sent_at, dead)
SELECT 'order.paid', '{}'::json, :at, :at + g * interval '1 millisecond', 0, NULL, false
FROM generate_series(1, :n) AS g
"""
RELAY_BATCH = """
WITH batch AS (
    SELECT id FROM outbox WHERE sent_at IS NULL AND dead IS false AND available_at <= :now
    ORDER BY available_at, id LIMIT 500
)
UPDATE outbox SET sent_at = :now, available_at = :lease, attempts = attempts + 1
WHERE id IN (SELECT id FROM batch)
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--sent", type=int, default=75_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--database-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    args = parser.parse_args()
    url = fresh_database(args.database_url, prefix="marque_outbox")
    engine = create_engine(url)
    now = NOW + timedelta(hours=1)
    try:
        migrations.upgrade(engine)
        with engine.begin() as conn:
            conn.execute(text(FILL), {"at": NOW, "n": args.messages})
        with engine.connect() as conn:
            for _ in range(args.sent // 500):
                lease = now + timedelta(minutes=1)
                conn.execute(text(RELAY_BATCH), {"now": now, "lease": lease})
                conn.commit()
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE outbox"))
        compiled = _CLAIM_MESSAGES_SKIP_LOCKED.statement.compile(dialect=engine.dialect)
        values = {**compiled.params, "now": now, "limit": 100}
        print(
            f"{args.messages} messages, {args.sent} sent since the last vacuum; "
            "the relay's claim of the next 100:"
        )
        with engine.connect() as conn:
            for run in range(1, args.runs + 1):
                rows = [
                    str(row[0])
                    for row in conn.exec_driver_sql(
                        f"EXPLAIN (ANALYZE, BUFFERS) {compiled.string}", values
                    )
                ]
                conn.rollback()
                scans = [re.sub(r"\s*\(.*", "", r).strip(" ->") for r in rows if "Scan" in r]
                took = next(r for r in rows if r.startswith("Execution Time"))
                print(f"  run {run}: {took}; {'; '.join(scans)}")
    finally:
        engine.dispose()
        drop_database(url)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
