"""The automatic lock and its reminder, as the accepted terms allow (domain/locking.py).

``send_lock_reminders`` queues the reminder SMS for orders whose reminder is due and
fixes when the lock may happen (never less than 24 hours after the reminder);
``auto_lock`` locks the orders whose time has come. Orders are found by indexed due
times stored on the order at payment, and each order moves in its own transaction.
"""

from __future__ import annotations

import dataclasses

from marque.domain.errors import Conflict
from marque.domain.identity import SYSTEM
from marque.domain.locking import auto_lock_at, auto_lock_due
from marque.domain.orders import OrderEvent, OrderStatus
from marque.services import order_support as support
from marque.services.context import AppContext
from marque.services.notifications import Topic, announce

BATCH = 100


def send_lock_reminders(ctx: AppContext) -> int:
    now = ctx.clock()
    with ctx.uow(readonly=True) as uow:
        due = uow.orders.due(OrderStatus.RESERVED, "lock_reminder_due_at", now, BATCH)
    sent = 0
    for candidate in due:
        with ctx.uow() as uow:
            order = uow.orders.get(candidate.id)
            if order is None or order.status is not OrderStatus.RESERVED or order.paid_at is None:
                continue
            if order.lock_reminder_sent_at is not None:
                continue
            rules = support.accepted_terms(uow, order).rules
            lock_at = auto_lock_at(rules, order.paid_at, now)
            reminded = dataclasses.replace(
                order,
                lock_reminder_sent_at=now,
                lock_reminder_due_at=None,
                auto_lock_at=lock_at,
                version=order.version + 1,
                updated_at=now,
            )
            if not uow.orders.update(reminded, expected_version=order.version):
                continue
            announce(uow, Topic.LOCK_REMINDER, reminded, now, lock_at=lock_at)
            uow.commit()
            sent += 1
    return sent


def auto_lock(ctx: AppContext) -> int:
    now = ctx.clock()
    with ctx.uow(readonly=True) as uow:
        due = uow.orders.due(OrderStatus.RESERVED, "auto_lock_at", now, BATCH)
    locked = 0
    for candidate in due:
        with ctx.uow() as uow:
            order = uow.orders.get(candidate.id)
            if order is None or order.status is not OrderStatus.RESERVED or order.paid_at is None:
                continue
            rules = support.accepted_terms(uow, order).rules
            if not auto_lock_due(
                rules, paid_at=order.paid_at, reminder_sent_at=order.lock_reminder_sent_at, now=now
            ):
                continue
            try:
                moved = support.move(
                    uow,
                    order,
                    OrderEvent.AUTO_LOCK,
                    actor=SYSTEM,
                    now=now,
                    reason=(
                        f"the accepted terms lock the order {rules.auto_lock_after_hours} hours "
                        "after payment; the buyer was reminded at "
                        f"{order.lock_reminder_sent_at:%Y-%m-%d %H:%M} UTC"
                    ),
                    locked_at=now,
                    auto_lock_at=None,
                )
            except Conflict:
                continue
            announce(uow, Topic.LOCKED, moved, now)
            uow.commit()
            locked += 1
    return locked


__all__ = ["auto_lock", "send_lock_reminders"]
