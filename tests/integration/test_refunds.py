"""Cancelling pays exactly the quote; refunds go through the provider with idempotency keys,
survive timeouts and refusals with backoff, and are settled exactly once (both engines)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from conftest import Database
from money_world import ARC_FOUNDERS, ARC_STANDARD, World
from sqlalchemy import select

from marque.adapters.db.tables.sandbox_payments import sandbox_refunds
from marque.domain.errors import Conflict, InvalidTransition
from marque.domain.identity import Actor, ActorKind, Role
from marque.domain.money import Money
from marque.domain.order_entities import Refund
from marque.domain.orders import OrderStatus
from marque.domain.refunds import RefundStatus
from marque.services import cancellations, ledger_checks, notifications, order_queries, orders
from marque.services import refunds as refund_worker
from marque.services.orders import Reservation


@pytest.fixture
def world(seeded: Database) -> Iterator[World]:
    built = World.build(seeded, refund_max_attempts=3)
    yield built
    built.close()


def paid(world: World, choice: tuple[str, str, list[str]] = ARC_STANDARD) -> Reservation:
    reservation = world.reserve(world.buyer(), choice)
    world.pay(reservation.payment)
    return reservation


def refund_of(world: World, order_id: str) -> Refund:
    with world.container.uow(readonly=True) as uow:
        [refund] = uow.refunds.for_order(order_id)
    return refund


def provider_refund_keys(world: World, refund_id: str) -> list[str]:
    with world.container.engine.connect() as conn:
        rows = conn.execute(
            select(sandbox_refunds.c.idempotency_key).where(
                sandbox_refunds.c.merchant_reference == refund_id
            )
        )
        return sorted(row[0] for row in rows)


def buyer_of(reservation: Reservation) -> Actor:
    return Actor(ActorKind.CUSTOMER, id=reservation.order.customer_id)


def test_cancelling_before_the_lock_refunds_exactly_the_quote(world: World) -> None:
    reservation = paid(world)
    buyer = buyer_of(reservation)
    _, shown = order_queries.refund_quote(world.container, buyer, reservation.order.id)

    done = cancellations.cancel(world.container, buyer, reservation.order.id)

    assert done.order.status is OrderStatus.CANCELLED
    assert done.quote.total == shown.quote.total == Money(500_000, "CNY")
    assert done.refund is not None
    assert done.refund.total == shown.quote.total
    assert done.refund.quote_rule == str(shown.quote.rule)
    assert done.refund.expected_by == world.clock() + timedelta(days=7)
    assert world.held(reservation.order.id) == 0
    assert world.postings(reservation.order.id) == ["payment_captured", "refund_requested"]


def test_the_refund_is_sent_once_and_settled_once_by_its_webhook(world: World) -> None:
    reservation = paid(world)
    buyer = buyer_of(reservation)
    cancellations.cancel(world.container, buyer, reservation.order.id)
    refund_id = refund_of(world, reservation.order.id).id

    refund_worker.run_once(world.container)
    sent = refund_of(world, reservation.order.id)
    assert sent.status is RefundStatus.SENT
    assert sent.provider_reference

    refund_worker.run_once(world.container)  # nothing more to send
    world.deliver(reservation.payment.provider_reference)
    world.deliver(reservation.payment.provider_reference)

    settled = refund_of(world, reservation.order.id)
    assert settled.status is RefundStatus.SUCCEEDED
    assert settled.succeeded_at is not None
    assert provider_refund_keys(world, refund_id) == [refund_id]
    assert world.postings(reservation.order.id) == [
        "payment_captured",
        "refund_requested",
        "refund_settled",
    ]
    assert ledger_checks.check_ledger(world.container) == []
    notifications.run_once(world.container)
    with world.container.uow(readonly=True) as uow:
        assert not [m for m in uow.outbox.pending() if m.payload["order"] == reservation.order.id]


def test_cancelling_twice_is_refused_and_pays_once(world: World) -> None:
    reservation = paid(world)
    buyer = buyer_of(reservation)
    cancellations.cancel(world.container, buyer, reservation.order.id)

    with pytest.raises(InvalidTransition):
        cancellations.cancel(world.container, buyer, reservation.order.id)

    with world.container.uow(readonly=True) as uow:
        assert len(uow.refunds.for_order(reservation.order.id)) == 1


def test_a_cancel_expecting_more_than_the_quote_now_gives_changes_nothing(world: World) -> None:
    reservation = paid(world, ARC_FOUNDERS)
    buyer = buyer_of(reservation)

    with pytest.raises(Conflict) as caught:
        cancellations.cancel(
            world.container,
            buyer,
            reservation.order.id,
            expected_total=Money(2_000_000, "CNY"),
        )

    assert caught.value.code == "order.quote_changed"
    assert world.order(reservation.order.id).status is OrderStatus.LOCKED


def test_walking_away_from_a_locked_founders_order_forfeits_the_earnest_money(
    world: World,
) -> None:
    reservation = paid(world, ARC_FOUNDERS)
    buyer = buyer_of(reservation)

    done = cancellations.cancel(world.container, buyer, reservation.order.id)

    assert done.refund is None
    assert done.quote.forfeited == Money(2_000_000, "CNY")
    assert world.held(reservation.order.id) == 0
    assert world.postings(reservation.order.id) == ["payment_captured", "forfeited"]


def test_a_timeout_is_retried_with_the_same_key_after_a_backoff(world: World) -> None:
    reservation = paid(world)
    buyer = buyer_of(reservation)
    cancellations.cancel(world.container, buyer, reservation.order.id)
    refund_id = refund_of(world, reservation.order.id).id
    # The first call fails before doing anything (500); the second does the work but its
    # answer is lost (timeout): only the same key keeps the third call from refunding twice.
    world.misbehave(sandbox_unavailable_rate=1.0)

    refund_worker.run_once(world.container)
    first = refund_of(world, reservation.order.id)
    assert first.status is RefundStatus.RETRYING
    assert first.next_attempt_at == world.clock() + timedelta(seconds=60)
    assert first.idempotency_key == refund_id

    world.clock.advance(seconds=60)
    refund_worker.run_once(world.container)
    second = refund_of(world, reservation.order.id)
    assert second.status is RefundStatus.RETRYING
    assert second.next_attempt_at == world.clock() + timedelta(seconds=120)

    world.misbehave()
    world.clock.advance(seconds=120)
    refund_worker.run_once(world.container)
    world.deliver(reservation.payment.provider_reference)

    assert refund_of(world, reservation.order.id).status is RefundStatus.SUCCEEDED
    assert provider_refund_keys(world, refund_id) == [refund_id]
    assert ledger_checks.check_ledger(world.container) == []


def test_a_refused_refund_is_retried_under_a_new_key_then_left_to_finance(world: World) -> None:
    reservation = paid(world)
    buyer = buyer_of(reservation)
    cancellations.cancel(world.container, buyer, reservation.order.id)
    refund_id = refund_of(world, reservation.order.id).id
    world.misbehave(sandbox_refund_failure_rate=1.0)

    for _ in range(3):
        refund_worker.run_once(world.container)
        world.deliver(reservation.payment.provider_reference)
        world.clock.advance(hours=1)

    failed = refund_of(world, reservation.order.id)
    assert failed.status is RefundStatus.FAILED
    assert failed.attempts == 3
    assert provider_refund_keys(world, refund_id) == sorted(
        [refund_id, f"{refund_id}.1", f"{refund_id}.2"]
    )
    world.clock.advance(days=7)
    stuck = refund_worker.search(world.container, stuck=True, limit=200)
    assert refund_id in {view.refund.id for view in stuck}

    world.misbehave()
    finance = Actor(ActorKind.STAFF, id="S-1", roles=frozenset({Role.FINANCE}))
    retried = refund_worker.retry_failed(world.container, finance, refund_id)
    assert retried.status is RefundStatus.RETRYING
    refund_worker.run_once(world.container)
    world.deliver(reservation.payment.provider_reference)

    assert refund_of(world, reservation.order.id).status is RefundStatus.SUCCEEDED
    assert ledger_checks.check_ledger(world.container) == []


def test_an_unpaid_order_cancels_without_a_refund(world: World) -> None:
    buyer = world.buyer()
    reservation = world.reserve(buyer)

    done = cancellations.cancel(world.container, buyer, reservation.order.id)

    assert done.refund is None
    assert done.quote.total == Money(0, "CNY")
    assert world.postings(reservation.order.id) == []


def test_cancelling_in_the_cooling_off_after_the_lock_still_refunds_in_full(world: World) -> None:
    reservation = paid(world)
    buyer = buyer_of(reservation)
    orders.lock(world.container, buyer, reservation.order.id, confirm=True)

    done = cancellations.cancel(world.container, buyer, reservation.order.id)

    assert done.refund is not None
    assert done.refund.amount == Money(500_000, "CNY")
