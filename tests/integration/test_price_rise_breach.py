"""A price rise is a maker breach only when it comes after the lock (the terms: "if we raise
the price of your configuration after the lock"); one between the reservation and the lock
once counted too (found by the money state machine, tests/properties/).

Each test adds a price book, so it gets a database of its own (both engines).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from conftest import Database
from money_world import World
from sqlalchemy import create_engine

from marque.adapters.db import migrate as migrations
from marque.domain.catalog import PriceBook
from marque.domain.deposits import RefundRule
from marque.domain.money import Money
from marque.services import order_queries, orders
from marque.services.demo_catalog import seed_demo_catalog


@pytest.fixture
def world(empty_database: Database) -> Iterator[World]:
    engine = create_engine(empty_database.url)
    migrations.upgrade(engine)
    engine.dispose()
    built = World.build(empty_database)
    seed_demo_catalog(built.container.uow(), built.clock())
    yield built
    built.close()


def raise_arc_prices(world: World, yuan: int) -> None:
    now = world.clock()
    with world.container.uow() as uow:
        current = PriceBook.current(uow.catalog.price_books("arc"), now)
        assert current is not None
        uow.catalog.add_price_book(
            PriceBook(
                code="arc-raised",
                model_code="arc",
                currency=current.currency,
                effective_from=now,
                effective_to=None,
                trim_prices={
                    trim: price + yuan * 100 for trim, price in current.trim_prices.items()
                },
                option_prices=dict(current.option_prices),
            ),
            now=now,
        )
        uow.commit()


def quote_after_lock(world: World, *, rise_before_lock: bool) -> order_queries.QuoteView:
    buyer = world.buyer()
    reservation = world.reserve(buyer)  # Arc Standard: 5,000 CNY earnest money
    world.pay(reservation.payment)
    if rise_before_lock:
        raise_arc_prices(world, 1_000)
    world.clock.advance(minutes=5)
    orders.lock(world.container, buyer, reservation.order.id, confirm=True)
    world.clock.advance(minutes=5)
    if not rise_before_lock:
        raise_arc_prices(world, 1_000)
    return order_queries.refund_quote(world.container, buyer, reservation.order.id)[1]


def test_a_price_rise_after_the_lock_returns_earnest_money_twice_over(world: World) -> None:
    quote = quote_after_lock(world, rise_before_lock=False).quote

    assert quote.rule is RefundRule.DOUBLE_FOR_MAKER_BREACH
    assert quote.compensation == Money.of_major(5_000, "CNY")


def test_a_price_rise_before_the_lock_is_no_breach_after_it(world: World) -> None:
    quote = quote_after_lock(world, rise_before_lock=True).quote

    assert quote.rule is RefundRule.FULL_IN_COOLING_OFF
    assert quote.compensation == Money.zero("CNY")
