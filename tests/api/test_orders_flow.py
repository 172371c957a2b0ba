"""The whole reservation flow over HTTP against a real `marque serve` (SQLite and PostgreSQL):
sign in by SMS, configure, reserve with an Idempotency-Key and replay it, pay on the sandbox
(its webhook arrives by itself), read the quote in both languages, have a lock refused and
then accepted, cancel, and watch the refund reach the buyer; finance reads the books.

The server is this module's own, with its jobs running every 0.3 s and room for many SMS
codes, on the session's seeded database.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import conftest
import httpx
import pytest
from conftest import Database, LiveServer, random_phone, start_server

from marque.bootstrap import bootstrap
from marque.domain.identity import Role
from marque.services.auth import create_staff

PROBLEM_JSON = "application/problem+json"


@pytest.fixture(scope="module")
def server(seeded: Database, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    running = start_server(
        seeded,
        tmp_path_factory.mktemp("orders-flow"),
        MARQUE_WORKER_INTERVAL_SECONDS="0.3",
        MARQUE_SMS_CODES_PER_CLIENT_PER_HOUR="1000",
    )
    yield running
    running.stop()


def signed_in(server: LiveServer) -> httpx.Client:
    client = server.client(headers={"Accept-Language": "en"})
    phone = random_phone()
    assert client.post("/api/v1/auth/sms-code", json={"phone": phone}).status_code == 202
    code = client.get("/api/v1/sandbox/sms", params={"phone": phone}).json()["items"][0]["code"]
    login = client.post("/api/v1/auth/login", json={"phone": phone, "code": code})
    assert login.status_code == 200, login.text
    client.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
    return client


def staff_client(server: LiveServer, role: Role) -> httpx.Client:
    username = f"flow-{role.replace('_', '-')}-{secrets.token_hex(3)}"
    password = secrets.token_urlsafe(18)
    container = bootstrap(conftest.test_settings(server.database.url))
    try:
        create_staff(
            container.uow(),
            username=username,
            password=password,
            roles=[role],
            display_name=username,
            now=datetime.now(UTC),
        )
    finally:
        container.close()
    client = server.client()
    login = client.post(
        "/api/v1/auth/staff/login", json={"username": username, "password": password}
    )
    assert login.status_code == 200, login.text
    client.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
    return client


def key() -> dict[str, str]:
    return {"Idempotency-Key": secrets.token_hex(12)}


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    return body


def eventually(read: Callable[[], Any], wanted: Callable[[Any], bool], seconds: float = 30) -> Any:
    """Poll ``read`` until ``wanted`` holds (webhooks and jobs run in the server)."""
    deadline = time.monotonic() + seconds
    value = read()
    while not wanted(value):
        assert time.monotonic() < deadline, f"still {value!r}"
        time.sleep(0.2)
        value = read()
    return value


def reserve_body(client: httpx.Client, trim: str = "standard") -> dict[str, Any]:
    choice = {"model": "arc", "trim": trim, "options": ["paint-midnight-blue"]}
    return conftest.reservation_of(client.post("/api/v1/configurations", json=choice))


def test_reserve_pay_quote_lock_cancel_and_refund_over_http(server: LiveServer) -> None:
    buyer = signed_in(server)
    body = reserve_body(buyer)

    # -- reserve, exactly once per key
    assert_problem(buyer.post("/api/v1/orders", json=body), 400, "idempotency.key_required")
    first_key = key()
    reserved = buyer.post("/api/v1/orders", json=body, headers=first_key)
    assert reserved.status_code == 201, reserved.text
    order = reserved.json()
    order_id = order["id"]
    assert order["status"] == "pending_payment"
    assert order["refund_quote"]["rule"] == "nothing_paid"
    assert order["payment"]["pay_url"]
    replay = buyer.post("/api/v1/orders", json=body, headers=first_key)
    assert replay.status_code == 201
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json() == order
    other_body = {**body, "accept_terms": False}
    assert_problem(
        buyer.post("/api/v1/orders", json=other_body, headers=first_key),
        409,
        "idempotency.key_reused",
    )
    listed = buyer.get("/api/v1/orders").json()["items"]
    assert [o["id"] for o in listed] == [order_id]

    # -- nobody else sees it
    stranger = signed_in(server)
    assert_problem(stranger.get(f"/api/v1/orders/{order_id}"), 404, "order.not_found")
    assert_problem(
        stranger.post(f"/api/v1/orders/{order_id}/cancel", json={}, headers=key()),
        404,
        "order.not_found",
    )

    # -- an unpaid order cannot lock
    assert_problem(
        buyer.post(f"/api/v1/orders/{order_id}/lock", json={"confirm": True}, headers=key()),
        409,
        "order.not_paid",
    )

    # -- pay on the sandbox; its signed webhook reaches the server by itself
    reference = order["payment"]["provider_reference"]
    assert buyer.post(f"/api/v1/sandbox/payments/{reference}/succeed").status_code == 200
    paid = eventually(
        lambda: buyer.get(f"/api/v1/orders/{order_id}").json(),
        lambda o: o["status"] == "reserved",
    )
    assert paid["held"] == {"amount": 500_000, "currency": "CNY"}
    assert paid["payment"]["status"] == "succeeded"
    forged = buyer.post(
        "/api/v1/payments/webhooks/sandbox",
        content=b'{"event_id":"evt_forged"}',
        headers={"Content-Type": "application/json"},
    )
    assert forged.status_code == 400
    assert forged.json()["code"].startswith("payments.webhook")

    # -- the quote, in the caller's language
    quote_en = buyer.get(f"/api/v1/orders/{order_id}/refund-quote").json()
    quote_zh = buyer.get(
        f"/api/v1/orders/{order_id}/refund-quote", headers={"Accept-Language": "zh-CN"}
    ).json()
    assert quote_en["total"] == {"amount": 500_000, "currency": "CNY"}
    assert "earnest money" in quote_en["message"]
    assert "定金" in quote_zh["message"]
    assert quote_en["refund_by"] > quote_en["quoted_at"]

    # -- lock: refused without the confirmation, then accepted
    assert_problem(
        buyer.post(f"/api/v1/orders/{order_id}/lock", json={"confirm": False}, headers=key()),
        422,
        "order.lock_not_confirmed",
    )
    locked = buyer.post(f"/api/v1/orders/{order_id}/lock", json={"confirm": True}, headers=key())
    assert locked.status_code == 200, locked.text
    assert locked.json()["status"] == "locked"
    assert_problem(
        buyer.patch(
            f"/api/v1/orders/{order_id}/configuration",
            json={"configuration_code": reserve_body(buyer, "long-range")["configuration_code"]},
            headers=key(),
        ),
        409,
        "order.invalid_transition",
    )

    # -- cancel: pays exactly the quote; a second cancel changes nothing
    cancel_key = key()
    cancelled = buyer.post(
        f"/api/v1/orders/{order_id}/cancel",
        json={"reason": "changed my mind", "expected_refund": quote_en["total"]},
        headers=cancel_key,
    )
    assert cancelled.status_code == 200, cancelled.text
    outcome = cancelled.json()
    assert outcome["order"]["status"] == "cancelled"
    assert outcome["applied_quote"]["total"] == quote_en["total"]
    assert outcome["refund"]["total"] == quote_en["total"]
    assert (
        buyer.post(
            f"/api/v1/orders/{order_id}/cancel",
            json={"reason": "changed my mind", "expected_refund": quote_en["total"]},
            headers=cancel_key,
        ).json()
        == outcome
    )
    assert_problem(
        buyer.post(f"/api/v1/orders/{order_id}/cancel", json={}, headers=key()),
        409,
        "order.invalid_transition",
    )

    # -- the refund reaches the buyer (refund worker + provider webhook in the server)
    refunded = eventually(
        lambda: buyer.get(f"/api/v1/orders/{order_id}").json(),
        lambda o: o["refunds"] and o["refunds"][0]["status"] == "succeeded",
    )
    [refund] = refunded["refunds"]
    assert [step["to_status"] for step in refund["history"]] == ["sent", "succeeded"]
    assert refunded["held"]["amount"] == 0

    # -- finance sees the books; a buyer does not
    finance = staff_client(server, Role.FINANCE)
    books = finance.get(f"/api/v1/finance/orders/{order_id}/ledger").json()
    assert [p["kind"] for p in books["postings"]] == [
        "payment_captured",
        "refund_requested",
        "refund_settled",
    ]
    assert books["held"]["amount"] == 0
    succeeded = finance.get("/api/v1/finance/refunds", params={"status": "succeeded"}).json()
    assert refund["id"] in {item["id"] for item in succeeded["items"]}
    assert_problem(buyer.get("/api/v1/finance/refunds"), 403, "auth.forbidden")


def test_the_sms_notices_reach_the_buyer_in_their_language(server: LiveServer) -> None:
    buyer = signed_in(server)
    buyer.headers["Accept-Language"] = "zh-CN"
    reserved = buyer.post("/api/v1/orders", json=reserve_body(buyer), headers=key()).json()
    reference = reserved["payment"]["provider_reference"]
    buyer.post(f"/api/v1/sandbox/payments/{reference}/succeed")
    me = buyer.get("/api/v1/me").json()

    def texts() -> list[str]:
        container = bootstrap(conftest.test_settings(server.database.url))
        try:
            with container.uow(readonly=True) as uow:
                account = uow.auth.customer(me["id"])
                assert account is not None
                inbox = uow.auth.sandbox_messages(account.phone, limit=10)
        finally:
            container.close()
        return [m.text for m in inbox if m.purpose == "order.paid"]

    [notice] = eventually(texts, bool)
    assert reserved["id"] in notice
    assert "预付款" in notice


def test_a_founders_order_locks_on_payment_and_its_quote_says_it_is_forfeited(
    server: LiveServer,
) -> None:
    buyer = signed_in(server)
    configured = buyer.post(
        "/api/v1/configurations",
        json={"model": "arc", "trim": "founders", "options": ["paint-aurora-green"]},
    ).json()
    terms = configured["deposit_terms"]
    body = {
        "configuration_code": configured["code"],
        "terms_code": terms["code"],
        "terms_version": terms["version"],
        "terms_hash": terms["content_hash"],
        "accept_terms": True,
    }
    order = buyer.post("/api/v1/orders", json=body, headers=key()).json()
    assert_problem(
        buyer.post("/api/v1/orders", json=body, headers=key()), 409, "order.limited_edition_taken"
    )
    buyer.post(f"/api/v1/sandbox/payments/{order['payment']['provider_reference']}/succeed")

    locked = eventually(
        lambda: buyer.get(f"/api/v1/orders/{order['id']}").json(),
        lambda o: o["status"] == "locked",
    )

    assert locked["refund_quote"]["rule"] == "forfeited_by_buyer"
    assert locked["refund_quote"]["forfeited"]["amount"] == 2_000_000
    assert "earnest money" in locked["refund_quote"]["message"]
