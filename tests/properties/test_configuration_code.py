"""Properties of configurations: the code ignores order and repetition; the price adds up."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from hypothesis import assume, given
from hypothesis import strategies as st

from marque.domain.catalog import ModelOffer, Selection, configure, validate_configuration
from marque.domain.money import Money
from marque.services.demo_catalog import demo_catalogue

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
DEMO = demo_catalogue()


@st.composite
def valid_choices(draw: st.DrawFn) -> tuple[ModelOffer, str, list[str]]:
    """A model, a trim and a list of options that breaks no rule."""
    offer = DEMO.offer(draw(st.sampled_from([m.code for m in DEMO.models])))
    trim = draw(st.sampled_from([t.code for t in offer.model.trims]))
    chosen: list[str] = []
    for group in offer.model.option_groups:
        codes = [option.code for option in group.options]
        if group.selection is Selection.MANY:
            chosen += draw(st.lists(st.sampled_from(codes), unique=True))
        elif draw(st.booleans()):  # else leave the default
            chosen.append(draw(st.sampled_from(codes)))
    assume(not validate_configuration(offer, trim, chosen))
    return offer, trim, chosen


@given(valid_choices(), st.randoms(use_true_random=False), st.integers(0, 3))
def test_order_and_repetition_of_options_never_change_the_code(
    choices: tuple[ModelOffer, str, list[str]], rnd: random.Random, repeat: int
) -> None:
    offer, trim, chosen = choices
    shuffled = list(chosen) + chosen[:repeat]
    rnd.shuffle(shuffled)

    first = configure(offer, trim, chosen, now=NOW)
    again = configure(offer, trim, shuffled, now=NOW)

    assert again.code == first.code
    assert again == first


@given(valid_choices())
def test_the_total_is_the_base_price_plus_the_price_of_every_option(
    choices: tuple[ModelOffer, str, list[str]],
) -> None:
    offer, trim, chosen = choices

    priced = configure(offer, trim, chosen, now=NOW)

    book = offer.price_book
    expected = book.trim_prices[trim] + sum(
        book.option_prices.get(c, 0) for c in priced.option_codes
    )
    assert priced.total_price == Money(expected, "CNY")
    assert priced.base_price + priced.options_price == priced.total_price
    assert set(chosen) <= set(priced.option_codes)


@given(valid_choices(), valid_choices())
def test_different_configurations_get_different_codes(
    one: tuple[ModelOffer, str, list[str]], other: tuple[ModelOffer, str, list[str]]
) -> None:
    first = configure(*one[:2], one[2], now=NOW)
    second = configure(*other[:2], other[2], now=NOW)

    same_choices = (first.model_code, first.trim_code, first.option_codes) == (
        second.model_code,
        second.trim_code,
        second.option_codes,
    )
    assert (first.code == second.code) == same_choices
