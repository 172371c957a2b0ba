"""Reserving, paying, changing, locking and expiring orders on a real database (both engines),
with the real sandbox provider and its signed webhooks applied in-process."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator, Sequence
from datetime import timedelta

import pytest
from conftest import Database
from money_world import ARC_FOUNDERS, ARC_LONG_RANGE, World
from sqlalchemy import Connection, event, func, select, update

from marque.adapters.db.tables.orders import outbox
from marque.domain.errors import Conflict, InvalidTransition, NotFound, ValidationFailed
from marque.domain.order_entities import PaymentStatus
from marque.domain.orders import OrderStatus
from marque.services import cancellations, lock_jobs, notifications, order_queries, orders
from marque.services.ports import TextMessage


@pytest.fixture
def world(seeded: Database) -> Iterator[World]:
    built = World.build(seeded)
    yield built
    built.close()


def test_reserving_creates_an_unpaid_order_with_a_payment_and_a_pay_url(world: World) -> None:
    buyer = world.buyer()

    reservation = world.reserve(buyer)

    order, payment = reservation.order, reservation.payment
    assert order.status is OrderStatus.PENDING_PAYMENT
    assert order.customer_id == buyer.id
    assert order.deposit.amount == 500_000
    assert order.expires_at == world.clock() + timedelta(minutes=30)
    assert payment.status is PaymentStatus.PENDING
    assert payment.idempotency_key == payment.id
    assert payment.pay_url
    assert payment.provider_reference
    assert world.payment(payment.id).pay_url == payment.pay_url
    assert world.held(order.id) == 0


def test_the_same_idempotency_key_returns_the_same_order(world: World) -> None:
    buyer = world.buyer()
    key = secrets.token_hex(8)

    first = world.reserve(buyer, key=key)
    second = world.reserve(buyer, key=key)

    assert second.created is False
    assert (second.order.id, second.payment.id) == (first.order.id, first.payment.id)


def test_terms_other_than_those_in_force_are_refused(world: World) -> None:
    buyer = world.buyer()
    code = world.configuration()

    with pytest.raises(Conflict) as caught:
        orders.reserve(world.container, buyer, world.request(code, terms_hash="0" * 64))
    assert caught.value.code == "order.terms_outdated"

    with pytest.raises(ValidationFailed) as refused:
        orders.reserve(world.container, buyer, world.request(code, accept_terms=False))
    assert refused.value.code == "order.terms_not_accepted"


def test_a_buyer_may_hold_two_open_orders_per_model(world: World) -> None:
    buyer = world.buyer()
    world.reserve(buyer)
    world.reserve(buyer, ARC_LONG_RANGE)

    with pytest.raises(Conflict) as caught:
        world.reserve(buyer)

    assert caught.value.code == "order.open_order_limit"


def test_a_cancelled_order_frees_its_place_under_the_limit(world: World) -> None:
    buyer = world.buyer()
    first = world.reserve(buyer)
    world.reserve(buyer)
    cancellations.cancel(world.container, buyer, first.order.id)

    third = world.reserve(buyer)

    assert third.order.status is OrderStatus.PENDING_PAYMENT


def test_one_limited_edition_order_per_buyer(world: World) -> None:
    buyer = world.buyer()
    world.reserve(buyer, ARC_FOUNDERS)

    with pytest.raises(Conflict) as caught:
        world.reserve(buyer, ARC_FOUNDERS)

    assert caught.value.code == "order.limited_edition_taken"


def test_payment_webhook_reserves_the_order_posts_once_and_queues_the_paid_notice(
    world: World,
) -> None:
    buyer = world.buyer()
    reservation = world.reserve(buyer)

    world.pay(reservation.payment)

    order = world.order(reservation.order.id)
    assert order.status is OrderStatus.RESERVED, world.deliveries
    assert order.paid_payment_id == reservation.payment.id
    assert order.paid_at == world.clock()
    assert order.expires_at is None
    assert order.lock_reminder_due_at == order.paid_at + timedelta(hours=168 - 24)
    assert order.auto_lock_at == order.paid_at + timedelta(hours=168)
    assert world.held(order.id) == 500_000
    assert world.postings(order.id) == ["payment_captured"]
    assert world.payment(reservation.payment.id).status is PaymentStatus.SUCCEEDED


def test_founders_edition_locks_on_payment_as_its_terms_say(world: World) -> None:
    buyer = world.buyer()
    reservation = world.reserve(buyer, ARC_FOUNDERS)

    world.pay(reservation.payment)

    order = world.order(reservation.order.id)
    assert order.status is OrderStatus.LOCKED
    assert order.locked_at == order.paid_at
    history = order_queries.order_detail(world.container, buyer, order.id).history
    assert [c.event for c in history] == ["pay", "auto_lock"]
    assert history[1].actor == "system:system"


def test_locking_needs_a_paid_order_and_the_buyers_confirmation(world: World) -> None:
    buyer = world.buyer()
    reservation = world.reserve(buyer)
    order_id = reservation.order.id

    with pytest.raises(Conflict) as unpaid:
        orders.lock(world.container, buyer, order_id, confirm=True)
    assert unpaid.value.code == "order.not_paid"
    assert unpaid.value.status == 409

    world.pay(reservation.payment)
    with pytest.raises(ValidationFailed) as unconfirmed:
        orders.lock(world.container, buyer, order_id, confirm=False)
    assert unconfirmed.value.code == "order.lock_not_confirmed"

    locked = orders.lock(world.container, buyer, order_id, confirm=True)
    assert locked.status is OrderStatus.LOCKED
    assert locked.auto_lock_at is None

    with pytest.raises(InvalidTransition):
        orders.lock(world.container, buyer, order_id, confirm=True)


def test_another_buyers_order_does_not_exist_for_them(world: World) -> None:
    owner, stranger = world.buyer(), world.buyer()
    reservation = world.reserve(owner)

    for attempt in (
        lambda: order_queries.order_detail(world.container, stranger, reservation.order.id),
        lambda: orders.lock(world.container, stranger, reservation.order.id, confirm=True),
        lambda: cancellations.cancel(world.container, stranger, reservation.order.id),
    ):
        with pytest.raises(NotFound) as caught:
            attempt()
        assert caught.value.code == "order.not_found"


def test_changing_the_configuration_reprices_keeps_history_and_requeues(world: World) -> None:
    buyer = world.buyer()
    reservation = world.reserve(buyer)
    world.pay(reservation.payment)
    new_code = world.configuration(ARC_LONG_RANGE)

    changed = orders.change_configuration(world.container, buyer, reservation.order.id, new_code)

    assert changed.configuration_code == new_code
    assert changed.trim_code == "long-range"
    assert changed.price > reservation.order.price
    assert changed.deposit == reservation.order.deposit
    detail = order_queries.order_detail(world.container, buyer, changed.id)
    # To the back of the new configuration's queue: every paid order there is ahead.
    assert detail.queue is not None
    assert changed.queue_number == detail.queue.number
    assert detail.queue.configuration_code == new_code
    with world.container.uow(readonly=True) as uow:
        assert detail.queue.ahead == uow.launch.waiting(new_code) - 1
    [change] = detail.configuration_changes
    assert (change.old_code, change.new_code) == (reservation.order.configuration_code, new_code)
    assert (change.old_price, change.new_price) == (reservation.order.price, changed.price)
    assert world.held(changed.id) == 500_000


def test_changing_the_configuration_after_the_lock_is_refused(world: World) -> None:
    buyer = world.buyer()
    reservation = world.reserve(buyer)
    world.pay(reservation.payment)
    orders.lock(world.container, buyer, reservation.order.id, confirm=True)

    with pytest.raises(InvalidTransition) as caught:
        orders.change_configuration(
            world.container, buyer, reservation.order.id, world.configuration(ARC_LONG_RANGE)
        )

    assert caught.value.code == "order.invalid_transition"


def test_a_configuration_under_other_terms_needs_a_new_order(world: World) -> None:
    buyer = world.buyer()
    reservation = world.reserve(buyer)

    with pytest.raises(ValidationFailed) as caught:
        orders.change_configuration(
            world.container, buyer, reservation.order.id, world.configuration(ARC_FOUNDERS)
        )

    assert caught.value.code == "order.terms_differ"


def test_unpaid_reservations_expire_after_the_payment_window(world: World) -> None:
    buyer = world.buyer()
    reservation = world.reserve(buyer)

    world.clock.advance(minutes=29)
    cancellations.expire_unpaid(world.container)
    assert world.order(reservation.order.id).status is OrderStatus.PENDING_PAYMENT

    world.clock.advance(minutes=2)
    assert cancellations.expire_unpaid(world.container) >= 1

    assert world.order(reservation.order.id).status is OrderStatus.EXPIRED
    assert world.payment(reservation.payment.id).status is PaymentStatus.ABANDONED


def test_auto_lock_waits_for_a_reminder_sent_a_day_before(world: World) -> None:
    buyer = world.buyer()
    reservation = world.reserve(buyer)
    world.pay(reservation.payment)
    order_id = reservation.order.id

    # The reminder job was not running: at the planned lock time nothing locks.
    world.clock.advance(hours=168)
    lock_jobs.auto_lock(world.container)
    assert world.order(order_id).status is OrderStatus.RESERVED

    lock_jobs.send_lock_reminders(world.container)
    reminded = world.order(order_id)
    assert reminded.lock_reminder_sent_at == world.clock()
    assert reminded.auto_lock_at == world.clock() + timedelta(hours=24)

    world.clock.advance(hours=23)
    lock_jobs.auto_lock(world.container)
    assert world.order(order_id).status is OrderStatus.RESERVED

    world.clock.advance(hours=1)
    lock_jobs.auto_lock(world.container)
    locked = world.order(order_id)
    assert locked.status is OrderStatus.LOCKED
    assert locked.locked_at == world.clock()


def test_notifications_reach_the_buyer_in_their_language(world: World) -> None:
    buyer = world.buyer()
    reservation = world.reserve(buyer, locale="zh-CN")
    world.pay(reservation.payment)

    notifications.run_once(world.container)

    with world.container.uow(readonly=True) as uow:
        account = uow.auth.customer(buyer.id or "")
        assert account is not None
        inbox = uow.auth.sandbox_messages(account.phone, limit=5)
    texts = [m.text for m in inbox if m.purpose == "order.paid"]
    assert texts
    assert reservation.order.id in texts[0]
    assert "预付款" in texts[0]


def test_concurrent_reservations_by_one_buyer_never_exceed_the_limit(world: World) -> None:
    buyer = world.buyer()
    request = world.request(world.configuration())
    same_key = world.request(request.configuration_code, key=secrets.token_hex(8))
    outcomes: list[str] = []

    def attempt(which: orders.ReserveRequest) -> None:
        try:
            reservation = orders.reserve(world.container, buyer, which)
            outcomes.append(reservation.order.id)
        except Conflict as exc:
            outcomes.append(exc.code)

    threads = [threading.Thread(target=attempt, args=(request,)) for _ in range(4)]
    threads += [threading.Thread(target=attempt, args=(same_key,)) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    orders_made = {o for o in outcomes if o.startswith("O-")}
    assert len(orders_made) == 2
    assert outcomes.count("order.open_order_limit") == len(outcomes) - sum(
        o.startswith("O-") for o in outcomes
    )
    with world.container.uow(readonly=True) as uow:
        assert len(uow.orders.for_customer(buyer.id or "", after=None, limit=10)) == 2


def test_the_relay_sends_a_launch_of_notices_once_each_in_a_few_transactions(
    world: World,
) -> None:
    with world.container.engine.begin() as conn:  # earlier tests' notices, out of the way
        conn.execute(update(outbox).where(outbox.c.sent_at.is_(None)).values(dead=True))
        start = conn.execute(select(func.max(outbox.c.id))).scalar() or 0
    buyers = [world.buyer() for _ in range(26)]
    for buyer in buyers:
        world.pay(world.reserve(buyer).payment)
    with world.container.uow() as uow:  # a buyer gone from the books: their notice fails
        uow.outbox.add("order.paid", {"customer": "C-gone", "order": "O-gone"}, now=world.clock())
        uow.commit()
    commits: list[object] = []

    def count(conn: Connection) -> None:
        if not conn.get_execution_options().get("marque_readonly"):  # reads end with COMMIT
            commits.append(conn)

    event.listen(world.container.engine, "commit", count)
    ran_at = world.clock()
    try:
        sent = notifications.run_once(world.container)
    finally:
        event.remove(world.container.engine, "commit", count)

    # The session's live server shares this database and runs its jobs on the real clock:
    # a notice of its own written meanwhile may be sent by this relay (stamped with the
    # world's far-future clock), in a transaction of its own, or by the server's relay.
    ours = {buyer.id for buyer in buyers} | {"C-gone"}
    with world.container.engine.connect() as conn:
        sent_here = conn.execute(
            select(outbox.c.payload).where(
                outbox.c.id > start, outbox.c.sent_at >= ran_at - timedelta(seconds=1)
            )
        ).scalars()
        foreign = [p for p in sent_here if (p or {}).get("customer") not in ours]
    assert sent == 26 + len(foreign)
    # The claim, the failure recorded, and per chunk of 20 one gateway call (the sandbox
    # stores the chunk's messages in one transaction) and one marking them sent.
    chunks = -(-(26 + len(foreign)) // notifications.MARK_EVERY)
    assert len(commits) == 2 + 2 * chunks
    # Nothing is sent twice: a second run sends none of ours (each buyer's inbox below holds
    # one notice), only what the live server may have written meanwhile (see above).
    notifications.run_once(world.container)
    with world.container.uow(readonly=True) as uow:
        pending = uow.outbox.pending("order.paid")
        for buyer in buyers:
            account = uow.auth.customer(buyer.id or "")
            assert account is not None
            inbox = uow.auth.sandbox_messages(account.phone, limit=5)
            assert [m.purpose for m in inbox].count("order.paid") == 1
    kept = [m.payload["customer"] for m in pending if m.payload["customer"] in ours]
    assert kept == ["C-gone"]  # kept, to retry


class FailingGateway:
    """An SMS gateway whose batch call fails: nothing it was given is sent."""

    def send(self, phone: str, text: str, *, purpose: str) -> None:
        raise ConnectionError("gateway down")

    def send_many(self, messages: Sequence[TextMessage]) -> list[Exception | None]:
        raise ConnectionError("gateway down")


def test_notices_a_failed_gateway_call_did_not_send_stay_to_be_sent_later(world: World) -> None:
    with world.container.engine.begin() as conn:  # earlier tests' notices, out of the way
        conn.execute(update(outbox).where(outbox.c.sent_at.is_(None)).values(dead=True))
    buyer = world.buyer()
    world.pay(world.reserve(buyer).payment)
    working = world.container.sms
    world.container.sms = FailingGateway()
    try:
        assert notifications.run_once(world.container) == 0
    finally:
        world.container.sms = working
    with world.container.uow(readonly=True) as uow:
        kept = [m for m in uow.outbox.pending("order.paid") if m.payload["customer"] == buyer.id]
    assert [m.attempts for m in kept] == [1], "kept with one failed attempt, for a retry"
