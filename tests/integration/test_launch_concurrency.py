"""Launch night on both engines, with real threads: a limited edition never sells more than its
cap, nobody hears "sold out" while a unit is left, holds that run out come back, and every
paid order gets a queue number of its own.

Each test makes its own edition (launch_world.py). Correctness only: no timing.
"""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from conftest import Database
from launch_world import Edition, add_edition, launch_world
from money_world import World
from sqlalchemy import func, select

from marque.adapters.db.tables.launch import SHARDS
from marque.adapters.db.tables.orders import ledger_postings, webhook_receipts
from marque.domain.errors import MarqueError
from marque.domain.identity import Actor
from marque.domain.order_records import WebhookOutcome
from marque.domain.orders import OrderStatus
from marque.services import cancellations, orders

THREADS = 24


@pytest.fixture
def world(seeded: Database) -> Iterator[World]:
    built = launch_world(seeded)
    yield built
    built.close()


def all_at_once(jobs: list[Callable[[], Any]]) -> list[Any]:
    """Run the jobs on ``THREADS`` threads at once; their results in order."""
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        return list(pool.map(lambda job: job(), jobs))


def reserve_and_pay(world: World, buyer: Actor, code: str, key: str) -> Callable[[], str]:
    """One buyer's launch-night path: reserve with a key, then pay. Their order id, or the
    code of the problem they were answered."""

    def job() -> str:
        try:
            reservation = orders.reserve(world.container, buyer, world.request(code, key=key))
        except MarqueError as exc:
            return exc.code
        world.pay(reservation.payment)
        return reservation.order.id

    return job


def edition_orders(world: World, edition: Edition) -> list[Any]:
    from marque.adapters.db.tables.orders import orders as table

    with world.container.engine.connect() as conn:
        return list(
            conn.execute(
                select(table.c.id, table.c.status, table.c.queue_number).where(
                    table.c.model_code == edition.model_code, table.c.trim_code == "founders"
                )
            )
        )


def stock(world: World, edition: Edition) -> tuple[int, int, int]:
    with world.container.uow(readonly=True) as uow:
        found = uow.launch.stock(edition.model_code, "founders", world.clock())
    assert found is not None
    return found.sold, found.held, found.free


def test_a_burst_of_200_attempts_confirms_exactly_the_cap_and_gives_each_buyer_a_place_of_their_own(
    world: World,
) -> None:
    edition = add_edition(world.container, cap=20)
    code = world.configuration(edition.founders)
    buyers = [(world.buyer(), secrets.token_hex(8)) for _ in range(180)]
    # 20 retries of earlier attempts with the same key (a lost answer, sent again).
    retries = [buyers[i * 9] for i in range(20)]
    attempts = [reserve_and_pay(world, b, code, k) for b, k in buyers + retries]

    outcomes = all_at_once(attempts)

    made = {o for o in outcomes if o.startswith("O-")}
    refusals = Counter(o for o in outcomes if not o.startswith("O-"))
    assert len(made) == edition.cap
    assert set(refusals) <= {"order.sold_out"}, refusals
    by_key: dict[str, set[str]] = {}
    for (buyer, key), outcome in zip(buyers + retries, outcomes, strict=True):
        if outcome.startswith("O-"):
            by_key.setdefault(f"{buyer.id}:{key}", set()).add(outcome)
    assert all(len(ids) == 1 for ids in by_key.values()), "one order per key"
    stored = edition_orders(world, edition)
    assert {row.id for row in stored} == made
    assert all(OrderStatus(row.status) is OrderStatus.LOCKED for row in stored)  # locks on pay
    # Numbers are unique; a burst may leave holes (the last test), but the places buyers are
    # shown count orders, so they run 0..cap-1 whatever the numbers.
    assert len({row.queue_number for row in stored} - {None}) == edition.cap
    with world.container.uow(readonly=True) as uow:
        places = sorted(uow.launch.ahead(world.order(row.id)) for row in stored)
    assert places == list(range(edition.cap))
    assert stock(world, edition) == (edition.cap, 0, 0)
    with world.container.engine.connect() as conn:
        captured = conn.execute(
            select(func.count())
            .select_from(ledger_postings)
            .where(
                ledger_postings.c.order_id.in_(made), ledger_postings.c.kind == "payment_captured"
            )
        ).scalar_one()
    assert captured == edition.cap, "each payment posted once"


