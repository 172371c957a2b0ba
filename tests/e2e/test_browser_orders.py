"""A buyer in Debian's Chromium reserves, pays in the sandbox, reads the refund quote,
cancels and sees the refund, in zh-CN (earnest money, with a look at the lock warning) and
in en (intent money); then finance staff find that refund in their console.

Launches /usr/bin/chromium like test_browser_flow.py: skipped without it unless
MARQUE_REQUIRE_BROWSER=1. Screenshots of each step on a phone and a desktop go to
test-artifacts/screenshots/orders-*.png. The server is this module's own (jobs every 0.3 s,
room for many SMS codes); waits are bounded reloads, never sleeps.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import conftest
import httpx
import pytest
from chromium import DESKTOP, PHONE, SCREENSHOTS
from conftest import Database, LiveServer, random_phone, start_server
from playwright.sync_api import Browser, Page, expect

from marque.bootstrap import bootstrap
from marque.domain.identity import Role
from marque.services.auth import create_staff

pytestmark = pytest.mark.e2e

RELOADS = 60  # bounded waits for webhooks and the refund worker (each reload asks again)

#: What the pages say in each language, where the test reads or clicks by visible text.
WORDS = {
    "zh-CN": {
        "phone": "手机号",
        "send": "发送验证码",
        "code": "短信验证码",
        "sign_in": "登录",
        "my_orders": "我的订单",
        "you_get_back": "您将拿回",
        "non_refundable": "将变为不可退还",
        "exactly": "如果现在取消，您将拿回 {amount}，分文不少。",
        "cancelled": "您的订单已取消",
    },
    "en": {
        "phone": "Mobile number",
        "send": "Send code",
        "code": "Code from the text message",
        "sign_in": "Sign in",
        "my_orders": "My orders",
        "you_get_back": "You get back",
        "non_refundable": "becomes NON-REFUNDABLE",
        "exactly": "If you cancel now, you get back exactly {amount}.",
        "cancelled": "Your order is cancelled",
    },
}


@pytest.fixture(scope="module")
def server(seeded: Database, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    running = start_server(
        seeded,
        tmp_path_factory.mktemp("browser-orders"),
        MARQUE_WORKER_INTERVAL_SECONDS="0.3",
        MARQUE_SMS_CODES_PER_CLIENT_PER_HOUR="1000",
    )
    yield running
    running.stop()


def shoot(page: Page, name: str, *, full_page: bool = True) -> None:
    """Save the page as seen on a desktop and on a phone, then stay at the phone size."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(size)
        page.screenshot(path=str(SCREENSHOTS / f"orders-{name}-{label}.png"), full_page=full_page)


def money(amount: dict[str, Any]) -> str:
    major, minor = divmod(amount["amount"], 100)
    return f"¥{major:,}" + (f".{minor:02d}" if minor else "")


