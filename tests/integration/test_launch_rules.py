"""Launch rules on both engines: opening times hold reservations back, a paid order has a
stable place in its configuration's queue, and a configuration change sends it to the back,
which the buyer is told before confirming."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from conftest import Database
from launch_world import Edition, add_edition, launch_world
from money_world import World

from marque.domain.errors import Forbidden, MarqueError, NotFound
from marque.domain.identity import Actor, ActorKind, Role
from marque.domain.launch import QUEUE_TO_BACK, QUEUE_TO_BACK_UNPAID, SalesNotOpen, iso
from marque.domain.orders import OrderStatus
from marque.i18n import Translator
from marque.services import cancellations, orders, queue, sales

SALES_STAFF = Actor(ActorKind.STAFF, id="S-launch", roles=frozenset({Role.SALES}))
FINANCE_STAFF = Actor(ActorKind.STAFF, id="S-finance", roles=frozenset({Role.FINANCE}))


@pytest.fixture
def world(seeded: Database) -> Iterator[World]:
    built = launch_world(seeded)
    yield built
    built.close()


@pytest.fixture
def edition(world: World) -> Edition:
    return add_edition(world.container, cap=5, on_sale_at=world.clock() + timedelta(hours=2))


# ---------------------------------------------------------------------------- opening times


def test_reserving_before_the_opening_time_is_refused_with_that_time(
    world: World, edition: Edition
) -> None:
    opens_at = world.clock() + timedelta(hours=2)
    code = world.configuration(edition.standard())  # configuring is allowed before

    with pytest.raises(SalesNotOpen) as caught:
        orders.reserve(world.container, world.buyer(), world.request(code))

    assert caught.value.code == "sales.not_open"
    assert caught.value.status == 409
    assert caught.value.params["opens_at"] == iso(opens_at)
    chinese = Translator("zh-CN")(caught.value.message, **caught.value.params)
    assert iso(opens_at) in chinese
    assert "开售" in chinese
    world.clock.advance(hours=2)
    assert orders.reserve(world.container, world.buyer(), world.request(code)).created


def test_opening_sales_now_lets_the_next_reservation_through_in_this_process(
    world: World, edition: Edition
) -> None:
    code = world.configuration(edition.standard())
    with pytest.raises(SalesNotOpen):
        orders.reserve(world.container, world.buyer(), world.request(code))

    status = sales.open_sales(world.container, SALES_STAFF, edition.model_code)

    assert all(trim.on_sale for trim in status.trims)
    assert orders.reserve(world.container, world.buyer(), world.request(code)).created


def test_a_trim_opens_only_when_both_it_and_its_model_are_on_sale(
    world: World, edition: Edition
) -> None:
    now = world.clock()
    sales.open_sales(world.container, SALES_STAFF, edition.model_code, at=now)
    sales.open_sales(
        world.container,
        SALES_STAFF,
        edition.model_code,
        trim_code="founders",
        at=now + timedelta(days=1),
    )

    assert orders.reserve(
        world.container, world.buyer(), world.request(world.configuration(edition.standard()))
    ).created
    with pytest.raises(SalesNotOpen) as caught:
        world.reserve(world.buyer(), edition.founders)
    assert caught.value.params["trim"] == "founders"
    status = sales.sales_status(world.container, SALES_STAFF, edition.model_code)
    founders = next(t for t in status.trims if t.code == "founders")
    assert founders.opens_at == now + timedelta(days=1)
    assert not founders.on_sale
    assert founders.stock is not None
    assert founders.stock.free == edition.cap


def test_only_sales_staff_open_sales_and_unknown_trims_are_named(
    world: World, edition: Edition
) -> None:
    with pytest.raises(Forbidden):
        sales.open_sales(world.container, FINANCE_STAFF, edition.model_code)
    with pytest.raises(Forbidden):
        sales.open_sales(world.container, world.buyer(), edition.model_code)
    with pytest.raises(NotFound) as caught:
        sales.open_sales(world.container, SALES_STAFF, edition.model_code, trim_code="nope")
    assert caught.value.code == "sales.unknown_trim"


# ---------------------------------------------------------------------------- queue places


def paid(world: World, buyer: Actor, choice: tuple[str, str, list[str]]) -> str:
    reservation = world.reserve(buyer, choice)
    assert world.order(reservation.order.id).queue_number is None, "no number before payment"
    world.pay(reservation.payment)
    return reservation.order.id


def place_of(world: World, order_id: str) -> tuple[int, int]:
    with world.container.uow(readonly=True) as uow:
        found = queue.place(uow, world.order(order_id))
    assert found is not None
    return found.number, found.ahead


def test_a_change_sends_a_paid_order_to_the_back_and_the_preview_says_so_first(
    world: World, edition: Edition
) -> None:
    sales.open_sales(world.container, SALES_STAFF, edition.model_code, at=world.clock())
    graphite, white = edition.standard("paint-graphite"), edition.standard("paint-pearl-white")
    buyers = [world.buyer() for _ in range(5)]
    in_graphite = [paid(world, b, graphite) for b in buyers[:3]]
    in_white = [paid(world, b, white) for b in buyers[3:]]
    assert [place_of(world, o) for o in in_graphite] == [(1, 0), (2, 1), (3, 2)]
    white_code = world.order(in_white[0]).configuration_code

    preview = queue.preview_change(world.container, buyers[0], in_graphite[0], white_code)

    assert preview.warning == QUEUE_TO_BACK
    assert preview.now is not None
    assert preview.now.number == 1
    assert preview.waiting_after == 2
    text = Translator("en")(preview.warning, **preview.warning_params)
    assert "back of the queue" in text
    assert "place 1" in text
    assert "2 paid order(s)" in text
    assert preview.difference.amount > 0  # pearl white costs more than graphite
    assert world.order(in_graphite[0]).configuration_code != white_code, "preview changes nothing"

    orders.change_configuration(world.container, buyers[0], in_graphite[0], white_code)

    assert place_of(world, in_graphite[0]) == (3, 2)  # the end of the white queue
    assert place_of(world, in_graphite[2]) == (3, 1)  # one fewer ahead in graphite
    assert place_of(world, in_white[1]) == (2, 1)  # others keep their places


def test_lock_time_decides_build_order_among_locked_orders(world: World, edition: Edition) -> None:
    sales.open_sales(world.container, SALES_STAFF, edition.model_code, at=world.clock())
    choice = edition.standard("paint-midnight-blue")
    buyers = [world.buyer() for _ in range(3)]
    first, second, third = (paid(world, b, choice) for b in buyers)

    orders.lock(world.container, buyers[2], third, confirm=True)
    world.clock.advance(minutes=5)
    orders.lock(world.container, buyers[1], second, confirm=True)

    assert place_of(world, third) == (3, 0)  # locked first: built first
    assert place_of(world, second) == (2, 1)
    assert place_of(world, first) == (1, 2)  # not locked: behind every locked order


def test_orders_locked_at_one_instant_go_by_number_and_ended_orders_leave_the_queue(
    world: World, edition: Edition
) -> None:
    sales.open_sales(world.container, SALES_STAFF, edition.model_code, at=world.clock())
    choice = edition.standard("paint-midnight-blue")
    buyers = [world.buyer() for _ in range(5)]
    placed = [paid(world, b, choice) for b in buyers]
    code = world.order(placed[0]).configuration_code
    # The clock stands still: three locks at the same instant, in reverse order. Each lock
    # tells the place a later read counts (it counts back from the end of the queue).
    told = {}
    for index in (3, 2, 1):
        _, told[index] = orders.lock_and_place(
            world.container, buyers[index], placed[index], confirm=True
        )
    assert {i: (p.number, p.ahead) for i, p in told.items() if p} == {
        3: (4, 0),
        2: (3, 0),
        1: (2, 0),
    }

    assert [place_of(world, o) for o in placed] == [(1, 3), (2, 0), (3, 1), (4, 2), (5, 4)]

    cancellations.cancel(world.container, buyers[2], placed[2])  # locked, then cancelled
    cancellations.cancel(world.container, buyers[0], placed[0])  # paid, never locked

    assert [place_of(world, o) for o in (placed[1], placed[3], placed[4])] == [
        (2, 0),
        (4, 1),
        (5, 2),
    ]
    with world.container.uow(readonly=True) as uow:
        assert uow.launch.waiting(code) == 3


def test_an_unpaid_order_has_no_place_and_a_change_tells_it_gets_one_on_payment(
    world: World, edition: Edition
) -> None:
    sales.open_sales(world.container, SALES_STAFF, edition.model_code, at=world.clock())
    buyer = world.buyer()
    reservation = world.reserve(buyer, edition.standard())
    other = world.configuration(edition.standard("paint-solar-red"))

    preview = queue.preview_change(world.container, buyer, reservation.order.id, other)
    changed = orders.change_configuration(world.container, buyer, reservation.order.id, other)

    assert preview.now is None
    assert preview.warning == QUEUE_TO_BACK_UNPAID
    assert changed.queue_number is None
    world.pay(reservation.payment)
    assert world.order(changed.id).queue_number is not None


def test_moving_to_the_limited_edition_claims_a_unit_and_moving_away_gives_it_back(
    world: World,
) -> None:
    edition = add_edition(world.container, cap=1, founders_terms=False)
    buyer = world.buyer()
    reservation = world.reserve(buyer, edition.standard())
    founders = world.configuration(edition.founders)
    plain = world.configuration(edition.standard("paint-pearl-white"))

    orders.change_configuration(world.container, buyer, reservation.order.id, founders)
    with world.container.uow(readonly=True) as uow:
        assert uow.launch.unit_of(reservation.order.id) is not None
    with pytest.raises(MarqueError) as caught:  # its one unit is held by this order
        world.reserve(world.buyer(), edition.founders)
    assert caught.value.code == "order.sold_out"
    orders.change_configuration(world.container, buyer, reservation.order.id, plain)

    with world.container.uow(readonly=True) as uow:
        assert uow.launch.unit_of(reservation.order.id) is None
        stock = uow.launch.stock(edition.model_code, "founders", world.clock())
    assert stock is not None
    assert stock.free == edition.cap
    assert world.order(reservation.order.id).status is OrderStatus.PENDING_PAYMENT
