"""A refund's life as a transition table, and how long to wait before trying again.

    requested --send--> sent                 (the provider accepted it; settles by webhook)
    requested | retrying --attempt_failed--> retrying   (timeout, 5xx or refusal; backoff)
    retrying --send--> sent
    sent --provider_failed--> retrying       (the provider reported failure later)
    requested | retrying | sent | failed --settle--> succeeded   (the money reached the buyer)
    retrying --give_up--> failed             (too many attempts; finance takes over)
    failed --retry--> retrying               (finance asks for another round)

``settle`` is allowed from ``requested`` and ``retrying`` too because a provider's
webhook may overtake our own record of having sent the refund, and from ``failed``
because the attempt we gave up on may have been paid (a timeout whose answer was lost);
the provider's word that the money arrived wins. Every accepted move
yields a RefundStatusChange (who, when, why), stored as the refund's audit trail.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from marque.domain.errors import N_, InvalidTransition
from marque.domain.identity import Actor


class RefundStatus(StrEnum):
    REQUESTED = "requested"
    SENT = "sent"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    RETRYING = "retrying"


class RefundEvent(StrEnum):
    SEND = "send"
    ATTEMPT_FAILED = "attempt_failed"
    PROVIDER_FAILED = "provider_failed"
    SETTLE = "settle"
    GIVE_UP = "give_up"
    RETRY = "retry"
    PAY_COMPENSATION = "pay_compensation"


class RefundReason(StrEnum):
    """Why the money goes back."""

    CANCELLED = "cancelled"  # the buyer (or staff) cancelled; the quote says how much
    LATE_PAYMENT = "late_payment"  # paid after the order had expired or was cancelled
    DUPLICATE_PAYMENT = "duplicate_payment"  # a second payment for an already paid order


R, V = RefundStatus, RefundEvent

TRANSITIONS: Final[Mapping[tuple[RefundStatus, RefundEvent], RefundStatus]] = MappingProxyType(
    {
        (R.REQUESTED, V.SEND): R.SENT,
        (R.REQUESTED, V.ATTEMPT_FAILED): R.RETRYING,
        (R.REQUESTED, V.SETTLE): R.SUCCEEDED,
        (R.RETRYING, V.SEND): R.SENT,
        (R.RETRYING, V.ATTEMPT_FAILED): R.RETRYING,
        (R.RETRYING, V.SETTLE): R.SUCCEEDED,
        (R.RETRYING, V.GIVE_UP): R.FAILED,
        (R.SENT, V.SETTLE): R.SUCCEEDED,
        (R.SENT, V.PROVIDER_FAILED): R.RETRYING,
        (R.FAILED, V.RETRY): R.RETRYING,
        (R.FAILED, V.SETTLE): R.SUCCEEDED,
        # Compensation on top (earnest money returned twice over) goes by bank transfer once
        # the provider has returned the deposit itself; finance records it.
        (R.SUCCEEDED, V.PAY_COMPENSATION): R.SUCCEEDED,
    }
)

#: States in which the worker still has to send the refund.
TO_SEND: Final = frozenset({R.REQUESTED, R.RETRYING})
#: States in which the buyer is still waiting for the money.
OPEN: Final = frozenset({R.REQUESTED, R.RETRYING, R.SENT, R.FAILED})

STATUS_LABELS: Final[Mapping[RefundStatus, str]] = MappingProxyType(
    {
        R.REQUESTED: N_("requested"),
        R.SENT: N_("sent to the payment provider"),
        R.SUCCEEDED: N_("refunded"),
        R.FAILED: N_("failed, being handled by our finance team"),
        R.RETRYING: N_("being retried"),
    }
)


@dataclass(frozen=True)
class RefundStatusChange:
    from_status: RefundStatus
    to_status: RefundStatus
    event: RefundEvent
    actor: str
    at: datetime
    reason: str


def allowed_events(status: RefundStatus) -> list[RefundEvent]:
    return [event for (state, event) in TRANSITIONS if state is status]


def transition(
    status: RefundStatus, event: RefundEvent, *, actor: Actor, at: datetime, reason: str
) -> RefundStatusChange:
    """Decide one move. Raises InvalidTransition (409, ``refund.invalid_transition``)."""
    if at.tzinfo is None:
        raise ValueError("transition times must be timezone-aware")
    target = TRANSITIONS.get((status, event))
    if target is None:
        raise InvalidTransition(
            subject="refund",
            state=status,
            event=event,
            allowed=[str(e) for e in allowed_events(status)],
            code="refund.invalid_transition",
        )
    return RefundStatusChange(status, target, event, actor.ref, at, reason)


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff: base, 2 x base, 4 x base ... capped, then give up."""

    base_seconds: int = 60
    max_delay_seconds: int = 6 * 3600
    max_attempts: int = 12

    def delay(self, attempts: int) -> timedelta:
        """The wait after the ``attempts``-th failed attempt (1-based)."""
        if attempts < 1:
            raise ValueError("attempts start at 1")
        exponent = min(attempts - 1, 30)
        return timedelta(seconds=min(self.base_seconds * 2**exponent, self.max_delay_seconds))

    def exhausted(self, attempts: int) -> bool:
        return attempts >= self.max_attempts


def provider_key(refund_id: str, generation: int) -> str:
    """The idempotency key of one refund at the provider.

    A timeout is retried with the same key (the provider may have acted on it). A refund
    the provider definitively refused is retried under the next generation's key, since
    the provider would otherwise answer the old refusal again.
    """
    return refund_id if generation == 0 else f"{refund_id}.{generation}"


def expected_by(requested_at: datetime, refund_within_days: int) -> datetime:
    """When the buyer must have the money, as the accepted terms promise."""
    return requested_at + timedelta(days=refund_within_days)


__all__ = [
    "OPEN",
    "STATUS_LABELS",
    "TO_SEND",
    "TRANSITIONS",
    "RefundEvent",
    "RefundReason",
    "RefundStatus",
    "RefundStatusChange",
    "RetryPolicy",
    "allowed_events",
    "expected_by",
    "provider_key",
    "transition",
]