def trim_with(api: httpx.Client, kind: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A model and one of its ordinary trims whose deposit is ``kind`` money."""
    for item in api.get("/api/v1/models").json()["items"]:
        model = api.get(f"/api/v1/models/{item['code']}").json()
        for trim in model["trims"]:
            if not trim["limited_edition"] and trim["deposit_terms"]["kind"] == kind:
                return model, trim
    pytest.fail(f"the demo catalogue has no ordinary trim with {kind} money")


def reload_until(page: Page, api: httpx.Client, selector: str) -> None:
    """Reload (delivering due sandbox webhooks first) until ``selector`` is on the page."""
    for _ in range(RELOADS):
        if page.locator(selector).count():
            return
        api.post("/api/v1/sandbox/webhooks/deliver")
        page.reload()
    expect(page.locator(selector)).to_have_count(1)


@pytest.mark.parametrize(("lang", "kind"), [("zh-CN", "earnest"), ("en", "intent")])
def test_buyer_reserves_pays_reads_the_quote_cancels_and_sees_the_refund(
    browser: Browser, server: LiveServer, lang: str, kind: str
) -> None:
    words = WORDS[lang]
    with server.client(headers={"Accept-Language": lang}) as api:
        model, trim = trim_with(api, kind)
        deposit = money(trim["deposit_terms"]["amount"])
        context = browser.new_context(locale=lang, viewport=PHONE)
        page = context.new_page()
        page.set_default_timeout(15_000)

        # Configure and press Reserve: nobody is signed in yet, so sign in first.
        page.goto(f"{server.base_url}/models/{model['code']}")
        page.locator(f'input[name="trim"][value="{trim["code"]}"]').check()
        page.get_by_test_id("reserve").click()
        expect(page).to_have_url(re.compile(r"/signin\?next="))
        phone = random_phone()
        page.get_by_label(words["phone"]).fill(phone)
        page.get_by_role("button", name=words["send"]).click()
        code = api.get("/api/v1/sandbox/sms", params={"phone": phone}).json()["items"][0]["code"]
        page.get_by_label(words["code"]).fill(code)
        page.get_by_role("button", name=words["sign_in"], exact=True).click()

        # The reserve page: the terms in full, in this language and, opened, the other.
        expect(page).to_have_url(re.compile(r"/orders/new\?configuration=CFG-"))
        expect(page.locator("html")).to_have_attribute("lang", lang)
        terms = page.get_by_test_id("deposit-terms")
        expect(terms.get_by_test_id("terms-title")).to_have_text(trim["deposit_terms"]["title"])
        expect(terms.locator('[data-fact="refundable"]').first).to_be_visible()
        expect(terms.locator('[data-fact="breach"]').first).to_be_visible()
        expect(terms.locator('[data-fact="amount"]').first).to_contain_text(deposit)
        shoot(page, f"reserve-{lang}")
        page.get_by_test_id("terms-other").locator("summary").click()
        expect(page.get_by_test_id("terms-other-body")).to_be_visible()
        shoot(page, f"reserve-other-language-{lang}")

        # Acceptance is required: without the tick the form does not leave the page.
        reserve_url = page.url
        page.get_by_test_id("reserve-submit").click()
        expect(page).to_have_url(reserve_url)
        page.locator("#accept-terms").check()
        page.get_by_test_id("reserve-submit").click()

        # The sandbox pay page, then back to the order.
        expect(page.get_by_test_id("sandbox-pay-page")).to_be_visible()
        expect(page.get_by_test_id("amount")).to_have_text(deposit)
        shoot(page, f"pay-{lang}")
        page.get_by_test_id("sandbox-pay").click()
        expect(page.get_by_test_id("payment-status")).to_have_attribute("data-status", "succeeded")
        page.get_by_test_id("return-link").click()
        expect(page).to_have_url(re.compile(r"/orders/O-[A-Z0-9]+$"))
        reload_until(page, api, '[data-testid="order-status"][data-status="reserved"]')

        # The refund quote is on the order page.
        quote = page.get_by_test_id("refund-quote")
        expect(quote).to_contain_text(words["you_get_back"])
        expect(page.get_by_test_id("quote-total")).to_have_text(deposit)
        expect(page.get_by_test_id("quote-message")).not_to_be_empty()
        shoot(page, f"order-paid-{lang}")

        if kind == "earnest":  # the lock warning says the deposit becomes non-refundable
            page.get_by_test_id("lock-link").click()
            expect(page.get_by_test_id("lock-warning")).to_contain_text(words["non_refundable"])
            shoot(page, f"lock-warning-{lang}")
            page.go_back()

        # Cancel: the confirmation says exactly what comes back; then the refund arrives.
        page.get_by_test_id("cancel-link").click()
        expect(page.get_by_test_id("cancel-quote")).to_contain_text(
            words["exactly"].format(amount=deposit)
        )
        shoot(page, f"cancel-{lang}")
        page.get_by_test_id("confirm-cancel").click()
        expect(page.get_by_test_id("order-notice")).to_contain_text(words["cancelled"])
        expect(page.get_by_test_id("order-status")).to_have_attribute("data-status", "cancelled")
        refund = page.get_by_test_id("refund")
        expect(refund).to_have_attribute("data-status", re.compile("^(requested|sent|succeeded)$"))
        expect(refund).to_contain_text(deposit)
        reload_until(page, api, '[data-testid="refund"][data-status="succeeded"]')
        shoot(page, f"refunded-{lang}")

        page.get_by_role("link", name=words["my_orders"], exact=True).first.click()
        expect(page.locator("li.order-card")).to_have_count(1)
        shoot(page, f"my-orders-{lang}")
        context.close()


def cancelled_order_with_refund(server: LiveServer) -> str:
    """A buyer reserves, pays and cancels through the API; the order's id."""
    with server.client() as api:
        phone = random_phone()
        assert api.post("/api/v1/auth/sms-code", json={"phone": phone}).status_code == 202
        code = api.get("/api/v1/sandbox/sms", params={"phone": phone}).json()["items"][0]["code"]
        login = api.post("/api/v1/auth/login", json={"phone": phone, "code": code}).json()
        api.headers["Authorization"] = f"Bearer {login['access_token']}"
        model, trim = trim_with(api, "intent")
        priced = api.post(
            "/api/v1/configurations",
            json={"model": model["code"], "trim": trim["code"], "options": []},
        ).json()
        terms = priced["deposit_terms"]
        order = api.post(
            "/api/v1/orders",
            json={
                "configuration_code": priced["code"],
                "terms_code": terms["code"],
                "terms_version": terms["version"],
                "terms_hash": terms["content_hash"],
                "accept_terms": True,
            },
            headers={"Idempotency-Key": secrets.token_hex(12)},
        ).json()
        reference = order["payment"]["provider_reference"]
        assert api.post(f"/api/v1/sandbox/payments/{reference}/succeed").status_code == 200
        for _ in range(RELOADS):
            api.post("/api/v1/sandbox/webhooks/deliver")
            if api.get(f"/api/v1/orders/{order['id']}").json()["status"] == "reserved":
                break
        cancel = api.post(
            f"/api/v1/orders/{order['id']}/cancel",
            json={},
            headers={"Idempotency-Key": secrets.token_hex(12)},
        )
        assert cancel.status_code == 200, cancel.text
        order_id: str = order["id"]
        return order_id


def test_finance_staff_find_a_refund_and_its_orders_ledger(
    browser: Browser, server: LiveServer
) -> None:
    order_id = cancelled_order_with_refund(server)
    username, password = f"fin-{secrets.token_hex(3)}", secrets.token_urlsafe(18)
    container = bootstrap(conftest.test_settings(server.database.url))
    try:
        create_staff(
            container.uow(),
            username=username,
            password=password,
            roles=[Role.FINANCE],
            display_name="Zhao Min",
            now=datetime.now(UTC),
        )
    finally:
        container.close()
    context = browser.new_context(locale="zh-CN", viewport=PHONE)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{server.base_url}/staff/signin")
    page.locator("#username").fill(username)
    page.locator("#password").fill(password)
    page.get_by_role("button", name="登录", exact=True).click()
    expect(page.get_by_test_id("finance-links")).to_be_visible()
    page.get_by_test_id("finance-links").get_by_role("link", name="退款队列").click()
    expect(page).to_have_url(re.compile(r"/finance/refunds$"))
    expect(
        page.locator(f'table[data-testid=refunds] a[href="/finance/orders/{order_id}"]')
    ).to_be_visible()
    shoot(page, "finance-refunds-zh-CN")
    page.locator(f'a[href="/finance/orders/{order_id}"]').first.click()
    expect(page.locator('tr[data-posting="payment_captured"]')).to_have_count(2)
    expect(page.locator('tr[data-posting="refund_requested"]').first).to_be_visible()
    shoot(page, "finance-ledger-zh-CN")
    page.get_by_role("link", name="对账").click()
    page.get_by_test_id("run-reconciliation").click()
    expect(page.get_by_test_id("run").first).to_be_visible()
    shoot(page, "finance-reconciliation-zh-CN")
    context.close()
