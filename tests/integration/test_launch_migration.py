"""Migration 0005 carries a running shop over: every limited edition gets its units, live
limited-edition orders keep one (paid ones sold, unpaid ones held), and paid orders get queue
numbers in the order they were paid, which the counters continue; migration 0008 tallies the
locked orders still waiting, and its trigger keeps the tallies from then on. Both engines."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from conftest import Database
from sqlalchemy import Engine, create_engine, func, select, text

from marque.adapters.db import migrate as migrations
from marque.adapters.db.repositories import queue_places
from marque.adapters.db.repositories.launch import SqlLaunchRepository
from marque.adapters.db.repositories.orders import SqlOrderRepository
from marque.adapters.db.tables.launch import SOLD, edition_units
from marque.adapters.db.unit_of_work import SqlUnitOfWork
from marque.domain.catalog import DepositKind
from marque.domain.money import Money
from marque.domain.order_entities import AcceptedTerms, Order, new_id
from marque.domain.orders import OrderStatus
from marque.services.demo_catalog import FOUNDERS_CAP, seed_demo_catalog

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


@pytest.fixture
def engine(empty_database: Database) -> Iterator[Engine]:
    built = create_engine(empty_database.url)
    migrations.upgrade(built, "0004_orders")
    seed_demo_catalog(SqlUnitOfWork(built), NOW)
    yield built
    built.dispose()


def order(trim: str, configuration: str, status: OrderStatus, **times: datetime) -> Order:
    return Order(
        id=new_id("O"),
        customer_id=new_id("C", 8),
        locale="en",
        model_code="arc",
        trim_code=trim,
        configuration_code=configuration,
        price=Money.of_major(300_000, "CNY"),
        deposit_kind=DepositKind.EARNEST,
        deposit=Money.of_major(5_000, "CNY"),
        terms=AcceptedTerms("arc-earnest", 1, "0" * 64, NOW),
        limited_edition=trim == "founders",
        status=status,
        version=1,
        created_at=times.get("created_at", NOW),
        updated_at=NOW,
        expires_at=times.get("expires_at"),
        paid_at=times.get("paid_at"),
    )


def test_upgrading_a_running_shop_gives_units_to_live_orders_and_numbers_to_paid_ones(
    engine: Engine,
) -> None:
    hour = timedelta(hours=1)
    paid_second = order("standard", "CFG-AAAAAAAAAA", OrderStatus.RESERVED, paid_at=NOW + hour)
    paid_first = order("standard", "CFG-AAAAAAAAAA", OrderStatus.LOCKED, paid_at=NOW)
    unpaid = order("standard", "CFG-AAAAAAAAAA", OrderStatus.PENDING_PAYMENT)
    founder_paid = order(
        "founders", "CFG-BBBBBBBBBB", OrderStatus.LOCKED, paid_at=NOW, created_at=NOW - hour
    )
    founder_waiting = order(
        "founders", "CFG-BBBBBBBBBB", OrderStatus.PENDING_PAYMENT, expires_at=NOW + hour
    )
    founder_gone = dataclasses.replace(
        order("founders", "CFG-BBBBBBBBBB", OrderStatus.CANCELLED), id=new_id("O")
    )
    with engine.begin() as conn:
        repo = SqlOrderRepository(conn)
        for each in (paid_second, paid_first, unpaid, founder_paid, founder_waiting, founder_gone):
            repo.add(each)

    migrations.upgrade(engine)

    with engine.begin() as conn:
        orders = SqlOrderRepository(conn)
        numbers = {
            each.id: found.queue_number
            for each in (paid_first, paid_second, unpaid, founder_paid)
            if (found := orders.get(each.id)) is not None
        }
        assert numbers == {paid_first.id: 1, paid_second.id: 2, unpaid.id: None, founder_paid.id: 1}
        units = {
            row.order_id: row.held_until
            for row in conn.execute(
                select(edition_units.c.order_id, edition_units.c.held_until).where(
                    edition_units.c.model_code == "arc", edition_units.c.order_id.is_not(None)
                )
            )
        }
        assert units == {founder_paid.id: SOLD, founder_waiting.id: NOW + hour}
        count = select(func.count()).where(edition_units.c.model_code == "arc")
        assert conn.execute(count).scalar_one() == FOUNDERS_CAP
        launch = SqlLaunchRepository(conn)
        assert launch.next_queue_number("CFG-AAAAAAAAAA") == 3  # the counters continue
        assert launch.next_queue_number("CFG-BBBBBBBBBB") == 2


def tallies(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT configuration_code, sum(locked_waiting) FROM queue_tallies "
                "GROUP BY configuration_code"
            )
        )
        return {str(code): int(n) for code, n in rows if n}


def test_upgrading_counts_the_locked_queue_and_the_trigger_keeps_it(engine: Engine) -> None:
    migrations.upgrade(engine, "0007_queue_indexes")
    locked = [
        dataclasses.replace(
            order("standard", code, status, paid_at=NOW),
            queue_number=number,
            locked_at=NOW + timedelta(minutes=number),
        )
        for code, status, number in (
            ("CFG-AAAAAAAAAA", OrderStatus.LOCKED, 1),
            ("CFG-AAAAAAAAAA", OrderStatus.LOCKED, 18),  # shard 2, like number 2
            ("CFG-AAAAAAAAAA", OrderStatus.DELIVERED, 3),  # no longer waiting
            ("CFG-BBBBBBBBBB", OrderStatus.ALLOCATED, 1),
        )
    ]
    paid_only = dataclasses.replace(
        order("standard", "CFG-AAAAAAAAAA", OrderStatus.RESERVED, paid_at=NOW), queue_number=4
    )
    with engine.begin() as conn:
        repo = SqlOrderRepository(conn)
        for each in (*locked, paid_only):
            repo.add(each)

    migrations.upgrade(engine)

    assert tallies(engine) == {"CFG-AAAAAAAAAA": 2, "CFG-BBBBBBBBBB": 1}
    assert buckets_agree(engine) == {"day", "hour", "minute", "second", "number"}  # 0009
    with engine.begin() as conn:  # from now on the trigger counts: a lock, a cancellation
        conn.execute(
            text("UPDATE orders SET status = 'locked', locked_at = :at WHERE id = :id"),
            {"at": NOW + timedelta(hours=1), "id": paid_only.id},
        )
        conn.execute(
            text("UPDATE orders SET status = 'cancelled' WHERE id = :id"), {"id": locked[3].id}
        )
    assert tallies(engine) == {"CFG-AAAAAAAAAA": 3}
    assert buckets_agree(engine) == {"day", "hour", "minute", "second"}


def buckets_agree(engine: Engine) -> set[str]:
    """The scales of the non-empty queue buckets (migration 0009), once they are checked
    against a count of the orders."""
    with engine.connect() as conn:
        assert queue_places.bucket_mismatches(conn) == []
        rows = conn.execute(text("SELECT DISTINCT scale FROM queue_buckets WHERE waiting > 0"))
        return {str(scale) for (scale,) in rows}
