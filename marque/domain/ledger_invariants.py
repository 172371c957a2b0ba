"""The invariants ``marque ledger check`` holds the books to, and how a breach is reported.

1. every posting balances (its entries sum to zero per currency);
2. per order, held = received - refunded - applied - forfeited >= 0;
3. every payment the provider captured maps to exactly one ``payment_captured`` posting,
   and no such posting exists for a payment that was not captured;
4. no refund is paid twice: at most one ``refund_settled`` posting per refund, one per
   refund that succeeded, none for a refund that did not;
5. no refund is asked for twice: at most one ``refund_requested`` posting per refund.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Invariant(StrEnum):
    BALANCED = "posting_balanced"
    HELD_NOT_NEGATIVE = "held_not_negative"
    ONE_POSTING_PER_CAPTURE = "one_posting_per_capture"
    REFUND_PAID_ONCE = "refund_paid_once"
    REFUND_REQUESTED_ONCE = "refund_requested_once"


@dataclass(frozen=True)
class Breach:
    invariant: Invariant
    subject: str  # the posting, order, payment or refund concerned
    detail: str

    def describe(self) -> str:
        return f"{self.invariant}: {self.subject}: {self.detail}"


__all__ = ["Breach", "Invariant"]
