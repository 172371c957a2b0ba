"""Migration 0006 numbers the payments already made, per order, in the order they were
listed before ((created_at, id)); the repository then numbers each new payment after its
order's last, so the latest attempt is the last one listed whatever the clocks said. Both
engines."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from conftest import Database
from sqlalchemy import Engine, create_engine, insert, select

from marque.adapters.db import migrate as migrations
from marque.adapters.db.repositories.orders import SqlOrderRepository
from marque.adapters.db.repositories.payments import SqlPaymentRepository
from marque.adapters.db.tables.orders import payments
from marque.adapters.db.unit_of_work import SqlUnitOfWork
from marque.domain.catalog import DepositKind
from marque.domain.money import Money
from marque.domain.order_entities import AcceptedTerms, Order, Payment, PaymentStatus, new_id
from marque.domain.orders import OrderStatus
from marque.services.demo_catalog import seed_demo_catalog

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
DEPOSIT = Money.of_major(5_000, "CNY")


@pytest.fixture
def engine(empty_database: Database) -> Iterator[Engine]:
    built = create_engine(empty_database.url)
    migrations.upgrade(built, "0005_launch")
    seed_demo_catalog(SqlUnitOfWork(built), NOW)
    yield built
    built.dispose()


def an_order() -> Order:
    return Order(
        id=new_id("O"),
        customer_id=new_id("C", 8),
        locale="en",
        model_code="arc",
        trim_code="standard",
        configuration_code="CFG-AAAAAAAAAA",
        price=Money.of_major(300_000, "CNY"),
        deposit_kind=DepositKind.EARNEST,
        deposit=DEPOSIT,
        terms=AcceptedTerms("arc-earnest", 1, "0" * 64, NOW),
        limited_edition=False,
        status=OrderStatus.PENDING_PAYMENT,
        version=1,
        created_at=NOW,
        updated_at=NOW,
    )


def old_payment(payment_id: str, order_id: str, created_at: datetime) -> dict[str, object]:
    """A payment row as marque wrote it before 0006 (no attempt number)."""
    return {
        "id": payment_id,
        "order_id": order_id,
        "provider": "sandbox",
        "amount": DEPOSIT.amount,
        "currency": DEPOSIT.currency,
        "status": "failed",
        "idempotency_key": payment_id,
        "created_at": created_at,
        "updated_at": created_at,
    }


def test_old_payments_are_numbered_as_listed_and_new_ones_come_after_them(
    engine: Engine,
) -> None:
    first, other = an_order(), an_order()
    with engine.begin() as conn:
        SqlOrderRepository(conn).add(first)
        SqlOrderRepository(conn).add(other)
        # two at one instant (told apart by id, as before) after an earlier one
        conn.execute(
            insert(payments).values(
                [
                    old_payment("P-ZZZZZZZZZZZZ", first.id, NOW + timedelta(minutes=1)),
                    old_payment("P-BBBBBBBBBBBB", first.id, NOW),
                    old_payment("P-AAAAAAAAAAAA", first.id, NOW + timedelta(minutes=1)),
                    old_payment("P-CCCCCCCCCCCC", other.id, NOW + timedelta(minutes=2)),
                ]
            )
        )

    migrations.upgrade(engine)

    with engine.connect() as conn:
        numbered = dict(conn.execute(select(payments.c.id, payments.c.attempt)).all())
    assert numbered == {
        "P-BBBBBBBBBBBB": 1,
        "P-AAAAAAAAAAAA": 2,
        "P-ZZZZZZZZZZZZ": 3,
        "P-CCCCCCCCCCCC": 1,
    }
    # A retry made on a server whose clock is behind, under an id that sorts first.
    retry = Payment(
        id="P-222222222222",
        order_id=first.id,
        provider="sandbox",
        amount=DEPOSIT,
        status=PaymentStatus.PENDING,
        idempotency_key="P-222222222222",
        created_at=NOW - timedelta(minutes=5),
        updated_at=NOW - timedelta(minutes=5),
    )
    with engine.begin() as conn:
        SqlPaymentRepository(conn).add(retry)
        listed = [p.id for p in SqlPaymentRepository(conn).for_order(first.id)]
        others = [p.id for p in SqlPaymentRepository(conn).for_order(other.id)]
    assert listed == ["P-BBBBBBBBBBBB", "P-AAAAAAAAAAAA", "P-ZZZZZZZZZZZZ", "P-222222222222"]
    assert others == ["P-CCCCCCCCCCCC"]
