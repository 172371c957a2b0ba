"""A buyer's place in the queue read from ``queue_buckets`` (migration 0009) and
``queue_tallies`` (0008), in time that does not grow with the queue ahead. Reads touch only
the tally rows and the partial queue indexes of adapters/db/tables/orders.py, never the
orders' table rows (tests/integration/test_queue_indexes.py checks the plans).

A locked order is ahead of another when it was locked earlier (the queue number breaks
ties). So the orders ahead of one locked at ``t`` are those of every earlier day, of the
earlier hours of ``t``'s day, of its hour's earlier minutes, of its minute's earlier seconds
(bucket rows summed: at most 16 shards times the days waited, 24, 60 and 60), and those of
``t``'s own second ahead of it (a count over the queue index, a few hundred entries at a
launch's peak). A paid order not locked yet comes after every locked one, then by number:
the locked queue's tallies, the number blocks before its own, and a count within its block.
Each is one statement, so one snapshot: the same number a full count would give.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    and_,
    bindparam,
    delete,
    func,
    insert,
    literal_column,
    select,
    tuple_,
)
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import ScalarSelect

from marque.adapters.db.metadata import UtcDateTime
from marque.adapters.db.prepared import Prepared
from marque.adapters.db.tables.launch import (
    NUMBER_BLOCK,
    SHARDS,
    TIME_SCALES,
    queue_buckets,
    queue_tallies,
)
from marque.adapters.db.tables.orders import WAITING_LOCKED, WAITING_UNLOCKED, orders
from marque.domain.launch import TallyMismatch

B = queue_buckets
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SECOND = timedelta(seconds=1)
_OF_CONFIGURATION = orders.c.configuration_code == bindparam("configuration")


def _buckets(scale: str, *, below: str, from_: str | None = None) -> ScalarSelect[Any]:
    """Orders tallied in ``scale``'s buckets in [``from_``, ``below``) of the configuration
    (the scale a constant, so each sum is one range of the primary key)."""
    where = [
        B.c.configuration_code == bindparam("configuration"),
        B.c.scale == literal_column(f"'{scale}'"),
        B.c.bucket < bindparam(below, type_=B.c.bucket.type),
    ]
    if from_ is not None:
        where.append(B.c.bucket >= bindparam(from_, type_=B.c.bucket.type))
    return select(func.coalesce(func.sum(B.c.waiting), 0)).where(*where).scalar_subquery()


def _count(*where: ColumnElement[bool]) -> ScalarSelect[Any]:
    return select(func.count()).where(_OF_CONFIGURATION, *where).scalar_subquery()


#: Every locked order still waiting: the 16 tallies of migration 0008.
_LOCKED_TOTAL = (
    select(func.coalesce(func.sum(queue_tallies.c.locked_waiting), 0))
    .where(queue_tallies.c.configuration_code == bindparam("configuration"))
    .scalar_subquery()
)
_LOCK_KEY = tuple_(orders.c.locked_at, orders.c.queue_number)
_GIVEN_LOCK_KEY = tuple_(bindparam("locked_at", type_=UtcDateTime()), bindparam("queue_number"))
#: Locked in the same second as the order, before it (the queue number breaking ties).
_SAME_SECOND_AHEAD = and_(
    orders.c.locked_at >= bindparam("second_start", type_=UtcDateTime()),
    _LOCK_KEY < _GIVEN_LOCK_KEY,
)

#: Ahead of a locked order: the buckets before its lock time, then its own second's orders
#: locked before it (queue number breaking ties).
AHEAD_OF_LOCKED = Prepared(
    select(
        (
            _buckets("day", below="day")
            + _buckets("hour", from_="day_hours", below="hour")
            + _buckets("minute", from_="hour_minutes", below="minute")
            + _buckets("second", from_="minute_seconds", below="second")
            + _count(WAITING_LOCKED, _SAME_SECOND_AHEAD)
        ).label("n")
    )
)
#: Ahead of a paid order not locked yet: every locked one, the number blocks before its own,
#: and the smaller numbers of its block.
AHEAD_OF_UNLOCKED = Prepared(
    select(
        (
            _LOCKED_TOTAL
            + _buckets("number", below="block")
            + _count(
                WAITING_UNLOCKED,
                orders.c.queue_number >= bindparam("block_first"),
                orders.c.queue_number < bindparam("queue_number"),
            )
        ).label("n")
    )
)
#: Ahead of a locked order, counted from the back: every locked order still waiting but
#: itself and those behind it (few for one locked a moment ago: what the lock answers).
AHEAD_OF_LOCKED_FROM_THE_BACK = Prepared(
    select((_LOCKED_TOTAL - 1 - _count(WAITING_LOCKED, _LOCK_KEY > _GIVEN_LOCK_KEY)).label("n"))
)
#: Every paid order of a configuration still waiting: a newcomer's place at the back.
COUNT_WAITING = Prepared(
    select(
        (
            _LOCKED_TOTAL
            + select(func.coalesce(func.sum(B.c.waiting), 0))
            .where(
                B.c.configuration_code == bindparam("configuration"),
                B.c.scale == literal_column("'number'"),
            )
            .scalar_subquery()
        ).label("n")
    )
)


def seconds_of(moment: datetime) -> int:
    """Whole seconds since 1970, as the trigger computes them (exact: no float)."""
    return (moment - EPOCH) // SECOND


def lock_time_params(locked_at: datetime) -> dict[str, Any]:
    second = seconds_of(locked_at)
    day, hour, minute = second // 86400, second // 3600, second // 60
    return {
        "day": day,
        "day_hours": day * 24,
        "hour": hour,
        "hour_minutes": hour * 60,
        "minute": minute,
        "minute_seconds": minute * 60,
        "second": second,
        "second_start": EPOCH + second * SECOND,
        "locked_at": locked_at,
    }


def ahead_of_locked(conn: Connection, configuration: str, number: int, locked_at: datetime) -> int:
    params = lock_time_params(locked_at)
    params.update(configuration=configuration, queue_number=number)
    return int(AHEAD_OF_LOCKED.scalar(conn, params))


def ahead_from_the_back(
    conn: Connection, configuration: str, number: int, locked_at: datetime
) -> int:
    params = {"configuration": configuration, "queue_number": number, "locked_at": locked_at}
    return int(AHEAD_OF_LOCKED_FROM_THE_BACK.scalar(conn, params))


def ahead_of_unlocked(conn: Connection, configuration: str, number: int) -> int:
    block = (number - 1) // NUMBER_BLOCK
    params = {
        "configuration": configuration,
        "queue_number": number,
        "block": block,
        "block_first": block * NUMBER_BLOCK + 1,
    }
    return int(AHEAD_OF_UNLOCKED.scalar(conn, params))


def waiting(conn: Connection, configuration: str) -> int:
    return int(COUNT_WAITING.scalar(conn, {"configuration": configuration}))


# -- the check and the repair (`marque sales queue-check`), not on the launch path -------
Key = tuple[str, str, int, int]  # configuration, scale, bucket, shard


def _expected(conn: Connection) -> Counter[Key]:
    """The buckets counted from the orders themselves."""
    counted: Counter[Key] = Counter()
    rows = conn.execute(
        select(orders.c.configuration_code, orders.c.queue_number, orders.c.locked_at).where(
            WAITING_LOCKED | WAITING_UNLOCKED
        )
    )
    for code, number, locked_at in rows:
        shard = (number - 1) % SHARDS + 1
        if locked_at is None:
            counted[(code, "number", (number - 1) // NUMBER_BLOCK, shard)] += 1
            continue
        second = seconds_of(locked_at)
        for scale, length in TIME_SCALES:
            counted[(code, scale, second // length, shard)] += 1
    return counted


def bucket_mismatches(conn: Connection) -> list[TallyMismatch]:
    counted = _expected(conn)
    tallied: dict[Key, int] = {
        (str(code), str(scale), int(bucket), int(shard)): int(n)
        for code, scale, bucket, shard, n in conn.execute(
            select(B.c.configuration_code, B.c.scale, B.c.bucket, B.c.shard, B.c.waiting)
        )
    }
    return [
        TallyMismatch(key[0], key[3], tallied.get(key, 0), counted.get(key, 0), key[1], key[2])
        for key in sorted(set(counted) | set(tallied))
        if tallied.get(key, 0) != counted.get(key, 0)
    ]


def rewrite_buckets(conn: Connection, wrong: list[TallyMismatch]) -> None:
    for mismatch in wrong:
        assert mismatch.scale is not None
        assert mismatch.bucket is not None
        key = and_(
            B.c.configuration_code == mismatch.configuration_code,
            B.c.scale == mismatch.scale,
            B.c.bucket == mismatch.bucket,
            B.c.shard == mismatch.shard,
        )
        conn.execute(delete(B).where(key))
        if mismatch.counted:
            conn.execute(
                insert(B).values(
                    configuration_code=mismatch.configuration_code,
                    scale=mismatch.scale,
                    bucket=mismatch.bucket,
                    shard=mismatch.shard,
                    waiting=mismatch.counted,
                )
            )


__all__ = [
    "ahead_from_the_back",
    "ahead_of_locked",
    "ahead_of_unlocked",
    "bucket_mismatches",
    "lock_time_params",
    "rewrite_buckets",
    "seconds_of",
    "waiting",
]
