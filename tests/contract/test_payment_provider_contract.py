"""The PaymentProvider contract, run against every provider implementation.

Each implementation contributes a *harness factory* to ``HARNESSES``: it builds the provider
on the test database and knows the provider-specific moves a contract test needs but the
contract does not offer (the buyer paying or being declined, collecting the webhooks the
provider sent, signing a body the way the provider does). Today only the sandbox provider
exists; an Alipay, WeChat Pay or Stripe adapter adds one factory (driving the provider's own
test mode) and inherits every test here.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import conftest
import pytest
from conftest import Database

from marque.adapters.clock import FrozenClock
from marque.adapters.db.engine import make_engine
from marque.adapters.payments.sandbox import SandboxPaymentProvider
from marque.adapters.payments.signing import SIGNATURE_HEADER, signature_header
from marque.domain.errors import Conflict, NotFound
from marque.domain.money import Money
from marque.services.payment_ports import (
    PaymentProvider,
    ProviderPayment,
    ProviderPaymentStatus,
    ProviderRefund,
    ProviderRefundStatus,
    SettlementKind,
    WebhookEventType,
    WebhookRejected,
)

DEPOSIT = Money(500000, "CNY")


@dataclass(frozen=True)
class SignedWebhook:
    headers: dict[str, str]
    body: bytes


@dataclass
class Harness:
    """A provider plus the moves that stand in for its buyer and its webhook sender."""

    provider: PaymentProvider
    clock: FrozenClock
    #: the buyer pays / is declined on the provider's pay page
    pay: Callable[[str], None]
    decline: Callable[[str], None]
    #: every webhook the provider has sent about one payment since the last call
    webhooks: Callable[[str], list[SignedWebhook]]
    #: sign ``body`` the provider's way at ``at``, with its key or another one
    sign: Callable[[bytes, datetime, bytes | None], dict[str, str]]
    #: let the provider's clock move on (refunds settle, webhooks fall due)
    advance: Callable[[timedelta], None] = field(default=lambda _delta: None)


@contextmanager
def sandbox_harness(database: Database, *, duplicates: bool) -> Iterator[Harness]:
    clock = FrozenClock(datetime(2031, 3, 14, 9, 30, tzinfo=UTC))
    settings = conftest.test_settings(
        database.url, sandbox_webhook_duplicate_rate=1.0 if duplicates else 0.0
    )
    engine = make_engine(settings)
    provider = SandboxPaymentProvider(engine, settings, clock=clock)

    def pay(reference: str) -> None:
        provider.complete_payment(reference, succeeded=True)

    def decline(reference: str) -> None:
        provider.complete_payment(reference, succeeded=False, failure_reason="declined")

    def webhooks(reference: str) -> list[SignedWebhook]:
        sent: list[SignedWebhook] = []

        def post(_url: str, headers: Mapping[str, str], body: bytes) -> int:
            sent.append(SignedWebhook(dict(headers), body))
            return 204

        provider.deliver_due(post=post, payment_reference=reference)
        return sent

    def sign(body: bytes, at: datetime, key: bytes | None) -> dict[str, str]:
        return {SIGNATURE_HEADER: signature_header(key or provider.webhook_key, body, at)}

    def advance(delta: timedelta) -> None:
        clock.advance(seconds=delta.total_seconds())

    try:
        yield Harness(
            provider=provider,
            clock=clock,
            pay=pay,
            decline=decline,
            webhooks=webhooks,
            sign=sign,
            advance=advance,
        )
    finally:
        engine.dispose()


HarnessFactory = Callable[..., AbstractContextManager[Harness]]
#: One entry per provider implementation.
HARNESSES: dict[str, HarnessFactory] = {"sandbox": sandbox_harness}


@pytest.fixture(params=sorted(HARNESSES))
def harness_factory(
    request: pytest.FixtureRequest, migrated: Database
) -> Callable[..., AbstractContextManager[Harness]]:
    factory = HARNESSES[request.param]

    def build(*, duplicates: bool = False) -> AbstractContextManager[Harness]:
        return factory(migrated, duplicates=duplicates)

    return build


@pytest.fixture
def harness(harness_factory: Callable[..., AbstractContextManager[Harness]]) -> Iterator[Harness]:
    with harness_factory() as built:
        yield built


def ref(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(6)}"


def new_payment(harness: Harness, amount: Money = DEPOSIT) -> ProviderPayment:
    return harness.provider.create_payment(
        merchant_reference=ref("PAY"),
        amount=amount,
        description="Deposit for a contract test",
        idempotency_key=ref("key"),
    )


def paid_payment(harness: Harness, amount: Money = DEPOSIT) -> ProviderPayment:
    payment = new_payment(harness, amount)
    harness.pay(payment.reference)
    harness.webhooks(payment.reference)  # drain: tests below look at what comes next
    return payment


# ---------------------------------------------------------------------------- payments


def test_a_new_payment_is_pending_and_says_where_to_pay(harness: Harness) -> None:
    payment = new_payment(harness)

    assert payment.status is ProviderPaymentStatus.PENDING
    assert payment.amount == DEPOSIT
    assert payment.pay_url.startswith("http")
    assert payment.qr_payload
    assert harness.provider.get_payment(payment.reference) == payment


def test_create_payment_with_the_same_key_returns_the_same_payment(harness: Harness) -> None:
    key, merchant_reference = ref("key"), ref("PAY")

    first = harness.provider.create_payment(
        merchant_reference=merchant_reference, amount=DEPOSIT, description="d", idempotency_key=key
    )
    again = harness.provider.create_payment(
        merchant_reference=merchant_reference, amount=DEPOSIT, description="d", idempotency_key=key
    )
    other = harness.provider.create_payment(
        merchant_reference=merchant_reference,
        amount=DEPOSIT,
        description="d",
        idempotency_key=ref("key"),
    )

    assert again == first
    assert other.reference != first.reference


def test_the_same_key_with_another_amount_is_refused(harness: Harness) -> None:
    key, merchant_reference = ref("key"), ref("PAY")
    harness.provider.create_payment(
        merchant_reference=merchant_reference, amount=DEPOSIT, description="d", idempotency_key=key
    )

    with pytest.raises(Conflict) as refused:
        harness.provider.create_payment(
            merchant_reference=merchant_reference,
            amount=Money(1, "CNY"),
            description="d",
            idempotency_key=key,
        )

    assert refused.value.code == "payments.idempotency_key_reused"


def test_an_unknown_payment_is_not_found(harness: Harness) -> None:
    with pytest.raises(NotFound) as missing:
        harness.provider.get_payment("sbp_" + secrets.token_hex(12))

    assert missing.value.code == "payments.payment_not_found"


def test_a_paid_payment_is_announced_by_one_signed_webhook(harness: Harness) -> None:
    payment = new_payment(harness)

    harness.pay(payment.reference)
    sent = harness.webhooks(payment.reference)

    assert len(sent) == 1
    event = harness.provider.parse_webhook(sent[0].headers, sent[0].body, harness.clock())
    assert event.type is WebhookEventType.PAYMENT_SUCCEEDED
    assert event.payment_reference == payment.reference
    assert event.merchant_reference == payment.merchant_reference
    assert event.amount == DEPOSIT
    assert harness.provider.get_payment(payment.reference).status is ProviderPaymentStatus.SUCCEEDED


def test_a_declined_payment_is_announced_as_failed(harness: Harness) -> None:
    payment = new_payment(harness)

    harness.decline(payment.reference)
    sent = harness.webhooks(payment.reference)

    events = [harness.provider.parse_webhook(w.headers, w.body, harness.clock()) for w in sent]
    assert [e.type for e in events] == [WebhookEventType.PAYMENT_FAILED]
    assert events[0].failure_reason
    assert harness.provider.get_payment(payment.reference).status is ProviderPaymentStatus.FAILED


def test_a_redelivered_event_keeps_its_event_id(
    harness_factory: Callable[..., AbstractContextManager[Harness]],
) -> None:
    with harness_factory(duplicates=True) as harness:
        payment = new_payment(harness)
        harness.pay(payment.reference)

        sent = harness.webhooks(payment.reference)

        events = [harness.provider.parse_webhook(w.headers, w.body, harness.clock()) for w in sent]
    assert len(events) >= 2
    assert len({event.event_id for event in events}) == 1
    assert {event.type for event in events} == {WebhookEventType.PAYMENT_SUCCEEDED}


# ---------------------------------------------------------------------------- refunds


def refund(
    harness: Harness, payment: ProviderPayment, amount: Money, key: str, merchant_reference: str
) -> ProviderRefund:
    return harness.provider.refund(
        payment_reference=payment.reference,
        merchant_reference=merchant_reference,
        amount=amount,
        idempotency_key=key,
    )


def test_a_refund_is_pending_then_settled_by_a_signed_webhook(harness: Harness) -> None:
    payment = paid_payment(harness)
    back = Money(200000, "CNY")

    pending = refund(harness, payment, back, ref("rkey"), ref("REF"))
    harness.advance(timedelta(days=1))
    sent = harness.webhooks(payment.reference)

    assert pending.status is ProviderRefundStatus.PENDING
    assert pending.settled_at is None
    events = [harness.provider.parse_webhook(w.headers, w.body, harness.clock()) for w in sent]
    assert [e.type for e in events] == [WebhookEventType.REFUND_SUCCEEDED]
    assert events[0].refund_reference == pending.reference
    assert events[0].merchant_reference == pending.merchant_reference
    assert events[0].amount == back


def test_a_settled_refund_asked_again_says_when_it_settled_as_the_report_does(
    harness: Harness,
) -> None:
    """The worker may learn of a success only from a retry with the same key, maybe the
    next day: the answer must carry the provider's settlement time, the one its webhook and
    its settlement report date the refund by, not the time of asking."""
    payment = paid_payment(harness)
    key, merchant_reference = ref("rkey"), ref("REF")
    pending = refund(harness, payment, Money(120000, "CNY"), key, merchant_reference)
    harness.advance(timedelta(days=1))
    [webhook] = harness.webhooks(payment.reference)

    settled = refund(harness, payment, Money(120000, "CNY"), key, merchant_reference)

    assert settled.reference == pending.reference
    assert settled.status is ProviderRefundStatus.SUCCEEDED
    assert settled.settled_at is not None
    assert settled.settled_at.tzinfo is not None
    event = harness.provider.parse_webhook(webhook.headers, webhook.body, harness.clock())
    assert event.occurred_at == settled.settled_at
    [line] = [
        line
        for line in harness.provider.settlement_report(settled.settled_at.date())
        if line.reference == settled.reference
    ]
    assert line.settled_at == settled.settled_at


def test_refund_with_the_same_key_returns_the_same_refund(harness: Harness) -> None:
    payment = paid_payment(harness)
    key, merchant_reference = ref("rkey"), ref("REF")

    first = refund(harness, payment, Money(100000, "CNY"), key, merchant_reference)
    again = refund(harness, payment, Money(100000, "CNY"), key, merchant_reference)

    assert again.reference == first.reference
    assert again.amount == first.amount


def test_refund_with_the_same_key_and_another_amount_is_refused(harness: Harness) -> None:
    payment = paid_payment(harness)
    key, merchant_reference = ref("rkey"), ref("REF")
    refund(harness, payment, Money(100000, "CNY"), key, merchant_reference)

    with pytest.raises(Conflict) as refused:
        refund(harness, payment, Money(100001, "CNY"), key, merchant_reference)

    assert refused.value.code == "payments.idempotency_key_reused"


def test_a_payment_that_did_not_succeed_cannot_be_refunded(harness: Harness) -> None:
    payment = new_payment(harness)

    with pytest.raises(Conflict) as refused:
        refund(harness, payment, Money(100, "CNY"), ref("rkey"), ref("REF"))

    assert refused.value.code == "payments.payment_not_captured"


def test_refunds_never_add_up_to_more_than_was_paid(harness: Harness) -> None:
    payment = paid_payment(harness)
    refund(harness, payment, Money(300000, "CNY"), ref("rkey"), ref("REF"))

    with pytest.raises(Conflict) as refused:
        refund(harness, payment, Money(200001, "CNY"), ref("rkey"), ref("REF"))
    last = refund(harness, payment, Money(200000, "CNY"), ref("rkey"), ref("REF"))

    assert refused.value.code == "payments.refund_exceeds_payment"
    assert last.amount == Money(200000, "CNY")


# ---------------------------------------------------------------------------- signatures


def one_webhook(harness: Harness) -> SignedWebhook:
    payment = new_payment(harness)
    harness.pay(payment.reference)
    (webhook,) = harness.webhooks(payment.reference)
    return webhook


def rejection(harness: Harness, headers: dict[str, str], body: bytes, now: datetime) -> str:
    with pytest.raises(WebhookRejected) as rejected:
        harness.provider.parse_webhook(headers, body, now)
    return rejected.value.code


def test_a_signed_body_round_trips_and_header_names_are_case_insensitive(harness: Harness) -> None:
    webhook = one_webhook(harness)
    lowered = {name.lower(): value for name, value in webhook.headers.items()}

    event = harness.provider.parse_webhook(lowered, webhook.body, harness.clock())
    resigned = harness.sign(webhook.body, harness.clock(), None)

    assert event.type is WebhookEventType.PAYMENT_SUCCEEDED
    assert harness.provider.parse_webhook(resigned, webhook.body, harness.clock()) == event


def test_a_tampered_body_is_rejected(harness: Harness) -> None:
    webhook = one_webhook(harness)
    tampered = webhook.body.replace(b"500000", b"900000")

    assert tampered != webhook.body
    code = rejection(harness, webhook.headers, tampered, harness.clock())

    assert code == "payments.webhook_signature_invalid"


def test_a_body_signed_with_another_key_is_rejected(harness: Harness) -> None:
    webhook = one_webhook(harness)
    forged = harness.sign(webhook.body, harness.clock(), secrets.token_bytes(32))

    assert (
        rejection(harness, forged, webhook.body, harness.clock())
        == "payments.webhook_signature_invalid"
    )


@pytest.mark.parametrize(
    "offset", [timedelta(seconds=-301), timedelta(seconds=301), timedelta(days=-2)]
)
def test_a_signature_outside_the_time_window_is_rejected_as_stale(
    harness: Harness, offset: timedelta
) -> None:
    webhook = one_webhook(harness)
    old = harness.sign(webhook.body, harness.clock() + offset, None)

    assert rejection(harness, old, webhook.body, harness.clock()) == "payments.webhook_stale"


def test_a_signature_inside_the_time_window_is_accepted(harness: Harness) -> None:
    webhook = one_webhook(harness)
    late = harness.sign(webhook.body, harness.clock() - timedelta(seconds=299), None)

    event = harness.provider.parse_webhook(late, webhook.body, harness.clock())

    assert event.type is WebhookEventType.PAYMENT_SUCCEEDED


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {SIGNATURE_HEADER: ""},
        {SIGNATURE_HEADER: "t=abc,v1=00"},
        {SIGNATURE_HEADER: "v1=00"},
        {SIGNATURE_HEADER: "t=1"},
    ],
)
def test_a_missing_or_garbled_signature_header_is_malformed(
    harness: Harness, headers: dict[str, str]
) -> None:
    webhook = one_webhook(harness)

    assert (
        rejection(harness, headers, webhook.body, harness.clock()) == "payments.webhook_malformed"
    )


def test_a_well_signed_body_that_is_not_an_event_is_malformed(harness: Harness) -> None:
    body = b'{"type": "payment.refunded_twice"}'
    headers = harness.sign(body, harness.clock(), None)

    assert rejection(harness, headers, body, harness.clock()) == "payments.webhook_malformed"


# ---------------------------------------------------------------------------- settlement


def test_settlement_report_lists_the_days_captured_payments_and_settled_refunds(
    harness: Harness,
) -> None:
    day = harness.clock().date()
    paid = paid_payment(harness)
    unpaid = new_payment(harness)
    refunded = refund(harness, paid, Money(150000, "CNY"), ref("rkey"), ref("REF"))
    harness.advance(timedelta(minutes=5))
    harness.webhooks(paid.reference)

    ours = {paid.reference, unpaid.reference, refunded.reference}
    lines = [line for line in harness.provider.settlement_report(day) if line.reference in ours]
    day_before = harness.provider.settlement_report(day - timedelta(days=1))

    assert [(line.kind, line.reference, line.amount) for line in lines] == [
        (SettlementKind.PAYMENT, paid.reference, DEPOSIT),
        (SettlementKind.REFUND, refunded.reference, Money(150000, "CNY")),
    ]
    assert lines[0].merchant_reference == paid.merchant_reference
    assert lines[1].merchant_reference == refunded.merchant_reference
    assert all(line.settled_at.date() == day for line in lines)
    assert not [line for line in day_before if line.reference in ours]
