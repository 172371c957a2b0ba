"""The order and finance pages over real HTTP (SQLite and PostgreSQL): the reserve page shows
the deposit terms in full in both languages and needs them accepted; a double submit makes
one order; lock and cancel say what happens to the money before they do it; another buyer's
order is the 404 page; the finance console admits finance staff only.

The server is this module's own: jobs every 0.3 s and room for many SMS codes.
"""

from __future__ import annotations

import html
import re
import threading
from collections.abc import Iterator
from urllib.parse import quote

import httpx
import pytest
from conftest import Database, LiveServer
from order_pages_support import (
    browser,
    configuration,
    csrf_token,
    eventually,
    form_fields,
    order_id_of,
    pages_server,
    pay_and_wait,
    reserve,
    signed_in_buyer,
    signed_in_staff,
    status_on,
    text_of,
)

from marque.domain.identity import Role


@pytest.fixture(scope="module")
def server(seeded: Database, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with pages_server(seeded, tmp_path_factory.mktemp("order-pages")) as running:
        yield running


def money(amount: int) -> str:
    major, minor = divmod(amount, 100)
    return f"¥{major:,}" + (f".{minor:02d}" if minor else "")


def fact(page: httpx.Response, key: str) -> str:
    """The text of one labelled fact of the first facts list on the page."""
    found = re.search(rf'<div class="fact" data-fact="{key}">(.*?)</div>', page.text, re.S)
    assert found, f"no {key} fact"
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", found.group(1)))).strip()


# ---------------------------------------------------------------------------- reserve


@pytest.mark.parametrize(("lang", "other"), [("en", "zh-CN"), ("zh-CN", "en")])
def test_reserve_page_shows_the_deposit_terms_in_full_in_both_languages(
    server: LiveServer, lang: str, other: str
) -> None:
    with signed_in_buyer(server, lang) as buyer:
        priced = configuration(buyer, "earnest", lang)
        theirs = configuration(buyer, "earnest", other)["deposit_terms"]
        page = buyer.get("/orders/new", params={"configuration": priced["code"]})

    terms = priced["deposit_terms"]
    text = text_of(page)
    assert page.status_code == 200
    assert f'<html lang="{lang}">' in page.text
    assert terms["title"] in text
    assert terms["body"].strip().splitlines()[0] in text
    assert f'<details class="other-language" lang="{other}"' in page.text
    assert theirs["title"] in text
    assert theirs["body"].strip().splitlines()[0] in text
    assert terms["content_hash"] in page.text
    assert money(priced["total_price"]["amount"]) in text
    for key in (
        "kind",
        "amount",
        "refundable",
        "lock",
        "cooling-off",
        "cancel",
        "breach",
        "refund-time",
    ):
        assert page.text.count(f'data-fact="{key}"') == 2, f"{key} in both languages"
    assert money(terms["amount"]["amount"]) in fact(page, "amount")
    if lang == "en":
        assert "earnest money" in fact(page, "kind").lower()
        assert "NOT refundable" in fact(page, "refundable")
        assert "24 hours" in fact(page, "cooling-off")
        assert "within 7 days" in fact(page, "refund-time")
        assert "twice the deposit" in fact(page, "breach")
        assert "4 weeks" in fact(page, "breach")
    else:
        assert "定金" in fact(page, "kind")
        assert "不予退还" in fact(page, "refundable")
        assert "24 小时" in fact(page, "cooling-off")
        assert "7 天" in fact(page, "refund-time")
        assert "双倍" in fact(page, "breach")
    fields = form_fields(page, "/orders")
    assert fields["terms_hash"] == terms["content_hash"]
    assert fields["idempotency_key"].startswith("web-")
    assert re.search(
        r'type="checkbox" id="accept-terms" name="accept_terms" value="yes" required', page.text
    )


def test_configurators_reserve_button_prices_the_choice_and_opens_the_reserve_page(
    server: LiveServer,
) -> None:
    with browser(server) as visitor:
        priced = configuration(visitor, "intent")
        choice = visitor.get(f"/models/{priced['model']}/reserve", params={"trim": priced["trim"]})
        reserve_page = visitor.get(choice.headers["location"])

    assert choice.status_code == 303
    assert choice.headers["location"] == f"/orders/new?configuration={priced['code']}"
    assert reserve_page.status_code == 303, "nobody is signed in yet"
    assert reserve_page.headers["location"] == "/signin?next=" + quote(
        f"/orders/new?configuration={priced['code']}", safe=""
    )


def test_reserving_needs_the_terms_accepted(server: LiveServer) -> None:
    with signed_in_buyer(server) as buyer:
        priced = configuration(buyer, "intent")
        page = buyer.get("/orders/new", params={"configuration": priced["code"]})
        refused = buyer.post("/orders", data=form_fields(page, "/orders"))
        orders = buyer.get("/orders")

    assert refused.status_code == 422
    assert "Tick the box to accept the deposit terms; nothing was reserved." in text_of(refused)
    assert 'data-testid="deposit-terms"' in refused.text, "the terms are shown again"
    assert "You have no orders yet." in text_of(orders)


def test_a_double_submit_of_the_reserve_form_makes_one_order(server: LiveServer) -> None:
    with signed_in_buyer(server) as buyer:
        priced = configuration(buyer, "intent")
        page = buyer.get("/orders/new", params={"configuration": priced["code"]})
        data = {**form_fields(page, "/orders"), "accept_terms": "yes"}
        first = buyer.post("/orders", data=data)
        again = buyer.post("/orders", data=data)
        # Two tabs sending one freshly rendered form at the same instant.
        page = buyer.get("/orders/new", params={"configuration": priced["code"]})
        racing = {**form_fields(page, "/orders"), "accept_terms": "yes"}
        answers: list[httpx.Response] = []
        start = threading.Barrier(2)

        def submit() -> None:
            with browser(server) as tab:
                tab.cookies.update(buyer.cookies)
                start.wait()
                answers.append(tab.post("/orders", data=racing))

        threads = [threading.Thread(target=submit) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        listed = buyer.get("/orders")

    assert first.headers["location"] == again.headers["location"]
    assert "/sandbox/pay/" in first.headers["location"]
    assert "return_url=%2Forders%2F" in first.headers["location"]
    raced = {order_id_of(answer) for answer in answers}
    assert len(raced) == 1
    shown = set(re.findall(r'data-order="(O-[A-Z0-9]+)"', listed.text))
    assert shown == {order_id_of(first), *raced}, "two forms, two orders; no more"


def test_reserve_form_without_its_csrf_token_is_refused(server: LiveServer) -> None:
    with signed_in_buyer(server) as buyer:
        priced = configuration(buyer, "intent")
        page = buyer.get("/orders/new", params={"configuration": priced["code"]})
        fields = {**form_fields(page, "/orders"), "accept_terms": "yes"}
        fields.pop("csrf_token")
        refused = buyer.post("/orders", data=fields)

    assert refused.status_code == 403
    assert 'data-testid="error-code">auth.csrf_failed<' in refused.text


# ---------------------------------------------------------------------------- the order


def test_order_page_shows_status_payment_history_and_the_refund_quote(server: LiveServer) -> None:
    with signed_in_buyer(server) as buyer:
        priced = configuration(buyer, "earnest")
        redirect = reserve(buyer, priced["code"])
        order_id = order_id_of(redirect)
        unpaid = buyer.get(f"/orders/{order_id}")
        pay_and_wait(buyer, redirect)
        paid = buyer.get(f"/orders/{order_id}")
        listed = buyer.get("/orders")

    deposit = money(priced["deposit_terms"]["amount"]["amount"])
    assert status_on(unpaid) == "pending_payment"
    assert 'data-testid="pay-panel"' in unpaid.text
    assert 'data-rule="nothing_paid"' in unpaid.text
    assert status_on(paid) == "reserved"
    text = text_of(paid)
    assert 'data-rule="full_before_lock"' in paid.text
    assert f'data-amount="{priced["deposit_terms"]["amount"]["amount"]}"' in paid.text
    assert "This answer stays the same until" in text
    assert "Beijing time" in text
    assert "Deposit paid" in text
    assert "Reserved" in text
    assert 'data-testid="payment" data-status="succeeded"' in paid.text
    assert deposit in text
    assert 'href="/orders" aria-current="page">My orders<' in paid.text, "the layout's link"
    assert f'data-order="{order_id}"' in listed.text
    assert 'data-testid="list-quote"' in listed.text


def test_lock_confirmation_states_the_deposit_becomes_non_refundable(server: LiveServer) -> None:
    with signed_in_buyer(server) as buyer:
        priced = configuration(buyer, "earnest")
        order_id = pay_and_wait(buyer, reserve(buyer, priced["code"]))
        page = buyer.get(f"/orders/{order_id}/lock")
        unconfirmed = buyer.post(f"/orders/{order_id}/lock", data={"csrf_token": csrf_token(page)})
        still = buyer.get(f"/orders/{order_id}")
        locked = buyer.post(
            f"/orders/{order_id}/lock", data={"csrf_token": csrf_token(still), "confirm": "yes"}
        )
        after = buyer.get(locked.headers["location"])
        zh = buyer.get(f"/orders/{order_id}?lang=zh-CN")

    amount = money(priced["deposit_terms"]["amount"]["amount"])
    text = text_of(page)
    assert f"If you lock now, your earnest money of {amount} becomes NON-REFUNDABLE." in text
    assert "You can still cancel with a full refund until" in text
    assert "(24 hours after the lock). After that, cancelling returns nothing." in text
    assert re.search(
        rf"I understand that from .+ my deposit of {re.escape(amount)} is not refundable.", text
    )
    assert unconfirmed.status_code == 422
    assert "nothing was locked" in text_of(unconfirmed)
    assert status_on(still) == "reserved"
    assert locked.headers["location"] == f"/orders/{order_id}?done=locked"
    assert status_on(after) == "locked"
    assert 'data-rule="full_in_cooling_off"' in after.text
    assert "Your order is locked." in text_of(after)
    assert "锁单" in text_of(zh)


def test_cancel_page_says_exactly_what_comes_back_and_the_refund_follows(
    server: LiveServer,
) -> None:
    with signed_in_buyer(server) as buyer:
        priced = configuration(buyer, "intent")
        order_id = pay_and_wait(buyer, reserve(buyer, priced["code"]))
        page = buyer.get(f"/orders/{order_id}/cancel")
        fields = form_fields(page, f"/orders/{order_id}/cancel")
        greedy = buyer.post(
            f"/orders/{order_id}/cancel",
            data={**fields, "expected_amount": str(int(fields["expected_amount"]) + 1)},
        )
        cancelled = buyer.post(f"/orders/{order_id}/cancel", data={**fields, "reason": "test"})
        twice = buyer.post(f"/orders/{order_id}/cancel", data=fields)
        refunded = eventually(
            lambda: buyer.get(f"/orders/{order_id}"),
            lambda p: 'data-testid="refund" data-status="succeeded"' in p.text,
        )

    deposit = priced["deposit_terms"]["amount"]["amount"]
    assert f"If you cancel now, you get back exactly {money(deposit)}." in text_of(page)
    assert fields["expected_amount"] == str(deposit)
    assert f"Cancel and get {money(deposit)} back" in text_of(page)
    assert greedy.status_code == 409, "a quote lower than the one shown cancels nothing"
    assert "you were shown" in text_of(greedy)
    assert cancelled.headers["location"] == f"/orders/{order_id}?done=cancelled"
    assert twice.headers["location"] == f"/orders/{order_id}?done=cancelled"
    assert status_on(refunded) == "cancelled"
    assert money(deposit) in text_of(refunded)
    assert "Back on your original payment method since" in text_of(refunded)
    assert 'data-rule="not_cancellable"' in refunded.text


def test_another_buyers_order_is_the_404_page(server: LiveServer) -> None:
    with signed_in_buyer(server) as owner, signed_in_buyer(server) as stranger:
        priced = configuration(owner, "intent")
        order_id = order_id_of(reserve(owner, priced["code"]))
        home = stranger.get("/orders")
        pages = [
            stranger.get(f"/orders/{order_id}{tail}")
            for tail in ("", "/lock", "/cancel", "/configuration")
        ]
        cancel = stranger.post(f"/orders/{order_id}/cancel", data={"csrf_token": csrf_token(home)})
        own = owner.get(f"/orders/{order_id}")

    for page in [*pages, cancel]:
        assert page.status_code == 404
        assert 'data-testid="error-code">order.not_found<' in page.text
        assert priced["code"] not in page.text
    assert status_on(own) == "pending_payment"


def test_anonymous_visitors_are_sent_to_sign_in_and_staff_get_403(server: LiveServer) -> None:
    with browser(server) as visitor, signed_in_staff(server, Role.SALES) as staff:
        answers = {path: visitor.get(path) for path in ("/orders", "/orders/O-AAAAAAAAAAAA")}
        staff_page = staff.get("/orders")

    for path, answer in answers.items():
        assert answer.status_code == 303
        assert answer.headers["location"] == f"/signin?next={quote(path, safe='')}"
    assert staff_page.status_code == 403


def test_configuration_change_warns_about_the_queue_and_reprices(server: LiveServer) -> None:
    with signed_in_buyer(server) as buyer:
        priced = configuration(buyer, "intent")
        model = buyer.get(f"/api/v1/models/{priced['model']}").json()
        group = next(
            g for g in model["option_groups"] if g["selection"] == "one" and len(g["options"]) > 1
        )
        other = next(o for o in group["options"] if o["code"] != group["default_option"])
        order_id = order_id_of(reserve(buyer, priced["code"]))
        preview = buyer.get(
            f"/orders/{order_id}/configuration",
            params={"trim": priced["trim"], f"opt_{group['code']}": other["code"]},
        )
        fields = form_fields(preview, f"/orders/{order_id}/configuration")
        changed = buyer.post(f"/orders/{order_id}/configuration", data=fields)
        assert changed.status_code == 303, text_of(changed)
        after = buyer.get(changed.headers["location"])

    assert "If you change the configuration, your order goes to the back of the queue." in text_of(
        preview
    )
    assert fields["configuration_code"] != priced["code"]
    assert changed.headers["location"] == f"/orders/{order_id}?done=changed"
    assert fields["configuration_code"] in after.text
    assert "Configuration changed" in text_of(after)


# ---------------------------------------------------------------------------- finance


def test_finance_pages_admit_finance_staff_and_admins_only(server: LiveServer) -> None:
    paths = ["/finance/refunds", "/finance/reconciliations", "/finance/ledger-check"]
    with (
        browser(server) as visitor,
        signed_in_buyer(server) as customer,
        signed_in_staff(server, Role.SALES) as sales,
        signed_in_staff(server, Role.FINANCE) as finance,
        signed_in_staff(server, Role.ADMIN) as admin,
    ):
        for path in paths:
            anonymous = visitor.get(path)
            assert anonymous.status_code == 303
            assert anonymous.headers["location"] == "/staff/signin"
            assert customer.get(path).status_code == 403
            assert sales.get(path).status_code == 403
            assert finance.get(path).status_code == 200
            assert admin.get(path).status_code == 200
        console = finance.get("/staff")
        sales_console = sales.get("/staff")

    assert 'data-testid="finance-links"' in console.text
    assert 'href="/finance/refunds"' in console.text
    assert 'data-testid="finance-links"' not in sales_console.text


def test_finance_sees_the_refund_in_the_queue_and_the_orders_ledger(server: LiveServer) -> None:
    with signed_in_buyer(server) as buyer, signed_in_staff(server, Role.FINANCE) as finance:
        priced = configuration(buyer, "intent")
        order_id = pay_and_wait(buyer, reserve(buyer, priced["code"]))
        page = buyer.get(f"/orders/{order_id}/cancel")
        buyer.post(
            f"/orders/{order_id}/cancel", data=form_fields(page, f"/orders/{order_id}/cancel")
        )
        eventually(
            lambda: buyer.get(f"/orders/{order_id}"),
            lambda p: 'data-testid="refund" data-status="succeeded"' in p.text,
        )
        succeeded = finance.get("/finance/refunds", params={"status": "succeeded"})
        failed_only = finance.get("/finance/refunds", params={"status": "failed"})
        stuck = finance.get("/finance/refunds", params={"stuck": "1"})
        lookup = finance.get("/finance/orders", params={"order": order_id.lower()})
        ledger = finance.get(f"/finance/orders/{order_id}")

    assert f'href="/finance/orders/{order_id}"' in succeeded.text
    assert order_id not in failed_only.text
    assert order_id not in stuck.text, "its promise date is days away"
    assert lookup.headers["location"] == f"/finance/orders/{order_id}"
    assert ledger.status_code == 200
    for kind in ("payment_captured", "refund_requested", "refund_settled"):
        assert f'data-posting="{kind}"' in ledger.text
    assert re.search(r'data-testid="held"><strong>¥0</strong>', ledger.text)


def test_finance_runs_a_reconciliation_and_reads_it_by_date(server: LiveServer) -> None:
    with signed_in_staff(server, Role.FINANCE, lang="zh-CN") as finance:
        page = finance.get("/finance/reconciliations")
        today = re.search(r'id="run-date" name="date" value="([0-9-]+)"', page.text)
        assert today
        ran = finance.post(
            "/finance/reconciliations",
            data={"csrf_token": csrf_token(page), "date": today.group(1)},
        )
        shown = finance.get(ran.headers["location"])
        bad = finance.get("/finance/reconciliations", params={"date": "yesterday"})

    assert ran.status_code == 303
    assert 'data-testid="run"' in shown.text
    assert f"{today.group(1)}，支付渠道 sandbox" in text_of(shown)
    assert "对账已完成" in text_of(shown)
    assert bad.status_code == 422
    assert "yesterday 不是日期" in text_of(bad)
