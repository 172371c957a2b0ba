"""The sandbox payment API, the pay page and webhook delivery, over HTTP against a real server.

Payments are created the way the orders code creates them: through the provider contract
(``create_payment``) on the same database the server uses; the server then serves their
pay page and sandbox API, and its dispatcher thread delivers their webhooks.
"""

from __future__ import annotations

import html
import re
import secrets
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import conftest
import httpx
import pytest
from conftest import Database, LiveServer, start_server
from sqlalchemy import create_engine

from marque.adapters.db import migrate as migrations
from marque.adapters.payments.sandbox import SandboxPaymentProvider
from marque.bootstrap import bootstrap
from marque.domain.money import Money
from marque.services.payment_ports import ProviderPayment, WebhookEventType

PROBLEM_JSON = "application/problem+json"
TOKEN_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
DEPOSIT = Money(500000, "CNY")


@pytest.fixture(scope="module")
def provider(live_server: LiveServer) -> Iterator[SandboxPaymentProvider]:
    """The sandbox provider as the orders code in any server process would use it."""
    container = bootstrap(conftest.test_settings(live_server.database.url))
    built = container.payments
    assert isinstance(built, SandboxPaymentProvider)
    yield built
    container.close()


def new_payment(provider: SandboxPaymentProvider, amount: Money = DEPOSIT) -> ProviderPayment:
    return provider.create_payment(
        merchant_reference=f"PAY-{secrets.token_hex(5)}",
        amount=amount,
        description="Lumen S deposit",
        idempotency_key=secrets.token_hex(12),
    )


def csrf_token(page: httpx.Response) -> str:
    found = TOKEN_FIELD.search(page.text)
    assert found, "the page has no CSRF field"
    return html.unescape(found.group(1))


