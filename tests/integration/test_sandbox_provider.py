"""The sandbox provider's own behaviour on a real database (SQLite and PostgreSQL).

What every provider must do is in tests/contract; this file covers what only the sandbox
does: misbehaving on request (duplicate, late and reordered webhooks, failing refunds,
outages), delivering webhooks at least once with backoff, sharing one sandbox between
processes, and the buyer's side (succeed, fail, captured amount).
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from marque.adapters.clock import FrozenClock
from marque.adapters.db.tables.sandbox_payments import sandbox_payments, sandbox_webhook_deliveries
from marque.adapters.payments.sandbox import SandboxPaymentProvider
from marque.adapters.payments.sandbox_webhooks import MAX_ATTEMPTS
from marque.bootstrap import Container
from marque.domain.errors import Conflict
from marque.domain.money import Money
from marque.entrypoints.workers.sandbox_webhooks import WebhookPump
from marque.services.payment_ports import (
    ProviderPayment,
    ProviderPaymentStatus,
    ProviderRefundStatus,
    ProviderUnavailable,
    WebhookEvent,
    WebhookEventType,
    WebhookRejected,
)

DEPOSIT = Money(500000, "CNY")
START = datetime(2032, 5, 20, 23, 50, tzinfo=UTC)


def ref(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(6)}"


def sandbox(
    container: Container, clock: FrozenClock | None = None, **overrides: Any
) -> SandboxPaymentProvider:
    """A sandbox provider on the test database, as another server process would build it."""
    settings = container.settings.model_copy(update=overrides)
    return SandboxPaymentProvider(container.engine, settings, clock=clock or FrozenClock(START))


def create(
    provider: SandboxPaymentProvider, amount: Money = DEPOSIT, key: str | None = None
) -> ProviderPayment:
    return provider.create_payment(
        merchant_reference=ref("PAY"),
        amount=amount,
        description="Deposit",
        idempotency_key=key or ref("key"),
    )


@dataclass
class Receiver:
    """An injected ``post``: records what arrives and answers the statuses it is given."""

    provider: SandboxPaymentProvider
    answers: list[int]
    received: list[tuple[str, Mapping[str, str], bytes]]

    def __call__(self, url: str, headers: Mapping[str, str], body: bytes) -> int:
        self.received.append((url, dict(headers), body))
        return self.answers.pop(0) if self.answers else 200

    def events(self) -> list[WebhookEvent]:
        return [
            self.provider.parse_webhook(headers, body, self.provider.now())
            for _url, headers, body in self.received
        ]


def receiver(provider: SandboxPaymentProvider, *answers: int) -> Receiver:
    return Receiver(provider, list(answers), [])


def deliver(
    provider: SandboxPaymentProvider,
    post: Receiver,
    payment: ProviderPayment,
    now: datetime | None = None,
) -> int:
    return provider.deliver_due(now=now, post=post, payment_reference=payment.reference)


# ---------------------------------------------------------------------------- wiring


def test_the_container_registers_the_sandbox_as_the_default_provider(container: Container) -> None:
    assert isinstance(container.payments, SandboxPaymentProvider)
    assert container.payment_providers["sandbox"] is container.payments


def test_webhooks_go_to_the_public_url_unless_a_webhook_url_is_set(container: Container) -> None:
    default = sandbox(container, public_url="https://shop.example.com/")
    redirected = sandbox(container, sandbox_webhook_url="http://127.0.0.1:9/hook")

    assert default.webhook_url == "https://shop.example.com/api/v1/payments/webhooks/sandbox"
    assert redirected.webhook_url == "http://127.0.0.1:9/hook"


def test_a_configured_webhook_secret_replaces_the_derived_key(container: Container) -> None:
    derived = sandbox(container)
    configured = sandbox(container, sandbox_webhook_secret="whsec-" + secrets.token_hex(16))
    payment = create(derived)
    derived.complete_payment(payment.reference, succeeded=True)
    post = receiver(derived)
    deliver(derived, post, payment)
    _url, headers, body = post.received[0]

    with pytest.raises(WebhookRejected) as rejected:
        configured.parse_webhook(headers, body, START)

    assert rejected.value.code == "payments.webhook_signature_invalid"


# ---------------------------------------------------------------------------- the buyer's side


def test_paying_twice_records_one_payment_and_schedules_one_event(container: Container) -> None:
    provider = sandbox(container)
    payment = create(provider)

    first = provider.complete_payment(payment.reference, succeeded=True)
    second = provider.complete_payment(payment.reference, succeeded=True)

    assert first == second
    assert first.status is ProviderPaymentStatus.SUCCEEDED
    assert [hook.type for hook in provider.inspect(payment.reference).webhooks] == [
        "payment.succeeded"
    ]


def test_a_failed_payment_may_still_succeed_but_a_succeeded_one_cannot_fail(
    container: Container,
) -> None:
    provider = sandbox(container)
    payment = create(provider)

    provider.complete_payment(
        payment.reference, succeeded=False, failure_reason="insufficient funds"
    )
    provider.complete_payment(payment.reference, succeeded=False)
    paid = provider.complete_payment(payment.reference, succeeded=True)
    with pytest.raises(Conflict) as refused:
        provider.complete_payment(payment.reference, succeeded=False)

    assert paid.status is ProviderPaymentStatus.SUCCEEDED
    assert refused.value.code == "sandbox.payment_already_succeeded"
    assert [hook.type for hook in provider.inspect(payment.reference).webhooks] == [
        "payment.failed",
        "payment.succeeded",
    ]


def test_a_captured_amount_that_differs_is_what_the_webhook_and_settlement_report(
    container: Container,
) -> None:
    provider = sandbox(container)
    payment = create(provider)
    taken = Money(499900, "CNY")

    provider.complete_payment(payment.reference, succeeded=True, captured=taken)
    post = receiver(provider)
    deliver(provider, post, payment)

    assert [event.amount for event in post.events()] == [taken]
    assert provider.get_payment(payment.reference).amount == taken
    lines = [
        line
        for line in provider.settlement_report(START.date())
        if line.reference == payment.reference
    ]
    assert [line.amount for line in lines] == [taken]


@pytest.mark.parametrize(
    ("duplicate_rate", "captured", "failed_first"),
    [(0.0, None, False), (1.0, None, False), (0.0, Money(499900, "CNY"), False), (0.0, None, True)],
    ids=["pending", "duplicated-webhook", "other-amount", "failed-first"],
)
def test_the_pay_answer_is_what_reading_the_payment_then_shows(
    container: Container, duplicate_rate: float, captured: Money | None, failed_first: bool
) -> None:
    """A pending payment's pay call answers from what it wrote, without reading back
    (sandbox.py, ``_SUCCEED_PENDING``); a read must show the same."""
    provider = sandbox(container, sandbox_webhook_duplicate_rate=duplicate_rate)
    payment = create(provider)
    if failed_first:
        provider.complete_payment(payment.reference, succeeded=False)

    answered = provider.complete_and_inspect(payment.reference, succeeded=True, captured=captured)

    assert answered == provider.inspect(payment.reference)
    assert answered.payment.status is ProviderPaymentStatus.SUCCEEDED
    assert answered.payment.amount == (captured or DEPOSIT)
    assert [hook.type for hook in answered.webhooks] == (
        ["payment.failed"] * failed_first + ["payment.succeeded"] * (1 + int(duplicate_rate))
    )


# ---------------------------------------------------------------------------- misbehaviour on request


def test_a_duplicate_rate_of_one_half_doubles_the_first_third_and_fifth_event(
    container: Container,
) -> None:
    provider = sandbox(container, sandbox_webhook_duplicate_rate=0.5)
    payments = [create(provider) for _ in range(5)]
    for payment in payments:
        provider.complete_payment(payment.reference, succeeded=True)

    copies = [len(provider.inspect(payment.reference).webhooks) for payment in payments]

    assert copies == [2, 1, 2, 1, 2]


def test_a_held_back_event_is_overtaken_by_the_next_event_of_its_payment(
    container: Container,
) -> None:
    clock = FrozenClock(START)
    provider = sandbox(
        container, clock, sandbox_webhook_reorder_rate=0.5, sandbox_webhook_reorder_hold_seconds=10
    )
    payment = create(provider)
    provider.complete_payment(payment.reference, succeeded=False)  # 1st event: held back
    clock.advance(seconds=1)
    provider.complete_payment(payment.reference, succeeded=True)  # 2nd event: not held
    post = receiver(provider)

    deliver(provider, post, payment, now=START + timedelta(seconds=2))
    first_round = [event.type for event in post.events()]
    clock.advance(seconds=10)
    deliver(provider, post, payment)

    assert first_round == [WebhookEventType.PAYMENT_SUCCEEDED]
    assert [event.type for event in post.events()] == [
        WebhookEventType.PAYMENT_SUCCEEDED,
        WebhookEventType.PAYMENT_FAILED,
    ]


def test_a_webhook_delay_holds_deliveries_until_they_fall_due(container: Container) -> None:
    provider = sandbox(container, sandbox_webhook_delay_seconds=30)
    payment = create(provider)
    provider.complete_payment(payment.reference, succeeded=True)
    post = receiver(provider)

    early = deliver(provider, post, payment, now=START + timedelta(seconds=29))
    on_time = deliver(provider, post, payment, now=START + timedelta(seconds=30))

    assert (early, on_time) == (0, 1)


def test_a_refund_failure_rate_of_one_fails_refunds_and_leaves_the_amount_refundable(
    container: Container,
) -> None:
    clock = FrozenClock(START)
    failing = sandbox(container, clock, sandbox_refund_failure_rate=1.0)
    payment = create(failing)
    failing.complete_payment(payment.reference, succeeded=True)
    key, merchant_reference = ref("rkey"), ref("REF")

    failing.refund(
        payment_reference=payment.reference,
        merchant_reference=merchant_reference,
        amount=DEPOSIT,
        idempotency_key=key,
    )
    clock.advance(seconds=1)
    replay = failing.refund(
        payment_reference=payment.reference,
        merchant_reference=merchant_reference,
        amount=DEPOSIT,
        idempotency_key=key,
    )
    post = receiver(failing)
    deliver(failing, post, payment)
    retried = sandbox(container, clock).refund(
        payment_reference=payment.reference,
        merchant_reference=merchant_reference,
        amount=DEPOSIT,
        idempotency_key=ref("rkey"),
    )

    assert replay.status is ProviderRefundStatus.FAILED
    assert replay.failure_reason
    refund_events = [e for e in post.events() if e.type is WebhookEventType.REFUND_FAILED]
    assert [e.refund_reference for e in refund_events] == [replay.reference]
    assert retried.status is ProviderRefundStatus.PENDING
    settled = [line.reference for line in failing.settlement_report(START.date())]
    assert replay.reference not in settled


def test_a_refund_stays_pending_until_it_settles_and_is_reported_on_the_day_it_settles(
    container: Container,
) -> None:
    clock = FrozenClock(START)  # 23:50 UTC: settling 20 minutes later falls on the next day
    provider = sandbox(container, clock, sandbox_refund_delay_seconds=20 * 60)
    payment = create(provider)
    provider.complete_payment(payment.reference, succeeded=True)
    key, merchant_reference = ref("rkey"), ref("REF")

    def ask() -> ProviderRefundStatus:
        return provider.refund(
            payment_reference=payment.reference,
            merchant_reference=merchant_reference,
            amount=Money(1000, "CNY"),
            idempotency_key=key,
        ).status

    statuses = [ask()]
    clock.advance(minutes=19)
    statuses.append(ask())
    post = receiver(provider)
    early = deliver(provider, post, payment)
    clock.advance(minutes=1)
    statuses.append(ask())
    on_time = deliver(provider, post, payment)

    assert statuses == [
        ProviderRefundStatus.PENDING,
        ProviderRefundStatus.PENDING,
        ProviderRefundStatus.SUCCEEDED,
    ]
    assert (early, on_time) == (1, 1)  # the payment's webhook, then the refund's
    next_day = (START + timedelta(days=1)).date()
    refund_reference = post.events()[-1].refund_reference
    assert refund_reference in {line.reference for line in provider.settlement_report(next_day)}
    assert refund_reference not in {
        line.reference for line in provider.settlement_report(START.date())
    }


def test_an_outage_fails_before_the_work_then_after_it_and_a_retry_with_the_key_finds_the_payment(
    container: Container,
) -> None:
    down = sandbox(container, sandbox_unavailable_rate=1.0)
    up = sandbox(container)
    key, merchant_reference = ref("key"), ref("PAY")

    def attempt(provider: SandboxPaymentProvider) -> ProviderPayment:
        return provider.create_payment(
            merchant_reference=merchant_reference,
            amount=DEPOSIT,
            description="d",
            idempotency_key=key,
        )

    def rows() -> int:
        with container.engine.connect() as conn:
            return int(
                conn.execute(
                    select(func.count())
                    .select_from(sandbox_payments)
                    .where(sandbox_payments.c.idempotency_key == key)
                ).scalar_one()
            )

    with pytest.raises(ProviderUnavailable):
        attempt(down)  # a 500: nothing was done
    after_first = rows()
    with pytest.raises(ProviderUnavailable):
        attempt(down)  # a timeout: done, answer lost
    after_second = rows()
    retried = attempt(up)
    again = attempt(up)

    assert (after_first, after_second, rows()) == (0, 1, 1)
    assert retried == again
    assert retried.merchant_reference == merchant_reference


def test_reads_fail_too_while_the_provider_is_unavailable(container: Container) -> None:
    payment = create(sandbox(container))
    down = sandbox(container, sandbox_unavailable_rate=1.0)

    with pytest.raises(ProviderUnavailable) as unavailable:
        down.get_payment(payment.reference)
    with pytest.raises(ProviderUnavailable):
        down.settlement_report(START.date())

    assert unavailable.value.code == "payments.provider_unavailable"
    assert unavailable.value.status == 503


# ---------------------------------------------------------------------------- delivery


def test_a_refused_delivery_is_retried_with_growing_backoff_until_accepted(
    container: Container,
) -> None:
    provider = sandbox(container)
    payment = create(provider)
    provider.complete_payment(payment.reference, succeeded=True)
    post = receiver(provider, 500, 503)

    rounds = [
        deliver(provider, post, payment, now=START),  # attempt 1: 500, next in 1 s
        deliver(provider, post, payment, now=START + timedelta(seconds=0.5)),  # not due
        deliver(
            provider, post, payment, now=START + timedelta(seconds=1)
        ),  # attempt 2: 503, next in 2 s
        deliver(provider, post, payment, now=START + timedelta(seconds=2.5)),  # not due
        deliver(provider, post, payment, now=START + timedelta(seconds=3)),  # attempt 3: 200
    ]

    (hook,) = provider.inspect(payment.reference).webhooks
    assert rounds == [0, 0, 0, 0, 1]
    assert len(post.received) == 3
    assert len({event.event_id for event in post.events()}) == 1
    assert (hook.attempts, hook.last_status, hook.delivered_at) == (
        3,
        200,
        START + timedelta(seconds=3),
    )


def test_delivery_gives_up_after_the_last_attempt(container: Container) -> None:
    provider = sandbox(container)
    payment = create(provider)
    provider.complete_payment(payment.reference, succeeded=True)
    post = receiver(provider, *([500] * MAX_ATTEMPTS))

    at = START
    for _ in range(MAX_ATTEMPTS + 2):
        deliver(provider, post, payment, now=at)
        at += timedelta(hours=1)

    (hook,) = provider.inspect(payment.reference).webhooks
    assert len(post.received) == MAX_ATTEMPTS
    assert hook.gave_up_at is not None
    assert hook.delivered_at is None


def test_a_receiver_that_cannot_be_reached_counts_as_a_failed_attempt(container: Container) -> None:
    provider = sandbox(container)
    payment = create(provider)
    provider.complete_payment(payment.reference, succeeded=True)

    def broken(_url: str, _headers: Mapping[str, str], _body: bytes) -> int:
        raise ConnectionError("receiver down")

    delivered = provider.deliver_due(now=START, post=broken, payment_reference=payment.reference)

    (hook,) = provider.inspect(payment.reference).webhooks
    assert delivered == 0
    assert (hook.attempts, hook.last_status, hook.delivered_at) == (1, None, None)


def test_a_delivery_claimed_by_one_process_is_not_sent_again_by_another(
    container: Container,
) -> None:
    first_process, second_process = sandbox(container), sandbox(container)
    payment = create(first_process)
    first_process.complete_payment(payment.reference, succeeded=True)
    sent_by_second: list[bytes] = []

    def second_post(_url: str, _headers: Mapping[str, str], body: bytes) -> int:
        sent_by_second.append(body)
        return 200

    def first_post(_url: str, _headers: Mapping[str, str], _body: bytes) -> int:
        # While the first process is still sending, the second one runs a round.
        second_process.deliver_due(now=START, post=second_post, payment_reference=payment.reference)
        return 200

    delivered = first_process.deliver_due(
        now=START, post=first_post, payment_reference=payment.reference
    )

    assert delivered == 1
    assert sent_by_second == []


def test_the_background_pump_delivers_without_being_asked(container: Container) -> None:
    # A day of its own, far ahead: on the real clock, the session's live server (same
    # database, its own pump) could take this webhook first and, its POST refused, leave
    # it for a retry many seconds later.
    day = datetime(2070, 1, 1, tzinfo=UTC) + timedelta(days=secrets.randbelow(3650))
    provider = SandboxPaymentProvider(container.engine, container.settings, clock=FrozenClock(day))
    payment = create(provider)
    provider.complete_payment(payment.reference, succeeded=True)
    arrived = threading.Event()
    bodies: list[bytes] = []

    def post(_url: str, _headers: Mapping[str, str], body: bytes) -> int:
        bodies.append(body)
        if payment.reference.encode() in body:
            arrived.set()
        return 200

    pump = WebhookPump(provider, interval=0.05, post=post)
    pump.start()
    try:
        assert arrived.wait(timeout=20)
    finally:
        pump.stop()
    assert provider.inspect(payment.reference).webhooks[0].delivered_at is not None


# ---------------------------------------------------------------------------- several callers at once


def run_together(count: int, action: Callable[[], Any]) -> list[Any]:
    """Run ``action`` in ``count`` threads released at the same moment; results or errors."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def worker(index: int) -> None:
        barrier.wait()
        try:
            results[index] = action()
        except Exception as exc:  # collected for the assertions
            results[index] = exc

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_concurrent_creates_with_one_key_make_one_payment(container: Container) -> None:
    provider = sandbox(container)
    key, merchant_reference = ref("key"), ref("PAY")

    results = run_together(
        6,
        lambda: provider.create_payment(
            merchant_reference=merchant_reference,
            amount=DEPOSIT,
            description="d",
            idempotency_key=key,
        ),
    )

    assert all(isinstance(result, ProviderPayment) for result in results), results
    assert len({result.reference for result in results}) == 1


