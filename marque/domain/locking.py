"""When an order may lock: by the buyer's explicit, confirmed request, or by itself.

- A buyer's lock needs a paid order (``reserved``) and a ``confirm`` that proves the buyer
  saw the warning that the deposit then follows the after-lock rules of the terms.
- An automatic lock happens only when the accepted terms name ``auto_lock_after_hours``:
  ``0`` means the order locks on payment (the terms say so before the buyer pays);
  otherwise the lock waits until those hours have passed since payment AND a reminder
  was sent at least ``lock_reminder_hours_before`` hours (never fewer than 24) earlier.
  A reminder sent late pushes the lock back; the buyer always gets the full notice.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

from marque.domain.catalog.deposit_terms import DepositRules
from marque.domain.order_errors import OrderErrorCode, conflict, invalid
from marque.domain.orders import OrderStatus

#: The least notice a buyer gets before an automatic lock, whatever the terms say.
MIN_REMINDER_HOURS: Final = 24


def ensure_can_lock(order_id: str, status: OrderStatus, *, confirmed: bool) -> None:
    """Refuse a buyer's lock of an unpaid order (409) or one without confirmation (422).

    Other refusals (already locked, cancelled ...) come from the transition table.
    """
    if status is OrderStatus.PENDING_PAYMENT:
        raise conflict(OrderErrorCode.NOT_PAID, order=order_id)
    if not confirmed:
        raise invalid(OrderErrorCode.LOCK_NOT_CONFIRMED, "/confirm", order=order_id)


def locks_on_payment(rules: DepositRules) -> bool:
    return rules.auto_lock_after_hours == 0


def reminder_hours(rules: DepositRules) -> int:
    return max(MIN_REMINDER_HOURS, rules.lock_reminder_hours_before or 0)


def reminder_due_at(rules: DepositRules, paid_at: datetime) -> datetime | None:
    """When the lock reminder should go out; None when the terms never lock by themselves."""
    if rules.auto_lock_after_hours is None or locks_on_payment(rules):
        return None
    planned_lock = paid_at + timedelta(hours=rules.auto_lock_after_hours)
    return max(paid_at, planned_lock - timedelta(hours=reminder_hours(rules)))


def auto_lock_at(
    rules: DepositRules, paid_at: datetime, reminder_sent_at: datetime | None
) -> datetime | None:
    """The earliest moment the order may lock by itself, as far as known now.

    Before the reminder has gone out this is the planned time, assuming the reminder
    goes out on time; None when the terms never lock automatically.
    """
    if rules.auto_lock_after_hours is None or locks_on_payment(rules):
        return None
    planned = paid_at + timedelta(hours=rules.auto_lock_after_hours)
    notice = timedelta(hours=reminder_hours(rules))
    reminded = reminder_sent_at or max(paid_at, planned - notice)
    return max(planned, reminded + notice)


def auto_lock_due(
    rules: DepositRules,
    *,
    paid_at: datetime,
    reminder_sent_at: datetime | None,
    now: datetime,
) -> bool:
    """True when the terms allow locking now: the hours have passed and the buyer was told."""
    if reminder_sent_at is None:
        return False
    lock_at = auto_lock_at(rules, paid_at, reminder_sent_at)
    return lock_at is not None and now >= lock_at


def reminder_due(
    rules: DepositRules,
    *,
    paid_at: datetime,
    reminder_sent_at: datetime | None,
    now: datetime,
) -> bool:
    if reminder_sent_at is not None:
        return False
    due = reminder_due_at(rules, paid_at)
    return due is not None and now >= due


__all__ = [
    "MIN_REMINDER_HOURS",
    "auto_lock_at",
    "auto_lock_due",
    "ensure_can_lock",
    "locks_on_payment",
    "reminder_due",
    "reminder_due_at",
    "reminder_hours",
]
