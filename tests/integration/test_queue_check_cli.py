"""`marque sales queue-check [--fix]` as an operator runs it: the queue tallies that the
trigger keeps agree with the orders; tallies broken behind the application's back are
reported (exit 1) and rewritten from a count with --fix, after which the trigger counts on.
Each engine gets a database of its own: the broken tallies must not reach other tests."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from conftest import Database
from money_world import World
from sqlalchemy import text

from marque.services import orders


@pytest.fixture
def world(empty_database: Database) -> Iterator[World]:
    built = World.on_own_database(empty_database, datetime(2026, 11, 20, 9, tzinfo=UTC))
    yield built
    built.close()


def lock_a_paid_order(world: World) -> None:
    buyer = world.buyer()
    reservation = world.reserve(buyer)
    world.pay(reservation.payment)
    world.clock.advance(minutes=1)
    orders.lock(world.container, buyer, reservation.order.id, confirm=True)


def test_queue_check_finds_broken_tallies_and_fix_rewrites_them(world: World) -> None:
    for _ in range(2):
        lock_a_paid_order(world)
    healthy = world.marque("sales", "queue-check")
    assert healthy.returncode == 0, healthy.stderr
    assert "queue tallies ok" in healthy.stdout

    with world.container.engine.begin() as conn:  # a bad manual fix
        conn.execute(text("UPDATE queue_tallies SET locked_waiting = locked_waiting + 5"))
    broken = world.marque("sales", "queue-check")
    fixed = world.marque("sales", "queue-check", "--fix")
    after = world.marque("sales", "queue-check")

    assert broken.returncode == 1
    assert broken.stdout.count("orders 1") == 2, broken.stdout  # two shards, one order each
    assert "tally 6" in broken.stdout
    assert fixed.returncode == 0, fixed.stderr
    assert fixed.stdout.count("(fixed)") == 2
    assert after.returncode == 0
    assert "queue tallies ok" in after.stdout
    lock_a_paid_order(world)  # the trigger counts on from the rewritten tallies
    assert "queue tallies ok" in world.marque("sales", "queue-check").stdout


def test_queue_check_also_finds_and_fixes_broken_lock_time_buckets(world: World) -> None:
    for _ in range(2):
        lock_a_paid_order(world)
    with world.container.engine.begin() as conn:  # one bucket of one scale lost
        conn.execute(text("DELETE FROM queue_buckets WHERE scale = 'minute'"))
    broken = world.marque("sales", "queue-check")
    fixed = world.marque("sales", "queue-check", "--fix")
    after = world.marque("sales", "queue-check")

    assert broken.returncode == 1
    assert broken.stdout.count(" minute ") == 2, broken.stdout  # each order's minute
    assert broken.stdout.count("tally 0, orders 1") == 2
    assert "day" not in broken.stdout  # the other scales still agree
    assert fixed.stdout.count("(fixed)") == 2
    assert after.returncode == 0
    assert "queue tallies ok" in after.stdout
