"""Limited-edition units, queue numbers and on-sale times (SQLAlchemy Core). Never commits.

Each hot-path method is one statement that checks and writes at once:

- ``claim_unit``: ``UPDATE edition_units SET order_id = ... WHERE id = (SELECT id ... WHERE
  held_until < now AND number <= cap ORDER BY held_until LIMIT 1 FOR UPDATE SKIP LOCKED)
  RETURNING number``. Concurrent buyers skip each other's rows instead of queueing on one.
  Only when that finds nothing does it top the edition up to its cap (units are created
  lazily, so a cap raised in the catalogue takes effect) and look again, a few times while
  units that look free are held by claims still in flight (so a unit that is about to come
  back is not reported sold out).
- ``next_queue_number``: the same trick on ``SHARDS`` counter rows per configuration, taking
  the least advanced free shard, so numbers are unique; a burst may leave a few holes,
  which the next payments fill first.

SQLite has no row locks: its writers are serialised by ``BEGIN IMMEDIATE`` (see
adapters/db/engine.py), which makes the same statements exact there.

The statements are ``Prepared`` (built once at import, adapters/db/prepared.py). Those that
lock are prepared in two forms, skipping locked rows or waiting for them (the last resort);
SQLite's compiler leaves ``FOR UPDATE`` out, so the same two serve it.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    and_,
    bindparam,
    delete,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from marque.adapters.db.prepared import Prepared, bound
from marque.adapters.db.repositories import queue_places
from marque.adapters.db.tables.catalog import models, trims
from marque.adapters.db.tables.launch import (
    FREE,
    SHARDS,
    SOLD,
    edition_units,
    queue_counters,
    queue_tallies,
)
from marque.adapters.db.tables.orders import WAITING_LOCKED, orders
from marque.domain.launch import EditionStock, TallyMismatch
from marque.domain.order_entities import Order

U, Q, T = edition_units, queue_counters, queue_tallies

_EDITION = and_(U.c.model_code == bindparam("b_model"), U.c.trim_code == bindparam("b_trim"))
_LIMITED_TRIM = and_(
    trims.c.model_code == bindparam("b_model"),
    trims.c.code == bindparam("b_trim"),
    trims.c.limited_edition.is_(True),
)


#: A unit within the edition's cap whose hold (if any) has run out, as this statement sees it.
_FREE_WITHIN_CAP = and_(
    _EDITION,
    U.c.held_until < bindparam("b_now"),
    U.c.number
    <= select(trims.c.unit_cap)
    .where(trims.c.model_code == bindparam("b_model"), trims.c.code == bindparam("b_trim"))
    .scalar_subquery(),
)


def _claim(*, wait: bool) -> Prepared:
    """Take the free unit held longest ago (within the cap) for ``b_order_id``."""
    pick = (
        select(U.c.id)
        .where(_FREE_WITHIN_CAP)
        .order_by(U.c.held_until, U.c.number)
        .limit(1)
        .with_for_update(skip_locked=not wait)
    )
    return Prepared(
        update(U)
        .where(U.c.id == pick.scalar_subquery())
        .values(**bound("order_id", "held_until"), taken_at=bindparam("b_now"))
        .returning(U.c.number)
    )


_CLAIM = {False: _claim(wait=False), True: _claim(wait=True)}
#: A unit within the cap that looks free as committed (claims in flight still look free).
_ANY_FREE = Prepared(select(U.c.number).where(_FREE_WITHIN_CAP).limit(1))
#: Seconds between looks while units that look free are held by claims in flight: about
#: 1.3 s in all, far longer than a reservation's transaction.
CLAIM_PAUSES = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4, 0.5)
_CAP_AND_TOP = Prepared(
    select(
        trims.c.unit_cap.label("cap"),
        select(func.max(U.c.number)).where(_EDITION).scalar_subquery().label("top"),
    ).where(_LIMITED_TRIM)
)
_DROP_ABOVE_CAP = Prepared(
    delete(U).where(_EDITION, U.c.number > bindparam("b_cap"), U.c.order_id.is_(None))
)
_CONFIRM = Prepared(
    update(U)
    .where(U.c.order_id == bindparam("b_order_id"))
    .values(held_until=SOLD)
    .returning(U.c.number)
)
_RELEASE = Prepared(
    update(U)
    .where(U.c.order_id == bindparam("b_order_id"))
    .values(order_id=None, held_until=FREE, taken_at=None)
    .returning(U.c.number)
)
_UNIT_OF = Prepared(select(U.c.number).where(U.c.order_id == bindparam("order_id")))
_CAP = Prepared(select(trims.c.unit_cap).where(_LIMITED_TRIM))
_SOLD_AND_HELD = Prepared(
    select(
        func.count().filter(U.c.held_until == SOLD).label("sold"),
        func.count()
        .filter(U.c.held_until >= bindparam("b_now"), U.c.held_until < SOLD)
        .label("held"),
    ).where(_EDITION, U.c.number <= bindparam("b_cap"))
)


def _take_number(*, wait: bool) -> Prepared:
    """Advance the least advanced counter shard of ``b_configuration`` by ``SHARDS``."""
    pick = (
        select(Q.c.shard)
        .where(Q.c.configuration_code == bindparam("b_configuration"))
        .order_by(Q.c.last, Q.c.shard)
        .limit(1)
        .with_for_update(skip_locked=not wait)
    )
    return Prepared(
        update(Q)
        .where(
            Q.c.configuration_code == bindparam("b_configuration"),
            Q.c.shard == pick.scalar_subquery(),
        )
        .values(last=Q.c.last + SHARDS)
        .returning(Q.c.last)
    )


_TAKE_NUMBER = {False: _take_number(wait=False), True: _take_number(wait=True)}

_TRIM_ON_SALE = Prepared(
    update(trims)
    .where(trims.c.model_code == bindparam("b_model"), trims.c.code == bindparam("b_trim"))
    .values(on_sale_at=bindparam("b_at"))
)
_MODEL_ON_SALE = Prepared(
    update(models).where(models.c.code == bindparam("b_model")).values(on_sale_at=bindparam("b_at"))
)
_MODEL_TRIMS_ON_SALE = Prepared(
    update(trims)
    .where(trims.c.model_code == bindparam("b_model"))
    .values(on_sale_at=bindparam("b_at"))
)


def _number(value: Any) -> int | None:
    return None if value is None else int(value)


class SqlLaunchRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    @property
    def _postgres(self) -> bool:
        return self.conn.dialect.name == "postgresql"

    # -- limited-edition units ------------------------------------------------------------
    def claim_unit(
        self,
        model_code: str,
        trim_code: str,
        order_id: str,
        *,
        held_until: datetime | None,
        now: datetime,
    ) -> int | None:
        """Give ``order_id`` a free unit until ``held_until`` (None: sold, for a paid order);
        its number, or None when none is left."""
        params = {
            "b_model": model_code,
            "b_trim": trim_code,
            "b_order_id": order_id,
            "b_held_until": SOLD if held_until is None else held_until,
            "b_now": now,
        }
        number = _CLAIM[False].scalar(self.conn, params)
        if number is not None:
            return int(number)
        # Nothing free that nobody holds. Create missing units first (the first buyers of an
        # edition, or a raised cap; cheap when there is nothing to do) and take one of them.
        if self._top_up(model_code, trim_code):
            number = _CLAIM[False].scalar(self.conn, params)
            if number is not None:
                return int(number)
        if not self._postgres:
            return None  # SQLite: writers are serialised, so nothing is held elsewhere
        # Units that look free may be held by claims still in flight, which may roll back:
        # look again as they commit, and answer "sold out" only when none looks free. Never
        # wait on their row locks first: a claim keeps a lock on each row it stepped past
        # (taken meanwhile), so two waiting claims that stepped in different orders deadlock.
        for pause in CLAIM_PAUSES:
            if _ANY_FREE.scalar(self.conn, params) is None:
                return None
            time.sleep(pause)
            number = _CLAIM[False].scalar(self.conn, params)
            if number is not None:
                return int(number)
        # Held that long (a stalled transaction): wait for the rows themselves.
        return _number(_CLAIM[True].scalar(self.conn, params))

    def _top_up(self, model_code: str, trim_code: str) -> bool:
        """Bring the edition's units in line with its cap (one read when they are): create
        the missing ones, drop free ones above it. True when units were added."""
        edition = {"b_model": model_code, "b_trim": trim_code}
        row = _CAP_AND_TOP.first(self.conn, edition)
        if row is None or row["cap"] is None:
            return False
        cap, top = int(row["cap"]), int(row["top"] or 0)
        if top > cap:
            _DROP_ABOVE_CAP.run(self.conn, {**edition, "b_cap": cap})
        if top >= cap:
            return False
        # Rare (an edition's first buyers, a raised cap) and of any length: an executemany.
        rows = [
            {
                "model_code": model_code,
                "trim_code": trim_code,
                "number": number,
                "order_id": None,
                "held_until": FREE,
                "taken_at": None,
            }
            for number in range(top + 1, cap + 1)
        ]
        dialect = postgresql if self._postgres else sqlite
        self.conn.execute(
            dialect.insert(U).on_conflict_do_nothing(
                index_elements=["model_code", "trim_code", "number"]
            ),
            rows,
        )
        return True

    def confirm_unit(self, order_id: str) -> int | None:
        """The order's unit becomes sold; its number, or None when the order holds none (its
        hold ran out and another buyer took the unit)."""
        return _number(_CONFIRM.scalar(self.conn, {"b_order_id": order_id}))

    def release_unit(self, order_id: str) -> int | None:
        """Give the order's unit back to the edition; its number, or None if it held none."""
        return _number(_RELEASE.scalar(self.conn, {"b_order_id": order_id}))

    def unit_of(self, order_id: str) -> int | None:
        return _number(_UNIT_OF.scalar(self.conn, {"order_id": order_id}))

    def stock(self, model_code: str, trim_code: str, now: datetime) -> EditionStock | None:
        edition = {"b_model": model_code, "b_trim": trim_code}
        cap = _CAP.scalar(self.conn, edition)
        if cap is None:
            return None
        [row] = _SOLD_AND_HELD.rows(self.conn, {**edition, "b_now": now, "b_cap": cap})
        return EditionStock(model_code, trim_code, int(cap), int(row["sold"]), int(row["held"]))

    # -- queue numbers --------------------------------------------------------------------
    def next_queue_number(self, configuration_code: str) -> int:
        """The next number of the configuration's queue (unique, never reused)."""
        number = self._take_number(configuration_code, wait=False)
        if number is None:  # no counters yet, or every shard held at this instant
            self._add_shards(configuration_code)
            for pause in (0.0, 0.001, 0.002, 0.004):
                time.sleep(pause)  # shards are held only until their holders commit
                number = self._take_number(configuration_code, wait=False)
                if number is not None:
                    return number
            # Still all held: wait for one. Waiters queue on the same row, so this is
            # the last resort (each would take that shard in turn, stretching its numbers).
            number = self._take_number(configuration_code, wait=True)
        if number is None:
            raise RuntimeError(f"queue counters of {configuration_code} are missing")
        return number

    def _take_number(self, configuration_code: str, *, wait: bool) -> int | None:
        statement = _TAKE_NUMBER[wait]
        return _number(statement.scalar(self.conn, {"b_configuration": configuration_code}))

    def _add_shards(self, configuration_code: str) -> None:
        dialect = postgresql if self._postgres else sqlite
        self.conn.execute(
            dialect.insert(Q).on_conflict_do_nothing(
                index_elements=["configuration_code", "shard"]
            ),
            [
                {"configuration_code": configuration_code, "shard": shard, "last": shard - SHARDS}
                for shard in range(1, SHARDS + 1)
            ],
        )

    def ahead(self, order: Order) -> int:
        """Open paid orders of the order's configuration that will be built before it, from
        the queue buckets (repositories/queue_places.py): no count of the whole queue."""
        if order.queue_number is None:
            return 0
        if order.locked_at is None:
            return queue_places.ahead_of_unlocked(
                self.conn, order.configuration_code, order.queue_number
            )
        return queue_places.ahead_of_locked(
            self.conn, order.configuration_code, order.queue_number, order.locked_at
        )

    def ahead_from_the_back(self, order: Order) -> int:
        """``ahead`` of a locked order, from the tallies and the orders behind it: cheap for
        an order locked a moment ago, whatever the length of the queue ahead."""
        if order.queue_number is None or order.locked_at is None:
            raise ValueError(f"{order.id} is not a locked order with a place")
        return queue_places.ahead_from_the_back(
            self.conn, order.configuration_code, order.queue_number, order.locked_at
        )

    # -- queue tallies: a check and a repair, not on the launch path ------------------------
    def tally_mismatches(self) -> list[TallyMismatch]:
        shard = (orders.c.queue_number - 1) % SHARDS + 1
        counted = {
            (str(code), int(k)): int(n)
            for code, k, n in self.conn.execute(
                select(orders.c.configuration_code, shard, func.count())
                .where(WAITING_LOCKED)
                .group_by(orders.c.configuration_code, shard)
            )
        }
        tallied = {
            (str(code), int(k)): int(n)
            for code, k, n in self.conn.execute(
                select(T.c.configuration_code, T.c.shard, T.c.locked_waiting)
            )
        }
        return [
            TallyMismatch(code, k, tallied.get((code, k), 0), counted.get((code, k), 0))
            for code, k in sorted(set(counted) | set(tallied))
            if tallied.get((code, k), 0) != counted.get((code, k), 0)
        ] + queue_places.bucket_mismatches(self.conn)

    def recount_tallies(self) -> list[TallyMismatch]:
        if self._postgres:
            # Locks of other buyers wait for the recount; their trigger then counts them on
            # top of it (SQLite's writers are serialised by BEGIN IMMEDIATE already).
            self.conn.execute(text("LOCK TABLE queue_tallies, queue_buckets IN EXCLUSIVE MODE"))
        wrong = self.tally_mismatches()
        queue_places.rewrite_buckets(self.conn, [m for m in wrong if m.scale is not None])
        for mismatch in (m for m in wrong if m.scale is None):
            key = and_(
                T.c.configuration_code == mismatch.configuration_code,
                T.c.shard == mismatch.shard,
            )
            self.conn.execute(delete(T).where(key))
            if mismatch.counted:
                self.conn.execute(
                    insert(T).values(
                        configuration_code=mismatch.configuration_code,
                        shard=mismatch.shard,
                        locked_waiting=mismatch.counted,
                    )
                )
        return wrong

    def waiting(self, configuration_code: str) -> int:
        """Open paid orders of a configuration: what a newcomer at the back would wait for."""
        return queue_places.waiting(self.conn, configuration_code)

    # -- on-sale times --------------------------------------------------------------------
    def set_on_sale(self, model_code: str, trim_code: str | None, at: datetime | None) -> bool:
        """Set when the model (and all its trims) or one trim goes on sale; False if unknown."""
        if trim_code is not None:
            params = {"b_model": model_code, "b_trim": trim_code, "b_at": at}
            return _TRIM_ON_SALE.run(self.conn, params) == 1
        params = {"b_model": model_code, "b_at": at}
        if _MODEL_ON_SALE.run(self.conn, params) != 1:
            return False
        _MODEL_TRIMS_ON_SALE.run(self.conn, params)
        return True

    def ensure_units(self, model_code: str, trim_code: str) -> None:
        """Create a limited edition's units up to its cap ahead of the rush."""
        self._top_up(model_code, trim_code)


__all__ = ["SqlLaunchRepository"]
