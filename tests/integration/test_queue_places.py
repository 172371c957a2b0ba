"""A buyer's place read from the queue buckets (migration 0009) is the place a count of the
whole queue gives, on both engines, wherever the orders stand: locked in the same second
(the number breaking the tie), a moment, a minute, an hour or days apart, across midnight;
paid and not locked yet, in more than one block of numbers; after cancellations and an
operator's hand-written fix. The buckets agree with a count after every move."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
from conftest import Database
from launch_world import add_edition, launch_world
from money_world import World
from sqlalchemy import select, text

from marque.adapters.db.tables.orders import WAITING_LOCKED, WAITING_UNLOCKED, orders
from marque.domain.identity import Actor, ActorKind, Role
from marque.services import cancellations, queue, sales
from marque.services import orders as order_service

SALES_STAFF = Actor(ActorKind.STAFF, id="S-queue", roles=frozenset({Role.SALES}))


@pytest.fixture
def world(seeded: Database) -> Iterator[World]:
    built = launch_world(seeded)
    yield built
    built.close()


def counted_places(world: World, configuration: str) -> dict[str, int]:
    """Every waiting order's place, by counting: locked by (lock time, number), then the
    rest by number."""
    with world.container.engine.connect() as conn:
        rows = conn.execute(
            select(orders.c.id, orders.c.locked_at, orders.c.queue_number).where(
                orders.c.configuration_code == configuration,
                WAITING_LOCKED | WAITING_UNLOCKED,
            )
        ).all()
    locked = sorted((r for r in rows if r.locked_at), key=lambda r: (r.locked_at, r.queue_number))
    unlocked = sorted((r for r in rows if not r.locked_at), key=lambda r: r.queue_number)
    return {row.id: place for place, row in enumerate(locked + unlocked)}


def read_places(world: World, ids: list[str]) -> dict[str, int]:
    found = [world.order(order_id) for order_id in ids]
    with world.container.uow(readonly=True) as uow:
        return {order.id: uow.launch.ahead(order) for order in found}


def assert_places_agree(world: World, configuration: str) -> None:
    expected = counted_places(world, configuration)
    assert read_places(world, list(expected)) == expected
    with world.container.uow(readonly=True) as uow:
        assert uow.launch.waiting(configuration) == len(expected)
    assert queue.tally_mismatches(world.container) == []


def test_places_from_the_buckets_equal_a_count_of_the_queue(world: World) -> None:
    rng = random.Random(20261127)
    # Just before midnight, so that locks fall on both sides of it.
    world.clock.advance(hours=11, minutes=59, seconds=58)
    edition = add_edition(world.container, cap=5)
    sales.open_sales(world.container, SALES_STAFF, edition.model_code, at=world.clock())
    placed: list[tuple[Actor, str]] = []
    for _ in range(15):
        buyer = world.buyer()
        reservation = world.reserve(buyer, edition.standard())
        world.pay(reservation.payment)
        placed.append((buyer, reservation.order.id))
    configuration = world.order(placed[0][1]).configuration_code

    # Locks: three in one instant, then apart by fractions of a second (one at .9996 of a
    # second, which SQLite's date functions would round up to the next), across midnight, a
    # minute, an hour, a day; four stay unlocked.
    steps = [0, 0, 0, 0.3, 0.6996, 0.2004, 1, 59, 61, 3600, 86400]
    to_lock = placed[:]
    rng.shuffle(to_lock)
    for step, (buyer, order_id) in zip(steps[: len(to_lock) - 4], to_lock, strict=False):
        world.clock.advance(seconds=step)
        order_service.lock(world.container, buyer, order_id, confirm=True)
        assert_places_agree(world, configuration)
    assert len([o for _, o in placed if world.order(o).locked_at]) == 11

    # A locked order and an unlocked one are cancelled: those behind move up.
    locked_one = to_lock[0]
    unlocked_one = to_lock[-1]
    for buyer, order_id in (locked_one, unlocked_one):
        cancellations.cancel(world.container, buyer, order_id, reason="changed my mind")
        assert_places_agree(world, configuration)

    # An operator moves two unlocked orders into the second and third blocks of 1,024
    # numbers and a locked order's lock time back to the start of the month: the trigger
    # moves their buckets.
    unlocked_left = [o for _, o in to_lock[11:-1]]
    with world.container.engine.begin() as conn:
        conn.execute(
            text("UPDATE orders SET queue_number = 3001 WHERE id = :id"),
            {"id": unlocked_left[0]},
        )
        conn.execute(
            text("UPDATE orders SET queue_number = 1500 WHERE id = :id"),
            {"id": unlocked_left[1]},
        )
    assert_places_agree(world, configuration)
    moved = to_lock[5][1]
    earlier = world.order(moved).locked_at
    assert earlier is not None
    with world.container.engine.begin() as conn:
        conn.execute(
            orders.update()
            .where(orders.c.id == moved)
            .values(locked_at=earlier.replace(day=1, hour=0, minute=0, second=0))
        )
    assert_places_agree(world, configuration)
    assert counted_places(world, configuration)[moved] == 0