def test_a_unit_held_by_a_claim_that_rolls_back_goes_to_the_buyer_who_asked_meanwhile(
    world: World, seeded: Database
) -> None:
    """The second claim finds the only unit held by a claim still in flight: it looks again
    until that one ends (here, rolled back) instead of answering "sold out"."""
    if seeded.name == "sqlite":
        pytest.skip("SQLite serialises writers: no claim is ever in flight beside another")
    edition = add_edition(world.container, cap=1)
    now = world.clock()
    claim = {"held_until": now + timedelta(minutes=30), "now": now}
    with world.container.uow() as uow:  # the unit exists, free, as committed
        assert uow.launch.claim_unit(edition.model_code, "founders", "O-zero", **claim) == 1
        assert uow.launch.release_unit("O-zero") == 1
        uow.commit()
    first = world.container.uow()
    with first:
        assert first.launch.claim_unit(edition.model_code, "founders", "O-first", **claim) == 1
        with ThreadPoolExecutor(max_workers=1) as pool:

            def second() -> int | None:
                with world.container.uow() as uow:
                    number = uow.launch.claim_unit(
                        edition.model_code, "founders", "O-second", **claim
                    )
                    uow.commit()
                    return number

            asked = pool.submit(second)
            first.rollback()  # whenever the second claim looks: before, between or waiting
            assert asked.result(timeout=60) == 1
    assert stock(world, edition) == (0, 1, 0)


def test_nobody_hears_sold_out_while_a_unit_is_left(world: World) -> None:
    edition = add_edition(world.container, cap=20)
    code = world.configuration(edition.founders)
    buyers = [(world.buyer(), secrets.token_hex(8)) for _ in range(edition.cap)]
    retries = [buyers[i * 2] for i in range(10)]
    attempts = [reserve_and_pay(world, b, code, k) for b, k in buyers + retries]

    outcomes = all_at_once(attempts)

    assert all(o.startswith("O-") for o in outcomes), Counter(outcomes)
    assert len(set(outcomes)) == edition.cap
    assert stock(world, edition) == (edition.cap, 0, 0)


def test_a_hold_that_ran_out_frees_its_unit_before_the_expiry_job_runs(world: World) -> None:
    edition = add_edition(world.container, cap=2)
    first = [world.reserve(world.buyer(), edition.founders) for _ in range(2)]
    with pytest.raises(MarqueError) as caught:
        world.reserve(world.buyer(), edition.founders)
    assert caught.value.code == "order.sold_out"
    assert caught.value.params["cap"] == 2

    world.clock.advance(minutes=world.container.settings.orders_payment_window_minutes + 1)
    later = [world.reserve(world.buyer(), edition.founders) for _ in range(2)]
    with pytest.raises(MarqueError):
        world.reserve(world.buyer(), edition.founders)

    world.pay(first[0].payment)  # too late: its unit went to a later buyer
    late = world.order(first[0].order.id)
    assert late.status is OrderStatus.EXPIRED
    with world.container.engine.connect() as conn:
        outcome = conn.execute(
            select(webhook_receipts.c.outcome).where(
                webhook_receipts.c.merchant_reference == first[0].payment.id
            )
        ).scalar_one()
    assert outcome == WebhookOutcome.REFUNDED
    assert world.postings(late.id) == ["payment_captured", "refund_requested"]
    assert cancellations.expire_unpaid(world.container) >= 1  # the other first hold
    for reservation in later:
        world.pay(reservation.payment)
    assert {world.order(r.order.id).status for r in later} == {OrderStatus.LOCKED}
    assert stock(world, edition) == (2, 0, 0)


def test_cancelling_an_unpaid_reservation_gives_its_unit_back_at_once(world: World) -> None:
    edition = add_edition(world.container, cap=1)
    buyer = world.buyer()
    held = world.reserve(buyer, edition.founders)
    with pytest.raises(MarqueError):
        world.reserve(world.buyer(), edition.founders)

    cancellations.cancel(world.container, buyer, held.order.id)

    again = world.reserve(world.buyer(), edition.founders)
    assert again.order.trim_code == "founders"
    assert stock(world, edition) == (0, 1, 0)


def test_queue_numbers_never_repeat_and_a_burst_leaves_only_holes_the_next_payments_fill(
    world: World,
) -> None:
    """Numbers come from SHARDS counter rows per configuration (no hot row): a burst may
    leave a few numbers unused for a moment (a shard one round behind); the next payments
    take the lowest of them first, so the numbers close up (docs/decisions.md)."""
    edition = add_edition(world.container, cap=1)
    code = world.configuration(edition.standard("paint-solar-red"))
    buyers = [(world.buyer(), secrets.token_hex(8)) for _ in range(40)]

    outcomes = all_at_once([reserve_and_pay(world, b, code, k) for b, k in buyers])

    numbers = {world.order(order_id).queue_number for order_id in outcomes}
    assert None not in numbers, "one per paid order"
    assert len(numbers) == 40, "unique"
    holes = sorted(set(range(1, max(n or 0 for n in numbers) + 1)) - numbers)
    assert len(holes) < SHARDS
    later = [reserve_and_pay(world, world.buyer(), code, secrets.token_hex(8))() for _ in holes]
    assert sorted(world.order(order_id).queue_number or 0 for order_id in later) == holes
