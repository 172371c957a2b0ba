"""How much does one hot row cost on PostgreSQL? A quick measurement behind docs/decisions.md.

Runs pgbench with small custom scripts against a scratch database, each transaction shaped
like a reservation (insert the order, then take a unit) or a payment confirmation (take a
queue number), with synchronous_commit on:

- ``baseline``: insert the order only (the machine's durable-commit ceiling for this shape);
- ``counter``: insert, then ``UPDATE stock SET taken = taken + 1 WHERE taken < cap``, last
  statement before COMMIT (one hot row: every buyer of the edition queues on it);
- ``counter_first``: the same with the counter first (the lock is held over the insert too);
- ``slots``: insert, then claim one pre-created numbered unit with
  ``UPDATE ... WHERE id = (SELECT ... FOR UPDATE SKIP LOCKED LIMIT 1)``;
- ``queue_1`` / ``queue_8``: insert, then take the next queue number of one of 1 or 8
  configurations with ``INSERT ... ON CONFLICT DO UPDATE SET last = last + 1 RETURNING``;
- ``queue_sharded_1``: insert, then take the next number of one configuration from the
  least-advanced of 8 counter rows that nobody holds (``ORDER BY last LIMIT 1 FOR UPDATE
  SKIP LOCKED``; shard k hands out k, k+8, k+16 ...);
- ``sold_out_counter`` / ``sold_out_slots``: the same statements once nothing is left.

Usage: ``python scripts/stock_contention.py [--url postgresql://postgres@127.0.0.1:5432/postgres]
[--seconds 8] [--clients 16,64]``. Prints one line per strategy and client count: transactions
per second and average latency, as pgbench reports them.
"""

from __future__ import annotations

import argparse
import re
import secrets
import subprocess
import tempfile
from pathlib import Path

import psycopg

SCHEMA = """
CREATE TABLE c_orders (id bigserial PRIMARY KEY, note text NOT NULL, at timestamptz NOT NULL);
CREATE TABLE c_stock (edition int PRIMARY KEY, cap int NOT NULL, taken int NOT NULL);
CREATE TABLE c_units (
    id bigserial PRIMARY KEY, edition int NOT NULL, number int NOT NULL,
    order_id bigint, held_until timestamptz NOT NULL);
CREATE UNIQUE INDEX c_units_number ON c_units (edition, number);
CREATE INDEX c_units_free ON c_units (edition, held_until);
CREATE TABLE c_queue (configuration int PRIMARY KEY, last int NOT NULL);
CREATE TABLE c_queue_shards (configuration int, shard int, last int NOT NULL,
    PRIMARY KEY (configuration, shard));
INSERT INTO c_queue_shards SELECT 1, k, k - 8 FROM generate_series(1, 8) AS k;
INSERT INTO c_stock VALUES (1, 1000000000, 0), (2, 10, 10);
INSERT INTO c_units (edition, number, held_until)
    SELECT 1, n, 'epoch' FROM generate_series(1, {units}) AS n;
INSERT INTO c_units (edition, number, order_id, held_until)
    SELECT 2, n, n, 'infinity' FROM generate_series(1, 10) AS n;
"""

INSERT = "INSERT INTO c_orders (note, at) VALUES ('reservation', now());"
COUNTER = "UPDATE c_stock SET taken = taken + 1 WHERE edition = {edition} AND taken < cap RETURNING taken;"
SLOT = (
    "UPDATE c_units SET order_id = 1, held_until = now() + interval '30 minutes' "
    "WHERE id = (SELECT id FROM c_units WHERE edition = {edition} AND held_until < now() "
    "ORDER BY held_until LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING number;"
)
QUEUE = (
    "\\set cfg random(1, {configurations})\n"
    "INSERT INTO c_queue VALUES (:cfg, 1) ON CONFLICT (configuration) "
    "DO UPDATE SET last = c_queue.last + 1 RETURNING last;"
)
SHARDED_QUEUE = (
    "UPDATE c_queue_shards SET last = last + 8 WHERE (configuration, shard) = ("
    "SELECT configuration, shard FROM c_queue_shards WHERE configuration = 1 "
    "ORDER BY last LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING last;"
)


def transaction(*statements: str) -> str:
    return "BEGIN;\n" + "\n".join(statements) + "\nCOMMIT;\n"


STRATEGIES = {
    "baseline": transaction(INSERT),
    "counter": transaction(INSERT, COUNTER.format(edition=1)),
    "counter_first": transaction(COUNTER.format(edition=1), INSERT),
    "slots": transaction(INSERT, SLOT.format(edition=1)),
    "queue_1": transaction(INSERT, QUEUE.format(configurations=1)),
    "queue_8": transaction(INSERT, QUEUE.format(configurations=8)),
    "queue_sharded_1": transaction(INSERT, SHARDED_QUEUE),
    "sold_out_counter": transaction(COUNTER.format(edition=2)),
    "sold_out_slots": transaction(SLOT.format(edition=2)),
}


def run(url: str, script: Path, clients: int, seconds: int) -> tuple[float, float]:
    done = subprocess.run(
        [
            "pgbench",
            "-n",
            "-c",
            str(clients),
            "-j",
            "2",
            "-T",
            str(seconds),
            "-f",
            str(script),
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    tps = re.search(r"tps = ([\d.]+)", done.stdout)
    latency = re.search(r"latency average = ([\d.]+) ms", done.stdout)
    if not (tps and latency):
        raise RuntimeError(done.stdout + done.stderr)
    return float(tps[1]), float(latency[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--clients", default="16,64")
    parser.add_argument("--only", default="", help="comma-separated strategies")
    args = parser.parse_args()
    name = f"contention_{secrets.token_hex(3)}"
    with psycopg.connect(args.url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = args.url.rsplit("/", 1)[0] + "/" + name
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(SCHEMA.format(units=400_000).encode())
        wanted = [s for s in args.only.split(",") if s] or list(STRATEGIES)
        with tempfile.TemporaryDirectory() as folder:
            for strategy in wanted:
                script = Path(folder) / f"{strategy}.sql"
                script.write_text(STRATEGIES[strategy])
                for clients in (int(c) for c in args.clients.split(",")):
                    tps, latency = run(url, script, clients, args.seconds)
                    print(
                        f"{strategy:<17} clients={clients:<3} tps={tps:8.0f} "
                        f"latency={latency:7.2f} ms",
                        flush=True,
                    )
    finally:
        with psycopg.connect(args.url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
