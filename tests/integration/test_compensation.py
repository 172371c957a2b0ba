"""A maker breach returns earnest money twice over: the deposit through the provider, the
compensation on top by a bank transfer that finance records once (both engines)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from conftest import Database
from money_world import ARC_STANDARD, World

from marque.domain.deposits import BreachKind, RefundRule
from marque.domain.errors import Conflict
from marque.domain.identity import Actor, ActorKind, Role
from marque.domain.ledger import Account
from marque.domain.money import Money
from marque.domain.refunds import RefundEvent, RefundStatus
from marque.services import cancellations, ledger_checks, orders
from marque.services import refunds as refund_service

FINANCE = Actor(ActorKind.STAFF, id="S-fin", roles=frozenset({Role.FINANCE}))
FIVE_K = Money(500_000, "CNY")


@pytest.fixture
def world(seeded: Database) -> Iterator[World]:
    built = World.build(seeded)
    yield built
    built.close()


def breached_and_cancelled(world: World) -> tuple[str, str]:
    """A paid, locked sedan order whose maker breached (late delivery), then cancelled."""
    reservation = world.reserve(world.buyer(), ARC_STANDARD)
    world.pay(reservation.payment)
    buyer = Actor(ActorKind.CUSTOMER, id=reservation.order.customer_id)
    order_id = reservation.order.id
    orders.lock(world.container, buyer, order_id, confirm=True)
    world.clock.advance(days=30)  # well past the cooling-off: only the breach refunds now
    with world.container.uow() as uow:
        uow.orders.record_breach(order_id, BreachKind.LATE_DELIVERY)
        uow.commit()
    done = cancellations.cancel(world.container, buyer, order_id)
    assert done.quote.rule is RefundRule.DOUBLE_FOR_MAKER_BREACH
    assert done.refund is not None
    return order_id, done.refund.id


def settle_deposit(world: World, refund_id: str, order_id: str) -> None:
    refund_service.run_once(world.container)
    world.deliver()
    view = refund_service.view(world.container, refund_id)
    assert view.refund.status is RefundStatus.SUCCEEDED


def balance(world: World, order_id: str, account: Account) -> int:
    with world.container.uow(readonly=True) as uow:
        return sum(
            entry.amount.amount
            for posting in uow.ledger.for_order(order_id)
            for entry in posting.entries
            if entry.account is account
        )


def test_breach_refund_owes_the_deposit_again_as_compensation(world: World) -> None:
    order_id, refund_id = breached_and_cancelled(world)
    view = refund_service.view(world.container, refund_id)

    assert (view.refund.amount, view.refund.compensation) == (FIVE_K, FIVE_K)
    assert view.compensation_due


def test_recording_the_transfer_pays_the_compensation_once_and_clears_what_is_payable(
    world: World,
) -> None:
    order_id, refund_id = breached_and_cancelled(world)
    settle_deposit(world, refund_id, order_id)
    assert balance(world, order_id, Account.REFUNDS_PAYABLE) == -FIVE_K.amount

    paid = refund_service.record_compensation_paid(
        world.container, FINANCE, refund_id, bank_reference="BOC-2026-0001"
    )

    assert not paid.compensation_due
    record = paid.compensation_paid
    assert record is not None
    assert (record.actor, record.event) == ("staff:S-fin", RefundEvent.PAY_COMPENSATION)
    assert "BOC-2026-0001" in record.reason
    assert balance(world, order_id, Account.REFUNDS_PAYABLE) == 0
    assert balance(world, order_id, Account.COMPENSATION_EXPENSE) == FIVE_K.amount
    assert world.postings(order_id)[-1] == "compensation"
    assert ledger_checks.check_ledger(world.container) == []

    with pytest.raises(Conflict) as again:
        refund_service.record_compensation_paid(
            world.container, FINANCE, refund_id, bank_reference="BOC-2026-0002"
        )
    assert again.value.code == "refund.compensation_already_paid"
    assert balance(world, order_id, Account.REFUNDS_PAYABLE) == 0


def test_compensation_waits_until_the_deposit_itself_is_back(world: World) -> None:
    _, refund_id = breached_and_cancelled(world)

    with pytest.raises(Conflict) as early:
        refund_service.record_compensation_paid(
            world.container, FINANCE, refund_id, bank_reference="BOC-1"
        )
    assert early.value.code == "refund.invalid_transition"


def test_a_refund_without_compensation_refuses_a_transfer(world: World) -> None:
    reservation = world.reserve(world.buyer(), ARC_STANDARD)
    world.pay(reservation.payment)
    buyer = Actor(ActorKind.CUSTOMER, id=reservation.order.customer_id)
    done = cancellations.cancel(world.container, buyer, reservation.order.id)
    assert done.refund is not None

    with pytest.raises(Conflict) as refused:
        refund_service.record_compensation_paid(
            world.container, FINANCE, done.refund.id, bank_reference="BOC-2"
        )
    assert refused.value.code == "refund.no_compensation"
