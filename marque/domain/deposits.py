"""Deposit policies and the refund quote: "if I cancel now, what do I get back, and why?"

The law behind the kinds (PRC Civil Code, see shared/domain.md):

- earnest money 定金 (arts. 586-587): at most 20% of the price; the payer who walks away
  loses it, the receiver who breaches returns it twice over;
- advance payment 订金 and intent money 意向金: plain prepayments, returned in full when the
  deal fails; no forfeit-or-double rule, whatever the label.

``refund_quote`` is pure: the same policy, facts and instant always give the same answer,
and cancelling pays exactly what it said at that instant.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Final

from marque.domain.catalog.deposit_terms import (
    BreachRemedy,
    DepositKind,
    DepositTerms,
    RefundableUntil,
)
from marque.domain.catalog.rules import EARNEST_CAP_PERCENT
from marque.domain.errors import N_
from marque.domain.money import Money
from marque.domain.orders import HOLDING, STATUS_LABELS, OrderStatus


class RefundRule(StrEnum):
    NOTHING_PAID = "nothing_paid"
    NOT_CANCELLABLE = "not_cancellable"
    FULL_BEFORE_LOCK = "full_before_lock"
    FULL_IN_COOLING_OFF = "full_in_cooling_off"
    FULL_PREPAYMENT = "full_prepayment"
    FORFEITED_BY_BUYER = "forfeited_by_buyer"
    DOUBLE_FOR_MAKER_BREACH = "double_for_maker_breach"
    FULL_FOR_MAKER_BREACH = "full_for_maker_breach"


class BreachKind(StrEnum):
    LATE_DELIVERY = "late_delivery"
    PRICE_RISE = "price_rise"
    SPEC_CHANGE = "spec_change"


#: Mid-sentence names of the deposit kinds; quote messages put them in ``{kind}``.
KIND_LABELS: Final[dict[DepositKind, str]] = {
    DepositKind.INTENT: N_("intent money"),
    DepositKind.EARNEST: N_("earnest money"),
    DepositKind.ADVANCE: N_("advance payment"),
}

#: What the maker did wrong, as quote messages name it in ``{breach}``.
BREACH_LABELS: Final[dict[BreachKind, str]] = {
    BreachKind.LATE_DELIVERY: N_("delivery later than promised"),
    BreachKind.PRICE_RISE: N_("a price rise after the lock"),
    BreachKind.SPEC_CHANGE: N_("a specification change after the lock"),
}

#: Params of a quote that hold an English label (a msgid) to translate before rendering.
TRANSLATED_PARAMS: Final = ("kind", "breach", "status")


@dataclass(frozen=True)
class DepositPolicy:
    """The refund-relevant part of the deposit terms a buyer accepted."""

    kind: DepositKind
    amount: Money
    refundable_until: RefundableUntil = RefundableUntil.LOCK
    cooling_off_hours_after_lock: int = 0
    auto_lock_after_hours: int | None = None
    refund_within_days: int = 7
    breach_remedy: BreachRemedy = BreachRemedy.REFUND

    @classmethod
    def from_terms(cls, terms: DepositTerms) -> DepositPolicy:
        """The refund-relevant reading of the terms document the buyer accepted."""
        rules = terms.rules
        return cls(
            kind=terms.kind,
            amount=terms.amount,
            refundable_until=rules.refundable_until,
            cooling_off_hours_after_lock=rules.cooling_off_hours_after_lock,
            auto_lock_after_hours=rules.auto_lock_after_hours,
            refund_within_days=rules.refund_within_days,
            breach_remedy=rules.maker_breach.remedy,
        )


@dataclass(frozen=True)
class OrderFacts:
    """What the quote needs to know about one order at one instant."""

    status: OrderStatus
    held: Money  # received - refunded - applied - forfeited
    paid_at: datetime | None = None
    locked_at: datetime | None = None
    breach: BreachKind | None = None
    #: When the order will lock by itself, if the terms lock it automatically and it is not
    #: locked yet (the lock may wait for the reminder; see domain/locking.py).
    auto_lock_at: datetime | None = None


@dataclass(frozen=True)
class RefundQuote:
    refund: Money  # what the buyer's deposit gives back
    compensation: Money  # paid on top by the maker (earnest money returned twice over)
    forfeited: Money
    rule: RefundRule
    message: str  # English msgid with {placeholders}; see ``params``
    params: dict[str, Any]
    next_change_at: datetime | None
    refund_by_days: int

    @property
    def total(self) -> Money:
        return self.refund + self.compensation

    def render(self, gettext: Callable[..., str]) -> str:
        """The message in one language: ``gettext(msgid, **params)`` of a Translator.

        The kind, breach and status params are English labels (msgids) themselves and are
        translated first, so a Chinese message says 定金, not ``earnest``.
        """
        params = dict(self.params)
        for name in TRANSLATED_PARAMS:
            if isinstance(params.get(name), str):
                params[name] = gettext(params[name])
        return gettext(self.message, **params)


_MESSAGES: Final[dict[RefundRule, str]] = {
    RefundRule.NOTHING_PAID: N_(
        "Nothing has been paid yet, so nothing is held and nothing is owed."
    ),
    RefundRule.NOT_CANCELLABLE: N_(
        "This order is {status}; it can no longer be cancelled for a refund."
    ),
    RefundRule.FULL_BEFORE_LOCK: N_(
        "Your {kind} of {amount} is refunded in full because the order is not locked yet."
    ),
    RefundRule.FULL_IN_COOLING_OFF: N_(
        "Your {kind} of {amount} is refunded in full during the cooling-off period after the lock."
    ),
    RefundRule.FULL_PREPAYMENT: N_(
        "Your {kind} of {amount} is a prepayment and is refunded in full."
    ),
    RefundRule.FORFEITED_BY_BUYER: N_(
        "Your earnest money of {amount} is not refunded: the order is locked and the terms you "
        "accepted make it non-refundable when the buyer cancels (Civil Code art. 587)."
    ),
    RefundRule.DOUBLE_FOR_MAKER_BREACH: N_(
        "We broke the agreement ({breach}), so your earnest money of {amount} comes back twice "
        "over: {total} in all (Civil Code art. 587)."
    ),
    RefundRule.FULL_FOR_MAKER_BREACH: N_(
        "We broke the agreement ({breach}), so your {kind} of {amount} is refunded in full."
    ),
}


def earnest_cap(price: Money) -> Money:
    """The most earnest money can be for a contract of ``price`` (art. 586)."""
    return price.fraction(EARNEST_CAP_PERCENT, 100)


def refund_quote(policy: DepositPolicy, facts: OrderFacts, now: datetime) -> RefundQuote:
    """What cancelling at ``now`` returns, by which rule, and when that answer next changes."""
    if now.tzinfo is None:
        raise ValueError("refund_quote needs an aware datetime")
    zero = Money.zero(facts.held.currency)
    held = facts.held

    def quote(
        rule: RefundRule,
        refund: Money,
        *,
        compensation: Money = zero,
        next_change_at: datetime | None = None,
        **extra: Any,
    ) -> RefundQuote:
        params: dict[str, Any] = {
            "kind": KIND_LABELS[policy.kind],
            "amount": held.format(),
            "status": STATUS_LABELS[facts.status],
            **extra,
        }
        params["total"] = (refund + compensation).format()
        return RefundQuote(
            refund=refund,
            compensation=compensation,
            forfeited=held - refund,
            rule=rule,
            message=_MESSAGES[rule],
            params=params,
            next_change_at=next_change_at,
            refund_by_days=policy.refund_within_days,
        )

    if facts.status is OrderStatus.PENDING_PAYMENT or (held.amount == 0 and facts.paid_at is None):
        return quote(RefundRule.NOTHING_PAID, zero)
    if facts.status not in HOLDING:
        return quote(RefundRule.NOT_CANCELLABLE, zero)

    if facts.breach is not None:
        # Earnest money is returned twice over by law (art. 587) whatever the terms say;
        # other kinds get what the terms promise, at least the deposit itself.
        if policy.kind is DepositKind.EARNEST or policy.breach_remedy is BreachRemedy.DOUBLE:
            return quote(
                RefundRule.DOUBLE_FOR_MAKER_BREACH,
                held,
                compensation=held,
                breach=BREACH_LABELS[facts.breach],
            )
        return quote(RefundRule.FULL_FOR_MAKER_BREACH, held, breach=BREACH_LABELS[facts.breach])

    if policy.kind is not DepositKind.EARNEST or policy.refundable_until is RefundableUntil.ALWAYS:
        return quote(RefundRule.FULL_PREPAYMENT, held)

    locked = facts.status is not OrderStatus.RESERVED
    if not locked and policy.refundable_until is RefundableUntil.LOCK:
        next_change = facts.auto_lock_at
        if next_change is None and policy.auto_lock_after_hours is not None and facts.paid_at:
            next_change = facts.paid_at + timedelta(hours=policy.auto_lock_after_hours)
        return quote(RefundRule.FULL_BEFORE_LOCK, held, next_change_at=next_change)

    # Locked (or non-refundable from payment): only the cooling-off window still refunds.
    cooling_from = facts.locked_at or facts.paid_at
    if policy.cooling_off_hours_after_lock and cooling_from is not None:
        cooling_until = cooling_from + timedelta(hours=policy.cooling_off_hours_after_lock)
        if now < cooling_until:
            return quote(RefundRule.FULL_IN_COOLING_OFF, held, next_change_at=cooling_until)
    return quote(RefundRule.FORFEITED_BY_BUYER, zero)


__all__ = [
    "BREACH_LABELS",
    "KIND_LABELS",
    "BreachKind",
    "BreachRemedy",
    "DepositKind",
    "DepositPolicy",
    "EARNEST_CAP_PERCENT",
    "OrderFacts",
    "RefundQuote",
    "RefundRule",
    "RefundableUntil",
    "earnest_cap",
    "refund_quote",
]
