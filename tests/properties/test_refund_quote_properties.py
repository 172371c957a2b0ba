"""Properties of the refund quote over any deposit policy, order facts and instant: what is
held is split exactly between refund and forfeit, compensation comes only from a breach,
prepayments are never kept, and the answer holds until the moment it says it will change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from marque.domain.deposits import (
    BreachKind,
    BreachRemedy,
    DepositKind,
    DepositPolicy,
    OrderFacts,
    RefundableUntil,
    RefundQuote,
    refund_quote,
)
from marque.domain.money import Money
from marque.domain.orders import HOLDING, OrderStatus

instants = st.datetimes(
    min_value=datetime(2026, 3, 1),  # noqa: DTZ001 - bounds are naive; timezones= makes aware
    max_value=datetime(2027, 3, 1),  # noqa: DTZ001
    timezones=st.just(UTC),
)
yuan = st.integers(0, 50_000).map(lambda major: Money.of_major(major, "CNY"))
# Tilted towards the cases with most rules: earnest money, refundable until the lock,
# orders that hold it, no breach.
policies = st.builds(
    DepositPolicy,
    kind=st.sampled_from([DepositKind.EARNEST, *DepositKind]),
    amount=yuan,
    refundable_until=st.sampled_from([RefundableUntil.LOCK, *RefundableUntil]),
    cooling_off_hours_after_lock=st.integers(0, 72),
    auto_lock_after_hours=st.none() | st.integers(0, 400),
    refund_within_days=st.integers(1, 30),
    breach_remedy=st.sampled_from(BreachRemedy),
)


@st.composite
def order_facts(draw: st.DrawFn) -> OrderFacts:
    """Facts as an order can have them: locked after paid, auto-lock after payment."""
    status = draw(st.sampled_from([OrderStatus.RESERVED, OrderStatus.LOCKED, *OrderStatus]))
    paid = status is not OrderStatus.PENDING_PAYMENT and draw(st.sampled_from([True] * 3 + [False]))
    paid_at = draw(instants) if paid else None
    if paid_at is None:
        return OrderFacts(status=status, held=Money.zero("CNY"))
    after_paid = st.integers(0, 400).map(lambda hours: paid_at + timedelta(hours=hours))
    locked = status not in (OrderStatus.RESERVED, OrderStatus.EXPIRED)
    return OrderFacts(
        status=status,
        held=draw(yuan),
        paid_at=paid_at,
        locked_at=draw(after_paid) if locked else None,
        breach=draw(st.sampled_from([None, None, *BreachKind])),
        auto_lock_at=draw(st.none() | after_paid) if status is OrderStatus.RESERVED else None,
    )


Situation = tuple[DepositPolicy, OrderFacts, datetime]


@st.composite
def situations(draw: st.DrawFn) -> Situation:
    """A policy, an order's facts and the instant of asking: mostly within the weeks after
    payment, where the lock, the reminder and the cooling-off happen."""
    facts = draw(order_facts())
    if facts.paid_at is None:
        now = draw(instants)
    else:
        now = facts.paid_at + timedelta(minutes=draw(st.integers(-60, 500 * 60)))
    return draw(policies), facts, now


def amounts(quote: RefundQuote) -> tuple[Money, Money, Money, str]:
    return quote.refund, quote.compensation, quote.forfeited, str(quote.rule)


@given(situations())
def test_what_is_held_is_split_exactly_between_refund_and_forfeit(situation: Situation) -> None:
    policy, facts, now = situation
    quote = refund_quote(policy, facts, now)

    assert quote.refund + quote.forfeited == facts.held
    assert Money.zero("CNY") <= quote.refund <= facts.held
    assert quote.forfeited.amount >= 0


@given(situations())
def test_compensation_comes_only_from_a_breach_and_only_adds(situation: Situation) -> None:
    policy, facts, now = situation
    quote = refund_quote(policy, facts, now)

    assert quote.compensation.amount >= 0
    assert quote.total >= quote.refund
    if quote.compensation.amount:
        assert facts.breach is not None
        assert policy.kind is DepositKind.EARNEST or policy.breach_remedy is BreachRemedy.DOUBLE
        assert quote.compensation == quote.refund == facts.held  # twice over, no more


@given(situations())
def test_prepayments_are_never_kept_while_the_order_holds_them(situation: Situation) -> None:
    policy, facts, now = situation
    quote = refund_quote(policy, facts, now)

    if facts.status in HOLDING and policy.kind is not DepositKind.EARNEST:
        assert quote.refund == facts.held
        assert quote.forfeited.amount == 0


@settings(max_examples=400)  # an announced change lies ahead in about one case in twenty
@given(situations(), st.floats(0, 1, exclude_max=True))
def test_the_quote_holds_until_the_moment_it_says_it_changes(
    situation: Situation, fraction: float
) -> None:
    policy, facts, now = situation
    quote = refund_quote(policy, facts, now)
    if quote.next_change_at is None:
        later = now + timedelta(days=400 * fraction)  # no change announced: none comes
    elif quote.next_change_at > now:
        # timedelta * float rounds to the microsecond: a fraction just under 1 can land on
        # the change itself, which is not "before" it.
        step = quote.next_change_at - now
        later = now + min(step * fraction, step - timedelta(microseconds=1))
    else:
        later = now

    assert now <= later
    assert quote.next_change_at is None or later < quote.next_change_at or later == now
    assert amounts(refund_quote(policy, facts, later)) == amounts(quote)
