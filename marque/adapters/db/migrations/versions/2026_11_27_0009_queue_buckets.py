"""Queue buckets: the waiting orders of a configuration tallied by lock time (day, hour,
minute, second) and, not locked yet, by blocks of 1,024 queue numbers, so that reading a
buyer's place sums a bounded number of rows and counts only the orders locked in the same
second as theirs (or numbered in the same block), wherever the buyer stands in the queue
(docs/decisions.md, "Queue places"). Counting the orders ahead cost 2.8-3.5 ms in the middle
of 50,000 and grew with the queue.

A trigger of its own on ``orders`` keeps ``queue_buckets`` exact on every path that moves
an order, like the tallies of migration 0008: a locked waiting order counts once on each of
its four lock-time scales, an unlocked paid one on its number block, each on the shard of
its number (16 rows per bucket, so that buyers locking in the same second do not queue on
one row). Scales sort by name from coarse to fine (day < hour < minute < second), and every
statement touches them in that order, so two transactions never lock them crosswise.
Buckets are whole seconds since 1970 divided by the scale's length, on both engines.

On SQLite a later migration that rebuilds ``orders`` in batch mode must create these
triggers again (see 0008).

Revision ID: 0009_queue_buckets
Revises: 0008_queue_tallies
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_queue_buckets"
down_revision: str | None = "0008_queue_tallies"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

SHARDS = 16
NUMBER_BLOCK = 1024
STATUSES = "('allocated', 'locked', 'ready', 'reserved')"
#: Lock-time scales and their length in seconds; names sort coarse to fine.
SCALES = (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1))


def waiting(row: str, *, locked: bool) -> str:
    """Whether ``row`` (OLD or NEW) is a paid order waiting for its car, locked or not."""
    lock = "IS NOT NULL" if locked else "IS NULL"
    return (
        f"({row}.queue_number IS NOT NULL AND {row}.locked_at {lock} "
        f"AND {row}.status IN {STATUSES})"
    )


def epoch(row: str, postgres: bool) -> str:
    """Whole seconds since 1970 of the row's lock time, the fraction cut off. SQLite keeps
    naive UTC text ('YYYY-MM-DD HH:MM:SS.ffffff'); its date functions keep milliseconds
    and round, so .9996 of a second would count in the next second: the text is cut to
    the whole second first."""
    if postgres:
        return f"floor(extract(epoch FROM {row}.locked_at))::bigint"
    return f"CAST(strftime('%s', substr({row}.locked_at, 1, 19)) AS INTEGER)"


def shard(row: str) -> str:
    return f"({row}.queue_number - 1) % {SHARDS} + 1"


def buckets(row: str) -> str:
    """SQLite: the row's buckets as (scale, bucket) pairs (columns ``column1``, ``column2``):
    its four lock-time buckets when it is locked, else its number block, coarse to fine.
    SQLite's trigger bodies have no ``IF``, hence one statement for both cases."""
    seconds = epoch(row, postgres=False)
    timed = ", ".join(f"('{name}', {seconds} / {length})" for name, length in SCALES)
    return (
        f"SELECT * FROM (VALUES {timed}) WHERE {waiting(row, locked=True)} "
        f"UNION ALL SELECT 'number', ({row}.queue_number - 1) / {NUMBER_BLOCK} "
        f"WHERE {waiting(row, locked=False)}"
    )


def add(row: str) -> str:
    """SQLite: count the row in its buckets (``WHERE TRUE``: SQLite's upsert after a SELECT)."""
    return (
        "INSERT INTO queue_buckets (configuration_code, scale, bucket, shard, waiting) "
        f"SELECT {row}.configuration_code, b.column1, b.column2, {shard(row)}, 1 "
        f"FROM ({buckets(row)}) AS b WHERE TRUE "
        "ON CONFLICT (configuration_code, scale, bucket, shard) "
        "DO UPDATE SET waiting = queue_buckets.waiting + 1"
    )


def remove(row: str) -> str:
    return (
        "UPDATE queue_buckets SET waiting = waiting - 1 "
        f"WHERE configuration_code = {row}.configuration_code AND shard = {shard(row)} "
        f"AND (scale, bucket) IN (SELECT b.column1, b.column2 FROM ({buckets(row)}) AS b)"
    )


#: The order's buckets may have changed: its waiting state, configuration, number or lock time.
CHANGED = (
    "(OLD.status IS DISTINCT FROM NEW.status "
    "OR OLD.configuration_code IS DISTINCT FROM NEW.configuration_code "
    "OR OLD.queue_number IS DISTINCT FROM NEW.queue_number "
    "OR OLD.locked_at IS DISTINCT FROM NEW.locked_at)"
)
SQLITE_CHANGED = CHANGED.replace("IS DISTINCT FROM", "IS NOT")


def counted(row: str) -> str:
    """Whether ``row`` is in a bucket: a paid order waiting for its car, locked or not."""
    return f"({row}.queue_number IS NOT NULL AND {row}.status IN {STATUSES})"


