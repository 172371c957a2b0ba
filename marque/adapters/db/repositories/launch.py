"""Limited-edition units, queue numbers and on-sale times (SQLAlchemy Core). Never commits.

Each hot-path method is one statement that checks and writes at once:

- ``claim_unit``: ``UPDATE edition_units SET order_id = ... WHERE id = (SELECT id ... WHERE
  held_until < now AND number <= cap ORDER BY held_until LIMIT 1 FOR UPDATE SKIP LOCKED)
  RETURNING number``. Concurrent buyers skip each other's rows instead of queueing on one.
  Only when that finds nothing does it look again, waiting for rows other transactions hold
  (so a unit that is about to come back is not reported sold out), and top the edition up to
  its cap (units are created lazily, so a cap raised in the catalogue takes effect).
- ``next_queue_number``: the same trick on ``SHARDS`` counter rows per configuration, taking
  the least advanced free shard, so numbers are unique and gapless.

SQLite has no row locks: its writers are serialised by ``BEGIN IMMEDIATE`` (see
adapters/db/engine.py), which makes the same statements exact there.
"""

from __future__ import annotations

import time
from datetime import datetime

from sqlalchemy import Connection, and_, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from marque.adapters.db.tables.catalog import models, trims
from marque.adapters.db.tables.launch import FREE, SHARDS, SOLD, edition_units, queue_counters
from marque.adapters.db.tables.orders import orders
from marque.domain.launch import WAITING, EditionStock
from marque.domain.order_entities import Order

