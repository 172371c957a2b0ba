"""Fair-sale limits, when an order may lock, and what counts as the maker's breach."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from marque.domain.breach import BreachInputs, detect_breach
from marque.domain.catalog import BreachRemedy, MakerBreach
from marque.domain.deposits import BreachKind
from marque.domain.errors import Conflict, ValidationFailed
from marque.domain.fair_sale import BuyerOrder, FairSaleLimits, check_fair_sale
from marque.domain.locking import (
    auto_lock_at,
    auto_lock_due,
    ensure_can_lock,
    locks_on_payment,
    reminder_due,
    reminder_due_at,
)
from marque.domain.money import Money
from marque.domain.orders import OrderStatus
from marque.services.demo_deposit_terms import FOUNDERS_RULES, INTENT_RULES

PAID = datetime(2026, 6, 26, 14, tzinfo=UTC)
LIMITS = FairSaleLimits(max_open_per_model=2, limited_edition_per_buyer=1)


def order(status: OrderStatus, trim: str = "standard", model: str = "arc") -> BuyerOrder:
    return BuyerOrder(f"O-{trim}-{status}", model, trim, status)


def test_a_third_open_order_of_one_model_is_refused() -> None:
    existing = [order(OrderStatus.RESERVED), order(OrderStatus.PENDING_PAYMENT)]

    with pytest.raises(Conflict) as caught:
        check_fair_sale(
            LIMITS, existing, model_code="arc", trim_code="standard", limited_edition=False
        )

    assert caught.value.code == "order.open_order_limit"


def test_ended_orders_and_other_models_do_not_count() -> None:
    existing = [
        order(OrderStatus.CANCELLED),
        order(OrderStatus.EXPIRED),
        order(OrderStatus.RESERVED, model="vista"),
        order(OrderStatus.LOCKED),
    ]

    check_fair_sale(LIMITS, existing, model_code="arc", trim_code="standard", limited_edition=False)


def test_a_delivered_limited_edition_still_counts_as_the_buyers_one() -> None:
    existing = [order(OrderStatus.DELIVERED, trim="founders")]

    with pytest.raises(Conflict) as caught:
        check_fair_sale(
            LIMITS, existing, model_code="arc", trim_code="founders", limited_edition=True
        )

    assert caught.value.code == "order.limited_edition_taken"


def test_an_unpaid_order_cannot_lock_and_a_paid_one_needs_the_confirmation() -> None:
    with pytest.raises(Conflict) as unpaid:
        ensure_can_lock("O-1", OrderStatus.PENDING_PAYMENT, confirmed=True)
    assert unpaid.value.code == "order.not_paid"
    with pytest.raises(ValidationFailed) as unconfirmed:
        ensure_can_lock("O-1", OrderStatus.RESERVED, confirmed=False)
    assert unconfirmed.value.code == "order.lock_not_confirmed"
    ensure_can_lock("O-1", OrderStatus.RESERVED, confirmed=True)


def test_the_reminder_goes_out_a_day_before_the_planned_lock() -> None:
    assert reminder_due_at(INTENT_RULES, PAID) == PAID + timedelta(hours=144)
    assert auto_lock_at(INTENT_RULES, PAID, None) == PAID + timedelta(hours=168)
    assert not reminder_due(INTENT_RULES, paid_at=PAID, reminder_sent_at=None, now=PAID)
    assert reminder_due(
        INTENT_RULES, paid_at=PAID, reminder_sent_at=None, now=PAID + timedelta(hours=144)
    )


def test_no_automatic_lock_without_a_reminder_24_hours_before() -> None:
    planned = PAID + timedelta(hours=168)

    assert not auto_lock_due(INTENT_RULES, paid_at=PAID, reminder_sent_at=None, now=planned)
    late_reminder = planned - timedelta(hours=2)
    assert not auto_lock_due(
        INTENT_RULES, paid_at=PAID, reminder_sent_at=late_reminder, now=planned
    )
    assert auto_lock_due(
        INTENT_RULES,
        paid_at=PAID,
        reminder_sent_at=late_reminder,
        now=late_reminder + timedelta(hours=24),
    )


def test_terms_without_auto_lock_hours_never_lock_by_themselves() -> None:
    rules = replace(INTENT_RULES, auto_lock_after_hours=None)
    assert auto_lock_at(rules, PAID, None) is None
    assert reminder_due_at(rules, PAID) is None
    assert not auto_lock_due(
        rules, paid_at=PAID, reminder_sent_at=PAID, now=PAID + timedelta(days=999)
    )


def test_founders_terms_lock_on_payment() -> None:
    assert locks_on_payment(FOUNDERS_RULES)
    assert not locks_on_payment(INTENT_RULES)


TERMS = MakerBreach(
    late_delivery_weeks_beyond_window=4,
    price_rise_after_lock=True,
    spec_change_after_lock=True,
    remedy=BreachRemedy.DOUBLE,
)
PRICE = Money.of_major(249_900, "CNY")


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        (BreachInputs(locked_at=None, price_at_lock=PRICE, current_price=PRICE * 2), None),
        (BreachInputs(locked_at=PAID, price_at_lock=PRICE, current_price=PRICE), None),
        (
            BreachInputs(
                locked_at=PAID, price_at_lock=PRICE, current_price=PRICE + Money(1, "CNY")
            ),
            BreachKind.PRICE_RISE,
        ),
        (
            BreachInputs(
                locked_at=PAID, price_at_lock=PRICE, current_price=None, spec_changed=True
            ),
            BreachKind.SPEC_CHANGE,
        ),
        (
            BreachInputs(
                locked_at=PAID,
                price_at_lock=PRICE,
                current_price=PRICE,
                promised_delivery_by=PAID + timedelta(weeks=30),
            ),
            BreachKind.LATE_DELIVERY,
        ),
        (
            BreachInputs(
                locked_at=None,
                price_at_lock=PRICE,
                current_price=PRICE,
                recorded=BreachKind.LATE_DELIVERY,
            ),
            BreachKind.LATE_DELIVERY,
        ),
    ],
)
def test_breach_counts_only_what_the_terms_name_after_the_lock(
    facts: BreachInputs, expected: BreachKind | None
) -> None:
    now = PAID + timedelta(weeks=40)
    assert detect_breach(TERMS, facts, now) is expected
