from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from marque.domain import ledger
from marque.domain.ledger import Account, Entry, PostingKind, UnbalancedPosting
from marque.domain.money import Money

AT = datetime(2026, 6, 26, 14, 0, tzinfo=UTC)


def cny(yuan: int) -> Money:
    return Money.of_major(yuan, "CNY")


def test_unbalanced_posting_is_refused() -> None:
    with pytest.raises(UnbalancedPosting) as caught:
        ledger.post(
            PostingKind.PAYMENT_CAPTURED,
            [
                Entry(Account.PROVIDER_CLEARING, cny(5000)),
                Entry(Account.CUSTOMER_DEPOSITS, cny(-4999)),
            ],
            at=AT,
            reference="P-1",
        )
    assert caught.value.code == "ledger.unbalanced"


def test_payment_then_refund_with_compensation_leaves_nothing_held() -> None:
    postings = [
        ledger.payment_captured("O-1", cny(5000), at=AT, reference="P-1"),
        ledger.refund_requested("O-1", cny(5000), cny(5000), at=AT, reference="R-1"),
        ledger.refund_settled("O-1", cny(10000), at=AT, reference="R-1/settled"),
    ]
    assert ledger.held_for_order(postings, "O-1", "CNY") == cny(0)
    totals = ledger.balances(postings)
    assert totals[(Account.COMPENSATION_EXPENSE, "O-1", "CNY")] == cny(5000).amount
    assert totals[(Account.REFUNDS_PAYABLE, "O-1", "CNY")] == 0


@given(st.lists(st.integers(min_value=1, max_value=50_000_00), min_size=1, max_size=20))
def test_every_builder_balances_and_held_is_received_minus_outflows(amounts: list[int]) -> None:
    postings = []
    received = 0
    for index, amount in enumerate(amounts):
        money = Money(amount, "CNY")
        postings.append(ledger.payment_captured("O-9", money, at=AT, reference=f"P-{index}"))
        received += amount
    half = Money(received // 2, "CNY")
    postings.append(ledger.forfeited("O-9", half, at=AT, reference="F-1"))
    for posting in postings:
        assert sum(entry.amount.amount for entry in posting.entries) == 0
    assert ledger.held_for_order(postings, "O-9", "CNY") == Money(received - half.amount, "CNY")
