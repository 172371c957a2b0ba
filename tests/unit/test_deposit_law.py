"""Table-driven tests of the deposit law (Civil Code arts. 586-587) as refund quotes."""

from datetime import UTC, datetime, timedelta

import pytest

from marque.domain.deposits import (
    BreachKind,
    DepositKind,
    DepositPolicy,
    OrderFacts,
    RefundableUntil,
    RefundRule,
    earnest_cap,
    refund_quote,
)
from marque.domain.money import Money
from marque.domain.orders import OrderStatus

PAID_AT = datetime(2026, 3, 28, 14, 5, tzinfo=UTC)
LOCKED_AT = PAID_AT + timedelta(hours=168)
NOW = LOCKED_AT + timedelta(days=3)
FIVE_K = Money.of_major(5000, "CNY")
ZERO = Money.zero("CNY")


def policy(kind: DepositKind, **overrides: object) -> DepositPolicy:
    return DepositPolicy(kind=kind, amount=FIVE_K, auto_lock_after_hours=168, **overrides)  # type: ignore[arg-type]


CASES = [
    # kind, status, breach, expected refund, compensation, rule
    (DepositKind.EARNEST, OrderStatus.RESERVED, None, FIVE_K, ZERO, RefundRule.FULL_BEFORE_LOCK),
    (DepositKind.EARNEST, OrderStatus.LOCKED, None, ZERO, ZERO, RefundRule.FORFEITED_BY_BUYER),
    (DepositKind.EARNEST, OrderStatus.ALLOCATED, None, ZERO, ZERO, RefundRule.FORFEITED_BY_BUYER),
    (
        DepositKind.EARNEST,
        OrderStatus.LOCKED,
        BreachKind.LATE_DELIVERY,
        FIVE_K,
        FIVE_K,
        RefundRule.DOUBLE_FOR_MAKER_BREACH,
    ),
    (DepositKind.INTENT, OrderStatus.RESERVED, None, FIVE_K, ZERO, RefundRule.FULL_PREPAYMENT),
    (DepositKind.INTENT, OrderStatus.LOCKED, None, FIVE_K, ZERO, RefundRule.FULL_PREPAYMENT),
    (DepositKind.ADVANCE, OrderStatus.LOCKED, None, FIVE_K, ZERO, RefundRule.FULL_PREPAYMENT),
    (
        DepositKind.ADVANCE,
        OrderStatus.LOCKED,
        BreachKind.PRICE_RISE,
        FIVE_K,
        ZERO,
        RefundRule.FULL_FOR_MAKER_BREACH,
    ),
]


@pytest.mark.parametrize(("kind", "status", "breach", "refund", "compensation", "rule"), CASES)
def test_refund_quote_follows_the_deposit_law(
    kind: DepositKind,
    status: OrderStatus,
    breach: BreachKind | None,
    refund: Money,
    compensation: Money,
    rule: RefundRule,
) -> None:
    facts = OrderFacts(
        status=status, held=FIVE_K, paid_at=PAID_AT, locked_at=LOCKED_AT, breach=breach
    )
    quote = refund_quote(policy(kind), facts, NOW)
    assert (quote.refund, quote.compensation, quote.rule) == (refund, compensation, rule)
    assert quote.refund + quote.forfeited == FIVE_K


def test_earnest_money_cap_is_twenty_percent_of_the_price() -> None:
    assert earnest_cap(Money.of_major(249_900, "CNY")) == Money.of_major(49_980, "CNY")


def test_quote_before_lock_says_when_the_auto_lock_changes_it() -> None:
    facts = OrderFacts(status=OrderStatus.RESERVED, held=FIVE_K, paid_at=PAID_AT)
    quote = refund_quote(policy(DepositKind.EARNEST), facts, PAID_AT + timedelta(hours=1))
    assert quote.next_change_at == PAID_AT + timedelta(hours=168)


def test_cooling_off_after_lock_refunds_in_full_until_it_ends() -> None:
    terms = policy(DepositKind.EARNEST, cooling_off_hours_after_lock=72)
    facts = OrderFacts(status=OrderStatus.LOCKED, held=FIVE_K, paid_at=PAID_AT, locked_at=LOCKED_AT)
    inside = refund_quote(terms, facts, LOCKED_AT + timedelta(hours=71))
    after = refund_quote(terms, facts, LOCKED_AT + timedelta(hours=72))
    assert (inside.rule, inside.refund, inside.next_change_at) == (
        RefundRule.FULL_IN_COOLING_OFF,
        FIVE_K,
        LOCKED_AT + timedelta(hours=72),
    )
    assert (after.rule, after.refund) == (RefundRule.FORFEITED_BY_BUYER, ZERO)


def test_founders_earnest_money_locked_on_payment_is_forfeited_after_cooling_off() -> None:
    terms = policy(
        DepositKind.EARNEST, refundable_until=RefundableUntil.NEVER, cooling_off_hours_after_lock=24
    )
    facts = OrderFacts(status=OrderStatus.LOCKED, held=FIVE_K, paid_at=PAID_AT, locked_at=PAID_AT)
    assert refund_quote(terms, facts, PAID_AT + timedelta(hours=1)).refund == FIVE_K
    assert refund_quote(terms, facts, PAID_AT + timedelta(hours=25)).refund == ZERO


def test_unpaid_and_finished_orders_get_nothing_back() -> None:
    unpaid = OrderFacts(status=OrderStatus.PENDING_PAYMENT, held=ZERO)
    cancelled = OrderFacts(status=OrderStatus.CANCELLED, held=ZERO, paid_at=PAID_AT)
    assert refund_quote(policy(DepositKind.INTENT), unpaid, NOW).rule is RefundRule.NOTHING_PAID
    assert (
        refund_quote(policy(DepositKind.INTENT), cancelled, NOW).rule is RefundRule.NOT_CANCELLABLE
    )


def test_quote_message_names_the_amount_and_the_total() -> None:
    facts = OrderFacts(
        status=OrderStatus.LOCKED, held=FIVE_K, paid_at=PAID_AT, breach=BreachKind.LATE_DELIVERY
    )
    quote = refund_quote(policy(DepositKind.EARNEST), facts, NOW)
    rendered = quote.message.format(**quote.params)
    assert "¥5,000.00" in rendered
    assert "¥10,000.00" in rendered
