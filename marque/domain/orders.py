"""The order's life as an explicit transition table (GUIDE §3).

Every move is ``(state, event) -> next state``; anything else raises InvalidTransition
naming the current state, the event and the events allowed now. Each accepted move
yields a StatusChange recording who, when and why.

    pending_payment --pay--> reserved
    pending_payment --expire--> expired          (nothing was taken)
    pending_payment --cancel--> cancelled        (nothing was taken)
    pending_payment --change_configuration--> pending_payment   (same terms, repriced)
    reserved --change_configuration--> reserved  (repriced; goes to the back of the queue)
    reserved --lock | auto_lock--> locked
    locked --allocate--> allocated
    allocated --pay_balance--> ready
    ready --hand_over--> delivered
    reserved | locked | allocated --cancel--> cancelled   (refund per the accepted terms)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from marque.domain.errors import N_, InvalidTransition
from marque.domain.identity import Actor


class OrderStatus(StrEnum):
    PENDING_PAYMENT = "pending_payment"
    RESERVED = "reserved"
    LOCKED = "locked"
    ALLOCATED = "allocated"
    READY = "ready"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


class OrderEvent(StrEnum):
    PAY = "pay"
    EXPIRE = "expire"
    CHANGE_CONFIGURATION = "change_configuration"
    LOCK = "lock"
    AUTO_LOCK = "auto_lock"
    ALLOCATE = "allocate"
    PAY_BALANCE = "pay_balance"
    HAND_OVER = "hand_over"
    CANCEL = "cancel"


S, E = OrderStatus, OrderEvent

TRANSITIONS: Final[Mapping[tuple[OrderStatus, OrderEvent], OrderStatus]] = MappingProxyType(
    {
        (S.PENDING_PAYMENT, E.PAY): S.RESERVED,
        (S.PENDING_PAYMENT, E.EXPIRE): S.EXPIRED,
        (S.PENDING_PAYMENT, E.CANCEL): S.CANCELLED,
        (S.PENDING_PAYMENT, E.CHANGE_CONFIGURATION): S.PENDING_PAYMENT,
        (S.RESERVED, E.CHANGE_CONFIGURATION): S.RESERVED,
        (S.RESERVED, E.LOCK): S.LOCKED,
        (S.RESERVED, E.AUTO_LOCK): S.LOCKED,
        (S.RESERVED, E.CANCEL): S.CANCELLED,
        (S.LOCKED, E.ALLOCATE): S.ALLOCATED,
        (S.LOCKED, E.CANCEL): S.CANCELLED,
        (S.ALLOCATED, E.PAY_BALANCE): S.READY,
        (S.ALLOCATED, E.CANCEL): S.CANCELLED,
        (S.READY, E.HAND_OVER): S.DELIVERED,
    }
)

#: How messages name each status mid-sentence (msgids; translate before showing).
STATUS_LABELS: Final[Mapping[OrderStatus, str]] = MappingProxyType(
    {
        S.PENDING_PAYMENT: N_("waiting for payment"),
        S.RESERVED: N_("reserved"),
        S.LOCKED: N_("locked"),
        S.ALLOCATED: N_("allocated"),
        S.READY: N_("ready for handover"),
        S.DELIVERED: N_("delivered"),
        S.CANCELLED: N_("cancelled"),
        S.EXPIRED: N_("expired"),
    }
)

TERMINAL: Final = frozenset({S.DELIVERED, S.CANCELLED, S.EXPIRED})
#: States in which the buyer's money is held by the maker (a refund quote is meaningful).
HOLDING: Final = frozenset({S.RESERVED, S.LOCKED, S.ALLOCATED, S.READY})


@dataclass(frozen=True)
class StatusChange:
    from_status: OrderStatus
    to_status: OrderStatus
    event: OrderEvent
    actor: str
    at: datetime
    reason: str


def allowed_events(status: OrderStatus) -> list[OrderEvent]:
    return [event for (state, event) in TRANSITIONS if state is status]


def transition(
    status: OrderStatus,
    event: OrderEvent,
    *,
    actor: Actor,
    at: datetime,
    reason: str,
    subject: str = "order",
) -> StatusChange:
    """Decide one move. Raises InvalidTransition (409, ``order.invalid_transition``)."""
    if at.tzinfo is None:
        raise ValueError("transition times must be timezone-aware")
    target = TRANSITIONS.get((status, event))
    if target is None:
        raise InvalidTransition(
            subject=subject,
            state=status,
            event=event,
            allowed=[str(e) for e in allowed_events(status)],
            code="order.invalid_transition",
        )
    return StatusChange(status, target, event, actor.ref, at, reason)


__all__ = [
    "HOLDING",
    "STATUS_LABELS",
    "OrderEvent",
    "OrderStatus",
    "StatusChange",
    "TERMINAL",
    "TRANSITIONS",
    "allowed_events",
    "transition",
]
