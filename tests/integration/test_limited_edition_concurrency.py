"""Many buyers at once on one limited edition, on both engines, with real threads.

The launch benchmark (bench/launch.py --contention) measures this at scale; here it is
checked small enough for CI: 16 buyers released together by a barrier on an edition of 4
units, each paying at once what they were acknowledged. Correctness only: no timing.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta

import conftest
import pytest
from conftest import PG_URL, Database, _drop_postgres, _fresh_postgres
from money_world import ARC_FOUNDERS, World
from sqlalchemy import create_engine, update

from marque.adapters.db import migrate as migrations
from marque.adapters.db.tables.catalog import trims
from marque.bootstrap import bootstrap
from marque.domain.errors import MarqueError
from marque.domain.identity import Actor
from marque.domain.order_entities import Order
from marque.domain.orders import OrderStatus
from marque.services import orders
from marque.services.demo_catalog import seed_demo_catalog

CAP = 4
BUYERS = 16
LIVE = {OrderStatus.PENDING_PAYMENT, OrderStatus.RESERVED, OrderStatus.LOCKED}
PAID = {OrderStatus.RESERVED, OrderStatus.LOCKED}


@pytest.fixture(scope="module")
def edition_database(
    database: Database, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Database]:
    """A database of its own (the founders' cap is changed), migrated and seeded."""
    if database.name == "sqlite":
        own = Database("sqlite", f"sqlite:///{tmp_path_factory.mktemp('edition') / 'm.db'}")
        name = None
    else:
        assert PG_URL
        url, name = _fresh_postgres(PG_URL)
        own = Database("postgresql", url)
    engine = create_engine(own.url)
    migrations.upgrade(engine)
    engine.dispose()
    container = bootstrap(conftest.test_settings(own.url))
    seed_demo_catalog(container.uow(), container.clock())
    with container.engine.begin() as conn:
        conn.execute(
            update(trims)
            .where(trims.c.model_code == "arc", trims.c.code == "founders")
            .values(unit_cap=CAP)
        )
    container.close()
    yield own
    if name is not None:
        assert PG_URL
        _drop_postgres(PG_URL, name)


@pytest.fixture
def world(edition_database: Database) -> Iterator[World]:
    built = World.build(edition_database)
    # Sales opened a day before this world's (random, far-future) day.
    with built.container.engine.begin() as conn:
        conn.execute(
            update(trims)
            .where(trims.c.model_code == "arc")
            .values(on_sale_at=built.clock() - timedelta(days=1))
        )
    yield built
    built.close()


def all_at_once(work: list[Callable[[], None]]) -> None:
    barrier = threading.Barrier(len(work))

    def run(job: Callable[[], None]) -> None:
        barrier.wait()
        job()

    threads = [threading.Thread(target=run, args=(job,)) for job in work]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def contend(world: World) -> tuple[list[Actor], dict[str, orders.Reservation], list[str]]:
    """Every buyer reserves the limited edition at the same moment."""
    code = world.configuration(ARC_FOUNDERS)
    buyers = [world.buyer() for _ in range(BUYERS)]
    acknowledged: dict[str, orders.Reservation] = {}
    refused: list[str] = []

    def reserve(buyer: Actor) -> Callable[[], None]:
        def job() -> None:
            try:
                done = orders.reserve(
                    world.container, buyer, world.request(code, key=secrets.token_hex(8))
                )
            except MarqueError as exc:
                refused.append(exc.code)
                return
            acknowledged[done.order.id] = done

        return job

    all_at_once([reserve(buyer) for buyer in buyers])
    return buyers, acknowledged, refused


def orders_of(world: World, buyers: list[Actor]) -> list[Order]:
    found: list[Order] = []
    with world.container.uow(readonly=True) as uow:
        for buyer in buyers:
            found += uow.orders.for_customer(buyer.id or "", after=None, limit=10)
    return found


def test_every_acknowledged_reservation_of_a_contended_edition_is_whole(world: World) -> None:
    buyers, acknowledged, refused = contend(world)

    assert len(acknowledged) + len(refused) == BUYERS
    assert all(code.startswith("order.") for code in refused), refused
    stored = orders_of(world, buyers)
    assert {order.id for order in stored} == set(acknowledged)
    for reservation in acknowledged.values():
        assert reservation.order.trim_code == "founders"
        assert reservation.payment.order_id == reservation.order.id
        assert reservation.payment.provider_reference, "every reservation has its checkout"


def test_a_limited_edition_is_never_oversold_and_queue_numbers_never_repeat(world: World) -> None:
    buyers, acknowledged, _ = contend(world)

    def pay(reservation: orders.Reservation) -> Callable[[], None]:
        return lambda: world.pay(reservation.payment)

    all_at_once([pay(reservation) for reservation in acknowledged.values()])

    stored = orders_of(world, buyers)
    assert len(acknowledged) <= CAP
    assert sum(order.status in LIVE for order in stored) <= CAP
    assert sum(order.status in PAID for order in stored) <= CAP
    numbers = [order.queue_number for order in stored if order.queue_number is not None]
    assert len(numbers) == len(set(numbers))
