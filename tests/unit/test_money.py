"""Money is integer minor units plus a currency; it never mixes currencies or floats."""

from __future__ import annotations

import pytest

from marque.domain.money import CurrencyMismatch, Money, total


def test_of_major_counts_in_minor_units() -> None:
    assert Money.of_major(5_000, "CNY") == Money(500_000, "CNY")


def test_adding_and_subtracting_keep_the_currency() -> None:
    assert Money(150, "CNY") + Money(50, "CNY") - Money(25, "CNY") == Money(175, "CNY")


def test_adding_two_currencies_is_refused_with_both_named() -> None:
    with pytest.raises(CurrencyMismatch) as caught:
        Money(1, "CNY") + Money(1, "EUR")

    assert caught.value.code == "money.currency_mismatch"
    assert caught.value.params == {"left": "CNY", "right": "EUR"}


def test_comparing_two_currencies_is_refused() -> None:
    with pytest.raises(CurrencyMismatch):
        _ = Money(1, "CNY") < Money(2, "USD")


def test_a_float_amount_is_refused() -> None:
    with pytest.raises(TypeError):
        Money(1.5, "CNY")  # type: ignore[arg-type]


def test_a_boolean_amount_is_refused() -> None:
    with pytest.raises(TypeError):
        Money(True, "CNY")


def test_an_unknown_currency_is_refused() -> None:
    with pytest.raises(ValueError, match="XYZ"):
        Money(1, "XYZ")


def test_multiplying_takes_only_integers() -> None:
    assert Money(250, "CNY") * 3 == 3 * Money(250, "CNY") == Money(750, "CNY")
    with pytest.raises(TypeError):
        Money(250, "CNY") * 1.5  # type: ignore[operator]


def test_fraction_rounds_down_to_a_minor_unit() -> None:
    assert Money(999, "CNY").fraction(20, 100) == Money(199, "CNY")


def test_format_groups_thousands_and_shows_the_sign() -> None:
    assert Money(299_900_00, "CNY").format() == "¥299,900.00"
    assert str(Money(-5, "CNY")) == "-¥0.05"


def test_total_of_nothing_is_zero_in_the_currency() -> None:
    assert total([], "CNY") == Money.zero("CNY")
    assert total([Money(1, "CNY"), Money(2, "CNY")], "CNY") == Money(3, "CNY")
