"""A refund the worker gave up on may still have been paid: the provider did the work of the
last attempt and only its answer was lost. Its success webhook must then settle the refund
(found by the money state machine, tests/properties/test_money_state_machine.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from conftest import Database
from money_world import World

from marque.domain.refunds import RefundStatus
from marque.services import cancellations, ledger_checks
from marque.services import refunds as refund_worker


@pytest.fixture
def world(seeded: Database) -> Iterator[World]:
    built = World.build(seeded, refund_max_attempts=3)
    yield built
    built.close()


def test_a_refund_given_up_after_a_lost_answer_is_settled_by_the_providers_webhook(
    world: World,
) -> None:
    buyer = world.buyer()
    reservation = world.reserve(buyer)
    world.pay(reservation.payment)
    cancellations.cancel(world.container, buyer, reservation.order.id)
    # 1st attempt refused by the provider (new key next time); 2nd: a 500 before any work;
    # 3rd: the provider refunds, then the answer is lost. Three attempts: given up.
    world.misbehave(sandbox_refund_failure_rate=1.0)
    refund_worker.run_once(world.container)
    world.deliver(reservation.payment.provider_reference)
    world.misbehave(sandbox_unavailable_rate=1.0)
    for _ in range(2):
        world.clock.advance(hours=1)
        refund_worker.run_once(world.container)
    with world.container.uow(readonly=True) as uow:
        [given_up] = uow.refunds.for_order(reservation.order.id)
    assert given_up.status is RefundStatus.FAILED

    world.misbehave()
    world.deliver(reservation.payment.provider_reference)  # the provider: refund succeeded

    assert [d.status for d in world.deliveries][-1] == 200
    with world.container.uow(readonly=True) as uow:
        [settled] = uow.refunds.for_order(reservation.order.id)
    assert settled.status is RefundStatus.SUCCEEDED
    assert world.postings(reservation.order.id)[-1] == "refund_settled"
    assert ledger_checks.check_ledger(world.container) == []