def test_concurrent_refunds_never_add_up_to_more_than_was_paid(container: Container) -> None:
    provider = sandbox(container)
    payment = create(provider)
    provider.complete_payment(payment.reference, succeeded=True)

    results = run_together(
        4,
        lambda: provider.refund(
            payment_reference=payment.reference,
            merchant_reference=ref("REF"),
            amount=Money(200000, "CNY"),
            idempotency_key=ref("rkey"),
        ),
    )

    accepted = [r for r in results if not isinstance(r, Exception)]
    refused = [r for r in results if isinstance(r, Exception)]
    assert len(accepted) == 2
    assert all(
        isinstance(r, Conflict) and r.code == "payments.refund_exceeds_payment" for r in refused
    ), refused


def test_deliveries_of_a_payment_are_kept_in_the_shared_database(container: Container) -> None:
    """A second process (another provider on the same database) sees the first one's webhooks."""
    writer, reader = sandbox(container), sandbox(container)
    payment = create(writer)
    writer.complete_payment(payment.reference, succeeded=True)

    with container.engine.connect() as conn:
        rows = conn.execute(
            select(func.count())
            .select_from(sandbox_webhook_deliveries)
            .where(sandbox_webhook_deliveries.c.payment_reference == payment.reference)
        ).scalar_one()
    post = receiver(reader)
    delivered = deliver(reader, post, payment)

    assert (rows, delivered) == (1, 1)
    assert reader.get_payment(payment.reference).status is ProviderPaymentStatus.SUCCEEDED
