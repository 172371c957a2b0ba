"""Reconciliation of books against a settlement report, and refund-quote messages that name
the deposit kind in the reader's language."""

from datetime import UTC, datetime

from marque.domain.deposits import (
    BreachKind,
    DepositKind,
    DepositPolicy,
    OrderFacts,
    refund_quote,
)
from marque.domain.money import Money
from marque.domain.orders import OrderStatus
from marque.domain.reconciliation import (
    BookLine,
    LineKind,
    MismatchProblem,
    ProviderLine,
    reconcile,
)
from marque.i18n import Translator

CNY = "CNY"


def test_matching_lines_reconcile_and_every_difference_is_named() -> None:
    book = [
        BookLine(LineKind.PAYMENT, "P-1", Money(500_000, CNY)),
        BookLine(LineKind.PAYMENT, "P-2", Money(500_000, CNY)),
        BookLine(LineKind.PAYMENT, "P-2", Money(500_000, CNY)),  # posted twice
        BookLine(LineKind.REFUND, "R-1", Money(500_000, CNY)),  # the provider never paid it
    ]
    provider = [
        ProviderLine(LineKind.PAYMENT, "P-1", "sbp_1", Money(500_000, CNY)),
        ProviderLine(LineKind.PAYMENT, "P-2", "sbp_2", Money(500_000, CNY)),
        ProviderLine(LineKind.PAYMENT, "P-3", "sbp_3", Money(100, CNY)),  # not in our books
    ]

    matched, mismatches = reconcile(book, provider)

    assert matched == 1
    found = {(m.problem, m.kind, m.merchant_reference) for m in mismatches}
    assert found == {
        (MismatchProblem.AMOUNT_DIFFERS, LineKind.PAYMENT, "P-2"),
        (MismatchProblem.MISSING, LineKind.PAYMENT, "P-3"),
        (MismatchProblem.EXTRA, LineKind.REFUND, "R-1"),
    }


def test_a_quote_names_the_deposit_kind_in_the_readers_language() -> None:
    policy = DepositPolicy(kind=DepositKind.INTENT, amount=Money.of_major(5000, CNY))
    facts = OrderFacts(status=OrderStatus.RESERVED, held=Money.of_major(5000, CNY))
    quote = refund_quote(policy, facts, datetime(2026, 11, 25, tzinfo=UTC))

    assert "intent money" in quote.render(Translator("en"))
    zh = quote.render(Translator("zh-CN"))
    assert "意向金" in zh
    assert "intent" not in zh


def test_a_breach_is_named_in_the_readers_language() -> None:
    policy = DepositPolicy(kind=DepositKind.EARNEST, amount=Money.of_major(20_000, CNY))
    facts = OrderFacts(
        status=OrderStatus.LOCKED, held=Money.of_major(20_000, CNY), breach=BreachKind.PRICE_RISE
    )
    quote = refund_quote(policy, facts, datetime(2026, 11, 25, tzinfo=UTC))

    assert "a price rise after the lock" in quote.render(Translator("en"))
    assert "锁单后涨价" in quote.render(Translator("zh-CN"))
    assert "定金" in quote.render(Translator("zh-CN"))