# PostgreSQL gets a function with branches and the seconds computed once (SQLite's
# statements above, without IF, cost a lock about 20 us more there: bench.trigger_cost).
POSTGRES_FUNCTION = f"""
CREATE FUNCTION queue_bucket() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    s bigint;
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND {counted('OLD')} THEN
        IF OLD.locked_at IS NULL THEN
            UPDATE queue_buckets SET waiting = waiting - 1
            WHERE configuration_code = OLD.configuration_code AND scale = 'number'
            AND bucket = (OLD.queue_number - 1) / {NUMBER_BLOCK} AND shard = {shard('OLD')};
        ELSE
            s := {epoch('OLD', True)};
            UPDATE queue_buckets SET waiting = waiting - 1
            WHERE configuration_code = OLD.configuration_code AND shard = {shard('OLD')}
            AND (scale, bucket) IN ({", ".join(f"('{n}', s / {n_len})" for n, n_len in SCALES)});
        END IF;
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') AND {counted('NEW')} THEN
        IF NEW.locked_at IS NULL THEN
            INSERT INTO queue_buckets (configuration_code, scale, bucket, shard, waiting)
            VALUES (NEW.configuration_code, 'number', (NEW.queue_number - 1) / {NUMBER_BLOCK},
                    {shard('NEW')}, 1)
            ON CONFLICT (configuration_code, scale, bucket, shard)
            DO UPDATE SET waiting = queue_buckets.waiting + 1;
        ELSE
            s := {epoch('NEW', True)};
            INSERT INTO queue_buckets (configuration_code, scale, bucket, shard, waiting)
            VALUES {", ".join(f"(NEW.configuration_code, '{n}', s / {n_len}, {shard('NEW')}, 1)" for n, n_len in SCALES)}
            ON CONFLICT (configuration_code, scale, bucket, shard)
            DO UPDATE SET waiting = queue_buckets.waiting + 1;
        END IF;
    END IF;
    RETURN NULL;
END
$$
"""
POSTGRES_TRIGGERS = {
    "orders_queue_bucket_insert": ("INSERT", counted("NEW")),
    "orders_queue_bucket_update": (
        "UPDATE",
        f"({counted('OLD')} OR {counted('NEW')}) AND {CHANGED}",
    ),
    "orders_queue_bucket_delete": ("DELETE", counted("OLD")),
}
SQLITE_TRIGGERS = {
    "orders_queue_bucket_insert": ("INSERT", counted("NEW"), [add("NEW")]),
    "orders_queue_bucket_update": (
        "UPDATE",
        f"({counted('OLD')} OR {counted('NEW')}) AND {SQLITE_CHANGED}",
        [remove("OLD"), add("NEW")],
    ),
    "orders_queue_bucket_delete": ("DELETE", counted("OLD"), [remove("OLD")]),
}


def upgrade() -> None:
    postgres = _postgres()
    op.create_table(
        "queue_buckets",
        sa.Column("configuration_code", sa.String(16), nullable=False),
        sa.Column("scale", sa.String(8), nullable=False),
        sa.Column("bucket", sa.BigInteger(), nullable=False),
        sa.Column("shard", sa.Integer(), nullable=False),
        sa.Column("waiting", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "configuration_code", "scale", "bucket", "shard", name=op.f("pk_queue_buckets")
        ),
    )
    # The orders already waiting, counted now (the trigger counts every move from here on).
    scale_of = (
        "(VALUES "
        + ", ".join(f"('{name}', {length})" for name, length in SCALES)
        + ") AS s (name, length)"
        if postgres
        else "(SELECT 'day' AS name, 86400 AS length UNION ALL SELECT 'hour', 3600 "
        "UNION ALL SELECT 'minute', 60 UNION ALL SELECT 'second', 1) AS s"
    )
    op.execute(
        "INSERT INTO queue_buckets (configuration_code, scale, bucket, shard, waiting) "
        f"SELECT configuration_code, s.name, {epoch('orders', postgres)} / s.length, "
        f"{shard('orders')}, count(*) FROM orders CROSS JOIN {scale_of} "
        f"WHERE {waiting('orders', locked=True)} "
        f"GROUP BY configuration_code, s.name, {epoch('orders', postgres)} / s.length, "
        f"{shard('orders')} "
        "UNION ALL "
        f"SELECT configuration_code, 'number', (queue_number - 1) / {NUMBER_BLOCK}, "
        f"{shard('orders')}, count(*) FROM orders WHERE {waiting('orders', locked=False)} "
        f"GROUP BY configuration_code, (queue_number - 1) / {NUMBER_BLOCK}, {shard('orders')}"
    )
    if postgres:
        op.execute(POSTGRES_FUNCTION)
        for name, (event, when) in POSTGRES_TRIGGERS.items():
            op.execute(
                f"CREATE TRIGGER {name} AFTER {event} ON orders FOR EACH ROW "
                f"WHEN ({when}) EXECUTE FUNCTION queue_bucket()"
            )
    else:
        for name, (event, when, statements) in SQLITE_TRIGGERS.items():
            body = "; ".join(statements)
            op.execute(
                f"CREATE TRIGGER {name} AFTER {event} ON orders FOR EACH ROW "
                f"WHEN {when} BEGIN {body}; END"
            )


def downgrade() -> None:
    for name in POSTGRES_TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}" + (" ON orders" if _postgres() else ""))
    if _postgres():
        op.execute("DROP FUNCTION IF EXISTS queue_bucket()")
    op.drop_table("queue_buckets")


def _postgres() -> bool:
    return op.get_context().dialect.name == "postgresql"
