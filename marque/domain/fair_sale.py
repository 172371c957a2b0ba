"""Fair-sale rules: how many orders one buyer may hold, so launches are not bought up.

- at most ``max_open_per_model`` open orders (waiting for payment, reserved, locked,
  allocated, ready) for one model per buyer;
- at most ``limited_edition_per_buyer`` orders (open or delivered) of one limited-edition
  trim per buyer.

Orders are personal: the terms' ``transferable`` flag is false in every demo document and
marque has no transfer operation, so an order never changes hands.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from marque.domain.order_errors import OrderErrorCode, conflict
from marque.domain.orders import OrderStatus

#: Orders that still count against the per-model limit.
OPEN_STATUSES = frozenset(
    {
        OrderStatus.PENDING_PAYMENT,
        OrderStatus.RESERVED,
        OrderStatus.LOCKED,
        OrderStatus.ALLOCATED,
        OrderStatus.READY,
    }
)
#: Orders that count as "has one" for a limited edition: any that was not called off.
HELD_STATUSES = OPEN_STATUSES | {OrderStatus.DELIVERED}


@dataclass(frozen=True)
class FairSaleLimits:
    max_open_per_model: int = 2
    limited_edition_per_buyer: int = 1

    def __post_init__(self) -> None:
        if self.max_open_per_model < 1 or self.limited_edition_per_buyer < 1:
            raise ValueError("fair-sale limits are at least 1")


@dataclass(frozen=True)
class BuyerOrder:
    """What the rules need to know about one of the buyer's existing orders."""

    id: str
    model_code: str
    trim_code: str
    status: OrderStatus


def check_fair_sale(
    limits: FairSaleLimits,
    existing: Sequence[BuyerOrder],
    *,
    model_code: str,
    trim_code: str,
    limited_edition: bool,
) -> None:
    """Raise Conflict when one more order of ``model_code``/``trim_code`` breaks a limit."""
    same_model = [o for o in existing if o.model_code == model_code]
    if limited_edition:
        held = [o for o in same_model if o.trim_code == trim_code and o.status in HELD_STATUSES]
        if len(held) >= limits.limited_edition_per_buyer:
            raise conflict(OrderErrorCode.LIMITED_EDITION_TAKEN, order=held[0].id)
    open_orders = [o for o in same_model if o.status in OPEN_STATUSES]
    if len(open_orders) >= limits.max_open_per_model:
        raise conflict(OrderErrorCode.OPEN_ORDER_LIMIT, count=len(open_orders))


__all__ = [
    "HELD_STATUSES",
    "OPEN_STATUSES",
    "BuyerOrder",
    "FairSaleLimits",
    "check_fair_sale",
]