U, Q = edition_units, queue_counters
WAITING_STATUSES = sorted(str(status) for status in WAITING)


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
        until = SOLD if held_until is None else held_until
        number = self._claim(model_code, trim_code, order_id, until, now, wait=False)
        if number is not None:
            return number
        # Nothing free that nobody holds. Create missing units first (the first buyers of an
        # edition, or a raised cap; cheap when there is nothing to do), then look again,
        # this time waiting for units other transactions hold: one that comes back is taken.
        added = self._top_up(model_code, trim_code)
        if not (added or self._postgres):
            return None  # SQLite: writers are serialised, so nothing is held elsewhere
        return self._claim(model_code, trim_code, order_id, until, now, wait=True)

    def _claim(
        self,
        model_code: str,
        trim_code: str,
        order_id: str,
        held_until: datetime,
        now: datetime,
        *,
        wait: bool,
    ) -> int | None:
        cap = (
            select(trims.c.unit_cap)
            .where(trims.c.model_code == model_code, trims.c.code == trim_code)
            .scalar_subquery()
        )
        pick = (
            select(U.c.id)
            .where(
                U.c.model_code == model_code,
                U.c.trim_code == trim_code,
                U.c.held_until < now,
                U.c.number <= cap,
            )
            .order_by(U.c.held_until, U.c.number)
            .limit(1)
        )
        if self._postgres:
            pick = pick.with_for_update(skip_locked=not wait)
        statement = (
            update(U)
            .where(U.c.id == pick.scalar_subquery())
            .values(order_id=order_id, held_until=held_until, taken_at=now)
            .returning(U.c.number)
        )
        number = self.conn.execute(statement).scalar()
        return None if number is None else int(number)

    def _top_up(self, model_code: str, trim_code: str) -> bool:
        """Bring the edition's units in line with its cap (one read when they are): create
        the missing ones, drop free ones above it. True when units were added."""
        edition = and_(U.c.model_code == model_code, U.c.trim_code == trim_code)
        highest = select(func.max(U.c.number)).where(edition).scalar_subquery()
        row = self.conn.execute(
            select(trims.c.unit_cap, highest).where(
                trims.c.model_code == model_code,
                trims.c.code == trim_code,
                trims.c.limited_edition.is_(True),
            )
        ).first()
        if row is None or row[0] is None:
            return False
        cap, top = int(row[0]), int(row[1] or 0)
        if top > cap:
            self.conn.execute(delete(U).where(edition, U.c.number > cap, U.c.order_id.is_(None)))
        if top >= cap:
            return False
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
        number = self.conn.execute(
            update(U).where(U.c.order_id == order_id).values(held_until=SOLD).returning(U.c.number)
        ).scalar()
        return None if number is None else int(number)

    def release_unit(self, order_id: str) -> int | None:
        """Give the order's unit back to the edition; its number, or None if it held none."""
        number = self.conn.execute(
            update(U)
            .where(U.c.order_id == order_id)
            .values(order_id=None, held_until=FREE, taken_at=None)
            .returning(U.c.number)
        ).scalar()
        return None if number is None else int(number)

    def unit_of(self, order_id: str) -> int | None:
        number = self.conn.execute(select(U.c.number).where(U.c.order_id == order_id)).scalar()
        return None if number is None else int(number)

    def stock(self, model_code: str, trim_code: str, now: datetime) -> EditionStock | None:
        cap = self.conn.execute(
            select(trims.c.unit_cap).where(
                trims.c.model_code == model_code,
                trims.c.code == trim_code,
                trims.c.limited_edition.is_(True),
            )
        ).scalar()
        if cap is None:
            return None
        sold = func.count().filter(U.c.held_until == SOLD)
        held = func.count().filter(U.c.held_until >= now, U.c.held_until < SOLD)
        row = self.conn.execute(
            select(sold, held).where(
                U.c.model_code == model_code, U.c.trim_code == trim_code, U.c.number <= cap
            )
        ).one()
        return EditionStock(model_code, trim_code, int(cap), int(row[0]), int(row[1]))

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
        pick = (
            select(Q.c.shard)
            .where(Q.c.configuration_code == configuration_code)
            .order_by(Q.c.last, Q.c.shard)
            .limit(1)
        )
        if self._postgres:
            pick = pick.with_for_update(skip_locked=not wait)
        statement = (
            update(Q)
            .where(
                Q.c.configuration_code == configuration_code, Q.c.shard == pick.scalar_subquery()
            )
            .values(last=Q.c.last + SHARDS)
            .returning(Q.c.last)
        )
        number = self.conn.execute(statement).scalar()
        return None if number is None else int(number)

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
        """Open paid orders of the order's configuration that will be built before it."""
        if order.queue_number is None:
            return 0
        locked = orders.c.locked_at.is_not(None)
        if order.locked_at is not None:
            before = and_(
                locked,
                or_(
                    orders.c.locked_at < order.locked_at,
                    and_(
                        orders.c.locked_at == order.locked_at,
                        orders.c.queue_number < order.queue_number,
                    ),
                ),
            )
        else:
            before = or_(locked, orders.c.queue_number < order.queue_number)
        query = select(func.count()).where(
            orders.c.configuration_code == order.configuration_code,
            orders.c.queue_number.is_not(None),
            orders.c.status.in_(WAITING_STATUSES),
            orders.c.id != order.id,
            before,
        )
        return int(self.conn.execute(query).scalar_one())

    def waiting(self, configuration_code: str) -> int:
        """Open paid orders of a configuration: what a newcomer at the back would wait for."""
        query = select(func.count()).where(
            orders.c.configuration_code == configuration_code,
            orders.c.queue_number.is_not(None),
            orders.c.status.in_(WAITING_STATUSES),
        )
        return int(self.conn.execute(query).scalar_one())

    # -- on-sale times --------------------------------------------------------------------
    def set_on_sale(self, model_code: str, trim_code: str | None, at: datetime | None) -> bool:
        """Set when the model (and all its trims) or one trim goes on sale; False if unknown."""
        if trim_code is not None:
            changed = self.conn.execute(
                update(trims)
                .where(trims.c.model_code == model_code, trims.c.code == trim_code)
                .values(on_sale_at=at)
            )
            return bool(changed.rowcount == 1)
        changed = self.conn.execute(
            update(models).where(models.c.code == model_code).values(on_sale_at=at)
        )
        if changed.rowcount != 1:
            return False
        self.conn.execute(
            update(trims).where(trims.c.model_code == model_code).values(on_sale_at=at)
        )
        return True

    def ensure_units(self, model_code: str, trim_code: str) -> None:
        """Create a limited edition's units up to its cap ahead of the rush."""
        self._top_up(model_code, trim_code)


__all__ = ["SqlLaunchRepository"]
