"""Launch-night tables: numbered limited-edition units, sharded queue counters and tallies.

All three avoid the one hot row every buyer would otherwise queue on (docs/decisions.md,
"Launch night"):

- ``edition_units``: one row per unit of a limited edition, numbered 1..cap. A reservation
  claims the free unit with the oldest ``held_until`` that no other transaction holds
  (``FOR UPDATE SKIP LOCKED`` on PostgreSQL), so concurrent buyers take different rows.
  ``held_until`` says whose the unit is: ``FREE`` (1970) when nobody's, the end of the
  payment window while a reservation waits for its deposit, ``SOLD`` (9999) once paid. A
  hold whose time has passed is free again at once, even before the expiry job runs.
  ``order_id`` is unique: an order holds at most one unit.
- ``queue_counters``: each configuration's queue numbers come from ``SHARDS`` counter rows;
  shard k hands out k, k + SHARDS, k + 2 * SHARDS ... and a payment takes the least
  advanced shard nobody holds, so numbers stay unique while up to ``SHARDS`` payments of
  one configuration commit at the same time (a burst may leave holes, which the next
  payments fill first: docs/decisions.md).
- ``queue_tallies``: per configuration and shard of queue numbers, the locked orders still
  waiting for their car: a buyer who has just locked is told their place from the sum
  instead of a count of every locked order ahead. A table apart from the counters, so that
  a lock never waits for a payment holding a counter row.
- ``queue_buckets``: the same orders tallied by lock time (day, hour, minute and second
  buckets) and the paid ones not locked yet by blocks of queue numbers, per shard: a buyer's
  place is the sum of the buckets before theirs and a count of their own bucket's orders
  ahead, whatever the length of the queue.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

from sqlalchemy import BigInteger, Column, Index, Integer, String, Table, UniqueConstraint

from marque.adapters.db.metadata import UtcDateTime, metadata

#: ``held_until`` of a unit nobody holds.
FREE: Final = datetime(1970, 1, 1, tzinfo=UTC)
#: ``held_until`` of a unit whose order is paid: never free again unless released.
SOLD: Final = datetime(9999, 12, 31, tzinfo=UTC)
#: Counter rows per configuration: payments of one configuration that can take a number
#: at the same moment without waiting for each other.
SHARDS: Final = 16

edition_units = Table(
    "edition_units",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("model_code", String(32), nullable=False),
    Column("trim_code", String(32), nullable=False),
    Column("number", Integer, nullable=False),
    Column("order_id", String(20), nullable=True),
    Column("held_until", UtcDateTime(), nullable=False),
    Column("taken_at", UtcDateTime(), nullable=True),
    UniqueConstraint("model_code", "trim_code", "number"),
    UniqueConstraint("order_id"),
    Index("ix_edition_units_free", "model_code", "trim_code", "held_until", "number"),
)

queue_counters = Table(
    "queue_counters",
    metadata,
    Column("configuration_code", String(16), primary_key=True),
    Column("shard", Integer, primary_key=True),
    # The last number this shard handed out (shard - SHARDS before its first).
    Column("last", Integer, nullable=False),
)
queue_tallies = Table(
    "queue_tallies",
    metadata,
    Column("configuration_code", String(16), primary_key=True),
    Column("shard", Integer, primary_key=True),
    # Locked orders still waiting whose number is of this shard; kept by a trigger on orders
    # (migration 0008), so the sum over shards is the length of a configuration's locked queue.
    Column("locked_waiting", Integer, nullable=False),
)

#: Lock-time scales of ``queue_buckets`` and their length in seconds, coarse to fine (the
#: names sort in that order too, which is the order the trigger locks them in).
TIME_SCALES: Final = (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1))
#: Paid orders not locked yet are tallied in blocks of this many queue numbers.
NUMBER_BLOCK: Final = 1024

queue_buckets = Table(
    "queue_buckets",
    metadata,
    Column("configuration_code", String(16), primary_key=True),
    # "day", "hour", "minute", "second" (lock time) or "number" (not locked yet).
    Column("scale", String(8), primary_key=True),
    # Whole seconds since 1970 divided by the scale's length, or (queue number - 1) // 1024.
    Column("bucket", BigInteger, primary_key=True),
    Column("shard", Integer, primary_key=True),
    # Kept by a trigger on orders (migration 0009).
    Column("waiting", Integer, nullable=False),
)

__all__ = [
    "FREE",
    "NUMBER_BLOCK",
    "SHARDS",
    "SOLD",
    "TIME_SCALES",
    "edition_units",
    "queue_buckets",
    "queue_counters",
    "queue_tallies",
]
