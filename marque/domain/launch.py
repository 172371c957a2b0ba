"""Launch rules: when a trim goes on sale, the sold-out answer, and a buyer's queue place.

- A trim is on sale once both its model's and its own on-sale times have passed (a time
  left empty never holds a sale back). Before that, reserving is refused with
  ``sales.not_open``, naming the opening time; configuring is always allowed.
- A limited edition sells at most ``unit_cap`` units. A reservation takes a unit at once
  and holds it through the payment window; payment makes it sold; expiry, cancellation or
  a change to another trim gives it back. When every unit is held or sold, reserving is
  refused with ``order.sold_out`` (a hold that runs out frees its unit again).
- A paid order has a queue number within its configuration, given when the payment is
  confirmed. Build order follows lock time among locked orders, so the orders ahead of a
  buyer are: every open locked order locked earlier, and, while the buyer has not locked,
  every open locked order plus every open paid order with a smaller number. A change of
  configuration before the lock gives a new number at the end of the new configuration's
  queue; the buyer is told before confirming.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Final

from marque.domain.catalog import Model
from marque.domain.errors import N_, Conflict, NotFound
from marque.domain.orders import OrderStatus


class LaunchErrorCode(StrEnum):
    NOT_OPEN = "sales.not_open"
    SOLD_OUT = "order.sold_out"
    UNKNOWN_TRIM = "sales.unknown_trim"


MESSAGES: Final[dict[LaunchErrorCode, str]] = {
    LaunchErrorCode.NOT_OPEN: N_(
        "Sales of {model} {trim} open at {opens_at} (UTC); you can reserve from then on. "
        "Configuring is already possible."
    ),
    LaunchErrorCode.SOLD_OUT: N_(
        "All {cap} units of the limited edition {model} {trim} are reserved or sold. Units "
        "come back when a reservation is not paid in time or is cancelled; try again later."
    ),
    LaunchErrorCode.UNKNOWN_TRIM: N_("Model {model} has no trim {trim}."),
}

#: Shown before a configuration change is confirmed, and with its answer.
QUEUE_TO_BACK: Final = N_(
    "Changing the configuration sends order {order} to the back of the queue: it leaves "
    "place {number} of {configuration} and gets a new number at the end of the queue of "
    "{new_configuration}, where {ahead} paid order(s) are waiting now."
)
QUEUE_TO_BACK_UNPAID: Final = N_(
    "Order {order} has no place in a queue yet: it gets one at the end of the queue of "
    "{new_configuration} when its deposit is paid."
)

#: Paid orders that still wait for a car (they count as "ahead" of a later buyer).
WAITING: Final = frozenset(
    {OrderStatus.RESERVED, OrderStatus.LOCKED, OrderStatus.ALLOCATED, OrderStatus.READY}
)


def iso(moment: datetime) -> str:
    """``2026-06-26T14:00:00Z``: the form every API answer uses for times."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def opening_time(model: Model, trim_code: str) -> datetime | None:
    """When ``trim_code`` of ``model`` goes on sale: the later of the model's and the trim's
    times; None when neither is set (on sale)."""
    trim = model.trim(trim_code)
    times = [t for t in (model.on_sale_at, trim.on_sale_at if trim else None) if t is not None]
    return max(times) if times else None


def is_on_sale(model: Model, trim_code: str, now: datetime) -> bool:
    opens_at = opening_time(model, trim_code)
    return opens_at is None or opens_at <= now


def ensure_on_sale(model: Model, trim_code: str, now: datetime) -> None:
    """Raise SalesNotOpen before the opening time of ``trim_code``."""
    opens_at = opening_time(model, trim_code)
    if opens_at is not None and opens_at > now:
        raise SalesNotOpen(model=model.code, trim=trim_code, opens_at=iso(opens_at))


class SalesNotOpen(Conflict):
    default_code = LaunchErrorCode.NOT_OPEN
    title = N_("Sales not open yet")
    default_message = MESSAGES[LaunchErrorCode.NOT_OPEN]


class SoldOut(Conflict):
    default_code = LaunchErrorCode.SOLD_OUT
    title = N_("Sold out")
    default_message = MESSAGES[LaunchErrorCode.SOLD_OUT]


def sold_out(model_code: str, trim_code: str, cap: int | None) -> SoldOut:
    return SoldOut(model=model_code, trim=trim_code, cap=cap or 0)


def unknown_trim(model_code: str, trim_code: str) -> NotFound:
    return NotFound(
        MESSAGES[LaunchErrorCode.UNKNOWN_TRIM],
        code=LaunchErrorCode.UNKNOWN_TRIM,
        model=model_code,
        trim=trim_code,
    )


@dataclass(frozen=True)
class QueuePlace:
    """Where a paid order stands in its configuration's queue."""

    configuration_code: str
    number: int
    #: Open paid orders of the same configuration that will be built first.
    ahead: int
    locked: bool


@dataclass(frozen=True)
class TallyMismatch:
    """A queue tally (locked orders still waiting, per configuration and shard of numbers)
    or queue bucket (the same by lock time, or unlocked paid orders by number block: then
    ``scale`` and ``bucket`` say which) that disagrees with a count of those orders."""

    configuration_code: str
    shard: int
    tallied: int
    counted: int
    scale: str | None = None
    bucket: int | None = None


@dataclass(frozen=True)
class EditionStock:
    """How a limited edition stands right now (for operators and the sales command)."""

    model_code: str
    trim_code: str
    cap: int
    sold: int
    held: int

    @property
    def free(self) -> int:
        return max(0, self.cap - self.sold - self.held)


__all__ = [
    "MESSAGES",
    "QUEUE_TO_BACK",
    "QUEUE_TO_BACK_UNPAID",
    "WAITING",
    "EditionStock",
    "LaunchErrorCode",
    "QueuePlace",
    "SalesNotOpen",
    "SoldOut",
    "TallyMismatch",
    "ensure_on_sale",
    "is_on_sale",
    "iso",
    "opening_time",
    "sold_out",
    "unknown_trim",
]