def assert_problem(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    assert response.json()["code"] == code


# ---------------------------------------------------------------------------- the sandbox API


def test_succeeding_a_payment_records_it_once_and_schedules_one_webhook(
    live_server: LiveServer, provider: SandboxPaymentProvider
) -> None:
    payment = new_payment(provider)

    with live_server.client() as client:
        first = client.post(f"/api/v1/sandbox/payments/{payment.reference}/succeed")
        second = client.post(f"/api/v1/sandbox/payments/{payment.reference}/succeed")

    assert first.status_code == 200, first.text
    body = first.json()
    assert body["status"] == "succeeded"
    assert body["merchant_reference"] == payment.merchant_reference
    assert body["amount"] == {"amount": 500000, "currency": "CNY"}
    assert body["captured_amount"] == {"amount": 500000, "currency": "CNY"}
    assert [hook["type"] for hook in body["webhooks"]] == ["payment.succeeded"]
    assert second.status_code == 200
    assert [hook["event_id"] for hook in second.json()["webhooks"]] == [
        hook["event_id"] for hook in body["webhooks"]
    ]


def test_a_captured_amount_can_be_made_to_differ_from_the_one_asked(
    live_server: LiveServer, provider: SandboxPaymentProvider
) -> None:
    payment = new_payment(provider)

    with live_server.client() as client:
        answer = client.post(
            f"/api/v1/sandbox/payments/{payment.reference}/succeed",
            json={"captured_amount": {"amount": 400000, "currency": "CNY"}},
        )

    assert answer.status_code == 200, answer.text
    assert answer.json()["captured_amount"] == {"amount": 400000, "currency": "CNY"}
    assert provider.get_payment(payment.reference).amount == Money(400000, "CNY")


def test_a_failed_payment_may_be_paid_later_but_a_paid_one_cannot_fail(
    live_server: LiveServer, provider: SandboxPaymentProvider
) -> None:
    payment = new_payment(provider)

    with live_server.client() as client:
        failed = client.post(
            f"/api/v1/sandbox/payments/{payment.reference}/fail", json={"reason": "card expired"}
        )
        paid = client.post(f"/api/v1/sandbox/payments/{payment.reference}/succeed")
        refused = client.post(f"/api/v1/sandbox/payments/{payment.reference}/fail")

    assert failed.json()["status"] == "failed"
    assert failed.json()["failure_reason"] == "card expired"
    assert paid.json()["status"] == "succeeded"
    assert_problem(refused, 409, "sandbox.payment_already_succeeded")
    assert payment.reference in refused.json()["detail"]


def test_an_unknown_reference_is_a_404_problem(live_server: LiveServer) -> None:
    unknown = "sbp_" + secrets.token_hex(12)

    with live_server.client() as client:
        answers = [
            client.post(f"/api/v1/sandbox/payments/{unknown}/succeed"),
            client.post(f"/api/v1/sandbox/payments/{unknown}/fail"),
            client.get(f"/api/v1/sandbox/payments/{unknown}"),
        ]

    for answer in answers:
        assert_problem(answer, 404, "payments.payment_not_found")


def test_reading_a_payment_shows_its_refunds_and_webhook_deliveries(
    live_server: LiveServer, provider: SandboxPaymentProvider
) -> None:
    payment = new_payment(provider)
    provider.complete_payment(payment.reference, succeeded=True)
    refund = provider.refund(
        payment_reference=payment.reference,
        merchant_reference=f"REF-{secrets.token_hex(5)}",
        amount=Money(100000, "CNY"),
        idempotency_key=secrets.token_hex(12),
    )

    with live_server.client() as client:
        answer = client.get(f"/api/v1/sandbox/payments/{payment.reference}")

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["pay_url"].endswith(f"/sandbox/pay/{payment.reference}")
    assert body["qr_payload"] == body["pay_url"]
    assert [(r["reference"], r["amount"]["amount"]) for r in body["refunds"]] == [
        (refund.reference, 100000)
    ]
    assert [hook["type"] for hook in body["webhooks"]] == ["payment.succeeded", "refund.succeeded"]


def test_the_settlement_of_a_day_lists_what_succeeded_that_day(
    live_server: LiveServer, provider: SandboxPaymentProvider
) -> None:
    payment = new_payment(provider)
    provider.complete_payment(payment.reference, succeeded=True)
    today = datetime.now(UTC).date()

    with live_server.client() as client:
        report = client.get("/api/v1/sandbox/settlements", params={"date": today.isoformat()})
        not_a_date = client.get("/api/v1/sandbox/settlements", params={"date": "25/11/2026"})

    assert report.status_code == 200, report.text
    assert report.json()["date"] == today.isoformat()
    ours = [item for item in report.json()["items"] if item["reference"] == payment.reference]
    assert [(item["kind"], item["amount"]["amount"]) for item in ours] == [("payment", 500000)]
    assert_problem(not_a_date, 422, "request.invalid")


# ---------------------------------------------------------------------------- the pay page


@pytest.mark.parametrize(
    ("language", "words"),
    [("en", ["Sandbox payment", "Merchant", "¥5,000"]), ("zh-CN", ["沙箱支付", "商户", "¥5,000"])],
)
def test_the_pay_page_shows_amount_merchant_and_a_qr_code_in_the_callers_language(
    live_server: LiveServer, provider: SandboxPaymentProvider, language: str, words: list[str]
) -> None:
    payment = new_payment(provider)

    with live_server.client(headers={"Accept-Language": language}) as client:
        page = client.get(f"/sandbox/pay/{payment.reference}")

    assert page.status_code == 200
    assert page.headers["content-language"] == language
    for word in words:
        assert word in page.text
    assert re.search(r'<svg width="220" height="220" role="img"', page.text)
    assert 'data-testid="sandbox-pay"' in page.text
    assert 'data-testid="sandbox-fail"' in page.text


def test_paying_on_the_page_shows_the_result_and_the_way_back(
    live_server: LiveServer, provider: SandboxPaymentProvider
) -> None:
    payment = new_payment(provider)

    with live_server.client(follow_redirects=True) as client:
        page = client.get(f"/sandbox/pay/{payment.reference}", params={"return_url": "/orders/O-1"})
        paid = client.post(
            f"/sandbox/pay/{payment.reference}/succeed",
            data={"csrf_token": csrf_token(page), "return_url": "/orders/O-1"},
        )

    assert paid.status_code == 200, paid.text
    assert [step.status_code for step in paid.history] == [303]
    assert 'data-status="succeeded"' in paid.text
    assert 'data-testid="payment-result"' in paid.text
    assert 'href="/orders/O-1" data-testid="return-link"' in paid.text
    assert 'data-testid="sandbox-pay"' not in paid.text
    assert provider.get_payment(payment.reference).status.value == "succeeded"


def test_failing_on_the_page_offers_another_try(
    live_server: LiveServer, provider: SandboxPaymentProvider
) -> None:
    payment = new_payment(provider)

    with live_server.client(follow_redirects=True) as client:
        page = client.get(f"/sandbox/pay/{payment.reference}")
        failed = client.post(
            f"/sandbox/pay/{payment.reference}/fail", data={"csrf_token": csrf_token(page)}
        )

    assert failed.status_code == 200
    assert 'data-status="failed"' in failed.text
    assert "you can try again" in failed.text
    assert 'data-testid="sandbox-pay"' in failed.text
    assert 'data-testid="return-link"' not in failed.text


def test_a_page_post_without_the_csrf_token_changes_nothing(
    live_server: LiveServer, provider: SandboxPaymentProvider
) -> None:
    payment = new_payment(provider)

    with live_server.client() as client:
        refused = client.post(f"/sandbox/pay/{payment.reference}/succeed", data={})

    assert refused.status_code == 403
    assert ">auth.csrf_failed</code>" in refused.text
    assert provider.get_payment(payment.reference).status.value == "pending"


def test_a_return_url_to_another_site_is_never_offered(
    live_server: LiveServer, provider: SandboxPaymentProvider
) -> None:
    payment = new_payment(provider)

    with live_server.client() as client:
        page = client.get(
            f"/sandbox/pay/{payment.reference}", params={"return_url": "https://evil.example/"}
        )

    assert page.status_code == 200
    assert 'data-testid="return-link"' not in page.text
    assert 'name="return_url" value=""' in page.text


def test_the_page_of_an_unknown_payment_is_a_404_page(live_server: LiveServer) -> None:
    with live_server.client() as client:
        page = client.get(f"/sandbox/pay/sbp_{secrets.token_hex(12)}")

    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert ">payments.payment_not_found</code>" in page.text


# ---------------------------------------------------------------------------- webhook delivery


class Receiver:
    """A tiny HTTP endpoint on 127.0.0.1 that keeps what it receives and answers as told."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.answers: list[int] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver.lock:
                    receiver.received.append((dict(self.headers.items()), body))
                    status = receiver.answers.pop(0) if receiver.answers else 204
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def about(self, reference: str) -> list[tuple[dict[str, str], bytes]]:
        with self.lock:
            return [(h, b) for h, b in self.received if reference.encode() in b]

    def wait_for(
        self, reference: str, count: int, timeout: float = 20
    ) -> list[tuple[dict[str, str], bytes]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.about(reference)
            if len(found) >= count:
                return found
            time.sleep(0.05)
        return self.about(reference)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    built = Receiver()
    yield built
    built.close()


@pytest.fixture(scope="module")
def delivery_database(
    database: Database, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Database]:
    """A database of its own: no other server process may deliver (or steal) its webhooks."""
    if database.name == "sqlite":
        own = Database("sqlite", f"sqlite:///{tmp_path_factory.mktemp('delivery') / 'marque.db'}")
        name = None
    else:
        assert conftest.PG_URL
        url, name = conftest._fresh_postgres(conftest.PG_URL)
        own = Database("postgresql", url)
    engine = create_engine(own.url)
    migrations.upgrade(engine)
    engine.dispose()
    yield own
    if name is not None:
        assert conftest.PG_URL
        conftest._drop_postgres(conftest.PG_URL, name)


@pytest.fixture(scope="module")
def delivering_server(
    delivery_database: Database, receiver: Receiver, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """A server whose sandbox delivers its webhooks to ``receiver``."""
    server = start_server(
        delivery_database,
        Path(tmp_path_factory.mktemp("delivering")),
        MARQUE_SANDBOX_WEBHOOK_URL=receiver.url,
    )
    yield server
    server.stop()


@pytest.fixture(scope="module")
def delivery_provider(delivery_database: Database) -> Iterator[SandboxPaymentProvider]:
    container = bootstrap(conftest.test_settings(delivery_database.url))
    built = container.payments
    assert isinstance(built, SandboxPaymentProvider)
    yield built
    container.close()


def test_the_server_delivers_a_signed_webhook_and_retries_a_refusal(
    delivering_server: LiveServer, receiver: Receiver, delivery_provider: SandboxPaymentProvider
) -> None:
    provider = delivery_provider
    payment = new_payment(provider)
    receiver.answers.extend([500])

    with delivering_server.client() as client:
        paid = client.post(f"/api/v1/sandbox/payments/{payment.reference}/succeed")
        arrived = receiver.wait_for(payment.reference, 2)
        # The server records the answer after the receiver has sent it: poll (bounded) until
        # the second attempt's status is written, rather than racing it.
        deadline = time.monotonic() + 20
        while True:
            seen = client.get(f"/api/v1/sandbox/payments/{payment.reference}").json()
            if seen["webhooks"][0]["last_status"] != 500 or time.monotonic() > deadline:
                break
            time.sleep(0.05)

    assert paid.status_code == 200, paid.text
    assert len(arrived) == 2, "a refused delivery is retried"
    events = [provider.parse_webhook(headers, body, datetime.now(UTC)) for headers, body in arrived]
    assert {event.event_id for event in events} == {paid.json()["webhooks"][0]["event_id"]}
    assert events[0].type is WebhookEventType.PAYMENT_SUCCEEDED
    assert events[0].merchant_reference == payment.merchant_reference
    assert arrived[0][0]["Content-Type"] == "application/json"
    (hook,) = seen["webhooks"]
    assert hook["attempts"] == 2
    assert hook["last_status"] == 204


def test_asking_to_deliver_now_answers_how_many_were_accepted(
    delivering_server: LiveServer, receiver: Receiver, delivery_provider: SandboxPaymentProvider
) -> None:
    provider = delivery_provider
    payment = new_payment(provider)
    provider.complete_payment(payment.reference, succeeded=True)

    with delivering_server.client() as client:
        answer = client.post("/api/v1/sandbox/webhooks/deliver")
    arrived = receiver.wait_for(payment.reference, 1)

    assert answer.status_code == 200
    assert isinstance(answer.json()["delivered"], int)
    assert len(arrived) == 1


# ---------------------------------------------------------------------------- sandbox mode off


def test_everything_sandbox_is_404_when_sandbox_mode_is_off(
    live_server: LiveServer,
    provider: SandboxPaymentProvider,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    payment = new_payment(provider)
    server = start_server(
        live_server.database, Path(tmp_path_factory.mktemp("no-sandbox")), MARQUE_SANDBOX="false"
    )
    try:
        with server.client() as client:
            answers = [
                client.post(f"/api/v1/sandbox/payments/{payment.reference}/succeed"),
                client.post(f"/api/v1/sandbox/payments/{payment.reference}/fail"),
                client.get(f"/api/v1/sandbox/payments/{payment.reference}"),
                client.get("/api/v1/sandbox/settlements", params={"date": "2026-11-25"}),
                client.post("/api/v1/sandbox/webhooks/deliver"),
            ]
            page = client.get(f"/sandbox/pay/{payment.reference}")
    finally:
        server.stop()

    for answer in answers:
        assert_problem(answer, 404, "sandbox.disabled")
    assert page.status_code == 404
    assert ">sandbox.disabled</code>" in page.text
    assert provider.get_payment(payment.reference).status.value == "pending"
