"""Payment webhooks as a real provider sends them: twice, late, out of order, forged, stale,
or with another amount. Nothing is lost and nothing is posted twice (both engines)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from conftest import Database
from money_world import World

from marque.adapters.payments.sandbox_webhooks import deliver_due
from marque.adapters.payments.signing import SIGNATURE_HEADER, signature_header
from marque.domain.errors import NotFound
from marque.domain.money import Money
from marque.domain.order_entities import PaymentStatus
from marque.domain.orders import OrderStatus
from marque.domain.refunds import RefundReason, RefundStatus
from marque.services import cancellations, payments
from marque.services.payment_ports import WebhookRejected


@pytest.fixture
def world(seeded: Database) -> Iterator[World]:
    built = World.build(seeded)
    yield built
    built.close()


def refunds_of(world: World, order_id: str) -> list[tuple[RefundReason, RefundStatus, int]]:
    with world.container.uow(readonly=True) as uow:
        return [(r.reason, r.status, r.amount.amount) for r in uow.refunds.for_order(order_id)]


def test_a_webhook_delivered_twice_is_applied_once(world: World) -> None:
    world.misbehave(sandbox_webhook_duplicate_rate=1.0)
    reservation = world.reserve(world.buyer())

    world.pay(reservation.payment)

    assert [d.status for d in world.deliveries] == [200, 200]
    assert world.postings(reservation.order.id) == ["payment_captured"]
    assert world.held(reservation.order.id) == 500_000
    with world.container.uow(readonly=True) as uow:
        event_id = json.loads(world.deliveries[0].body)["event_id"]
        receipt = uow.webhooks.get("sandbox", event_id)
    assert receipt is not None
    assert receipt.outcome == "applied"


def test_the_same_signed_body_replayed_later_changes_nothing(world: World) -> None:
    reservation = world.reserve(world.buyer())
    world.pay(reservation.payment)
    body = world.deliveries[0].body
    headers = {SIGNATURE_HEADER: signature_header(world.provider.webhook_key, body, world.clock())}

    result = payments.handle_webhook(world.container, "sandbox", headers, body)

    assert result.duplicate is True
    assert world.postings(reservation.order.id) == ["payment_captured"]


def test_a_failed_payment_that_succeeds_on_a_later_attempt_reserves_the_order(
    world: World,
) -> None:
    reservation = world.reserve(world.buyer())

    world.fail(reservation.payment)
    assert world.payment(reservation.payment.id).status is PaymentStatus.FAILED
    assert world.order(reservation.order.id).status is OrderStatus.PENDING_PAYMENT

    world.pay(reservation.payment)

    assert world.order(reservation.order.id).status is OrderStatus.RESERVED
    assert world.payment(reservation.payment.id).status is PaymentStatus.SUCCEEDED
    assert world.postings(reservation.order.id) == ["payment_captured"]


def test_a_reordered_failure_after_success_is_ignored(world: World) -> None:
    world.misbehave(sandbox_webhook_reorder_rate=1.0, sandbox_webhook_reorder_hold_seconds=60)
    reservation = world.reserve(world.buyer())
    reference = reservation.payment.provider_reference or ""
    world.provider.complete_payment(reference, succeeded=False)  # held back 60 s
    world.misbehave()
    world.provider.complete_payment(reference, succeeded=True)  # delivered at once

    world.deliver(reference)
    assert world.order(reservation.order.id).status is OrderStatus.RESERVED
    world.clock.advance(seconds=61)
    world.deliver(reference)

    assert len(world.deliveries) == 2
    assert world.payment(reservation.payment.id).status is PaymentStatus.SUCCEEDED
    assert world.postings(reservation.order.id) == ["payment_captured"]


def test_paying_again_after_a_failed_attempt_and_then_both_succeeding_refunds_one(
    world: World,
) -> None:
    buyer = world.buyer()
    reservation = world.reserve(buyer)
    world.fail(reservation.payment)
    second = payments.retry_payment(world.container, buyer, reservation.order.id)
    assert second.id != reservation.payment.id

    world.pay(second)
    world.pay(reservation.payment)  # the first attempt goes through after all

    order = world.order(reservation.order.id)
    assert order.status is OrderStatus.RESERVED
    assert order.paid_payment_id == second.id
    assert refunds_of(world, order.id) == [
        (RefundReason.DUPLICATE_PAYMENT, RefundStatus.REQUESTED, 500_000)
    ]
    assert world.held(order.id) == 500_000
    assert sorted(world.postings(order.id)) == [
        "payment_captured",
        "payment_captured",
        "refund_requested",
    ]


def test_a_payment_arriving_after_expiry_is_sent_back(world: World) -> None:
    reservation = world.reserve(world.buyer())
    world.clock.advance(minutes=31)
    cancellations.expire_unpaid(world.container)

    world.pay(reservation.payment)

    order = world.order(reservation.order.id)
    assert order.status is OrderStatus.EXPIRED
    assert world.payment(reservation.payment.id).status is PaymentStatus.SUCCEEDED
    assert refunds_of(world, order.id) == [
        (RefundReason.LATE_PAYMENT, RefundStatus.REQUESTED, 500_000)
    ]
    assert world.held(order.id) == 0


def test_another_amount_is_recorded_and_not_applied(world: World) -> None:
    reservation = world.reserve(world.buyer())
    reference = reservation.payment.provider_reference or ""

    world.provider.complete_payment(reference, succeeded=True, captured=Money(1, "CNY"))
    world.deliver(reference)

    assert [d.status for d in world.deliveries] == [422]
    assert world.order(reservation.order.id).status is OrderStatus.PENDING_PAYMENT
    assert world.postings(reservation.order.id) == []
    event_id = json.loads(world.deliveries[0].body)["event_id"]
    with world.container.uow(readonly=True) as uow:
        receipt = uow.webhooks.get("sandbox", event_id)
    assert receipt is not None
    assert receipt.outcome == "mismatch"


def test_forged_and_stale_webhooks_are_rejected(world: World) -> None:
    reservation = world.reserve(world.buyer())
    world.pay(reservation.payment, deliver=False)
    world.deliver(reservation.payment.provider_reference)
    body = world.deliveries[0].body
    forged = body.replace(b"500000", b"900000")
    good_signature = signature_header(world.provider.webhook_key, body, world.clock())

    with pytest.raises(WebhookRejected):
        payments.handle_webhook(
            world.container, "sandbox", {SIGNATURE_HEADER: good_signature}, forged
        )
    with pytest.raises(WebhookRejected):
        payments.handle_webhook(world.container, "sandbox", {SIGNATURE_HEADER: "t=1,v1=00"}, body)
    stale = signature_header(world.provider.webhook_key, body, world.clock() - timedelta(hours=1))
    with pytest.raises(WebhookRejected):
        payments.handle_webhook(world.container, "sandbox", {SIGNATURE_HEADER: stale}, body)
    with pytest.raises(NotFound):
        payments.handle_webhook(world.container, "no-such-provider", {}, body)


def test_the_same_event_arriving_concurrently_is_applied_once(world: World) -> None:
    reservation = world.reserve(world.buyer())
    reference = reservation.payment.provider_reference or ""
    world.pay(reservation.payment, deliver=False)
    bodies: list[bytes] = []
    deliver_due(
        world.provider,
        now=world.clock(),
        post=lambda _url, _headers, body: bodies.append(body) or 503,
        payment_reference=reference,
    )
    [body] = bodies
    headers = {SIGNATURE_HEADER: signature_header(world.provider.webhook_key, body, world.clock())}
    results: list[payments.WebhookResult] = []

    def receive() -> None:
        results.append(payments.handle_webhook(world.container, "sandbox", headers, body))

    threads = [threading.Thread(target=receive) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(r.duplicate for r in results) == [False] + [True] * 5
    assert world.postings(reservation.order.id) == ["payment_captured"]
    assert world.order(reservation.order.id).status is OrderStatus.RESERVED


def test_an_orders_payments_made_at_one_instant_keep_the_order_they_were_made_in(
    world: World,
) -> None:
    """The clock does not move here, so every payment of an order carries the same
    ``created_at``; their random ids must not decide which one is the latest (over eight
    orders, an order decided by id would be right for all of them once in 256 runs)."""
    for _ in range(8):
        buyer = world.buyer()
        reservation = world.reserve(buyer)
        world.fail(reservation.payment)

        second = payments.retry_payment(world.container, buyer, reservation.order.id)
        again = payments.retry_payment(world.container, buyer, reservation.order.id)
        current = payments.current_payment(world.container, buyer, reservation.order.id)

        assert second.created_at == reservation.payment.created_at
        assert again.id == second.id  # the pending one is reused, not a third made
        assert current.id == second.id
        with world.container.uow(readonly=True) as uow:
            made = [p.id for p in uow.payments.for_order(reservation.order.id)]
        assert made == [reservation.payment.id, second.id]
