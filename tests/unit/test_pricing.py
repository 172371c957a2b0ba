"""Prices come from the price book in force; the total is the base plus the options."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime, timedelta

import pytest

from marque.domain.catalog import PriceBook, configuration_code, configure
from marque.domain.money import Money
from marque.services.demo_catalog import demo_catalogue

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
ARC = demo_catalogue().offer("arc")
VISTA = demo_catalogue().offer("vista")


def book(code: str, start: datetime, end: datetime | None = None) -> PriceBook:
    return PriceBook(code, "arc", "CNY", start, end, {"standard": 1}, {})


def test_the_total_is_the_trim_base_price_plus_each_option() -> None:
    priced = configure(ARC, "founders", ["paint-aurora-green", "pack-sound"], now=NOW)

    assert priced.base_price == Money.of_major(299_900, "CNY")
    assert priced.options_price == Money.of_major(15_000 + 8_000, "CNY")
    assert priced.total_price == Money.of_major(322_900, "CNY")


def test_defaults_of_single_choice_groups_are_part_of_the_configuration() -> None:
    priced = configure(ARC, "standard", [], now=NOW)

    assert priced.option_codes == (
        "paint-graphite",
        "wheels-19-aero",
        "interior-obsidian",
        "callipers-graphite",
    )
    assert priced.total_price == Money.of_major(215_900, "CNY")


def test_options_are_listed_in_catalogue_order_with_their_groups() -> None:
    priced = configure(ARC, "performance", ["pack-winter", "wheels-21-forged"], now=NOW)

    assert [(o.group, o.code) for o in priced.options] == [
        ("paint", "paint-graphite"),
        ("wheels", "wheels-21-forged"),
        ("interior", "interior-obsidian"),
        ("brake_callipers", "callipers-graphite"),
        ("packs", "pack-winter"),
    ]
    assert priced.options[1].price == Money.of_major(18_000, "CNY")


def test_the_founders_edition_carries_its_earnest_terms_and_other_trims_the_models() -> None:
    assert configure(ARC, "founders", [], now=NOW).deposit_terms.code == "founders-earnest"
    assert configure(ARC, "standard", [], now=NOW).deposit_terms.code == "arc-earnest"


def test_demo_prices_lie_between_two_and_three_hundred_thirty_thousand_yuan() -> None:
    for offer in (ARC, VISTA):
        for trim in offer.model.trims:
            price = offer.price_book.trim_price(trim.code)
            assert price is not None
            assert Money.of_major(200_000, "CNY") <= price <= Money.of_major(330_000, "CNY")


def test_an_option_missing_from_the_book_is_standard_equipment() -> None:
    assert ARC.price_book.option_price("paint-graphite") == Money.zero("CNY")


def test_from_price_is_the_cheapest_trim() -> None:
    assert ARC.from_price == Money.of_major(215_900, "CNY")


def test_the_current_book_is_the_latest_one_in_force() -> None:
    old = book("old", NOW - timedelta(days=300))
    newer = book("newer", NOW - timedelta(days=10))
    future = book("future", NOW + timedelta(days=10))
    ended = book("ended", NOW - timedelta(days=400), NOW - timedelta(days=1))

    assert PriceBook.current([old, newer, future, ended], NOW) == newer
    assert PriceBook.current([future, ended], NOW) is None


def test_a_book_stops_at_its_end_exclusive() -> None:
    window = book("w", NOW - timedelta(days=1), NOW)

    assert window.in_force(NOW - timedelta(seconds=1))
    assert not window.in_force(NOW)


def test_a_book_that_ends_before_it_starts_is_refused() -> None:
    with pytest.raises(ValueError, match="ends before"):
        book("bad", NOW, NOW - timedelta(days=1))


def test_a_book_with_a_negative_price_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        PriceBook("bad", "arc", "CNY", NOW, None, {"standard": -1}, {})


def test_a_configuration_code_is_cfg_and_ten_base32_characters() -> None:
    assert re.fullmatch(r"CFG-[A-Z2-7]{10}", configuration_code("arc", "founders", ["a", "b"]))


def test_naming_a_default_gives_the_same_code_as_leaving_it_out() -> None:
    implicit = configure(ARC, "standard", ["pack-sound"], now=NOW)
    explicit = configure(ARC, "standard", ["paint-graphite", "pack-sound"], now=NOW)

    assert implicit.code == explicit.code


def test_model_trim_and_options_each_change_the_code() -> None:
    base = configuration_code("arc", "standard", ["x"])

    assert base != configuration_code("vista", "standard", ["x"])
    assert base != configuration_code("arc", "founders", ["x"])
    assert base != configuration_code("arc", "standard", ["y"])


def test_a_priced_configuration_refuses_a_total_that_does_not_add_up() -> None:
    priced = configure(ARC, "standard", [], now=NOW)

    with pytest.raises(ValueError, match="total"):
        dataclasses.replace(priced, total_price=priced.total_price + Money(1, "CNY"))
