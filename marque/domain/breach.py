"""Has the maker broken the deposit terms? The inputs, and the terms' own definition.

The terms (``MakerBreach``) say which facts count: delivery more than N weeks after the
promised window, a price rise after the lock, a specification change after the lock.
Only the facts the terms name count, and only after the lock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from marque.domain.catalog.deposit_terms import MakerBreach
from marque.domain.deposits import BreachKind
from marque.domain.money import Money


@dataclass(frozen=True)
class BreachInputs:
    locked_at: datetime | None
    #: What the order's configuration cost when it locked (the order's price snapshot).
    price_at_lock: Money
    #: What the same configuration costs now; None when it can no longer be priced.
    current_price: Money | None
    #: True when the configuration can no longer be built as ordered.
    spec_changed: bool = False
    #: The last day of the delivery window promised at the lock, when one was promised.
    promised_delivery_by: datetime | None = None
    delivered_at: datetime | None = None
    #: A breach staff recorded by hand (e.g. after a complaint was upheld).
    recorded: BreachKind | None = None


def detect_breach(terms: MakerBreach, facts: BreachInputs, now: datetime) -> BreachKind | None:
    if facts.recorded is not None:
        return facts.recorded
    if facts.locked_at is None:
        return None
    weeks = terms.late_delivery_weeks_beyond_window
    if weeks is not None and facts.promised_delivery_by is not None:
        deadline = facts.promised_delivery_by + timedelta(weeks=weeks)
        if (facts.delivered_at or now) > deadline:
            return BreachKind.LATE_DELIVERY
    if terms.price_rise_after_lock and facts.current_price is not None:
        same_currency = facts.current_price.currency == facts.price_at_lock.currency
        if same_currency and facts.current_price > facts.price_at_lock:
            return BreachKind.PRICE_RISE
    if terms.spec_change_after_lock and facts.spec_changed:
        return BreachKind.SPEC_CHANGE
    return None


__all__ = ["BreachInputs", "detect_breach"]
