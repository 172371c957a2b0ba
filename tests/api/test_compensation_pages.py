"""The finance console records the compensation transfer of a maker breach over real HTTP
(SQLite and PostgreSQL): a buyer pays earnest money, the maker breaches (late delivery),
the buyer cancels and the provider returns the deposit; the same amount again is owed by
bank transfer. Finance finds the refund in the queue, opens its page, which states the
amount, and records the transfer once: the ledger pays the compensation once, the button
is gone and the page says it is recorded; a second submit records nothing more.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import conftest
import httpx
import pytest
from conftest import Database, LiveServer
from order_pages_support import (
    browser,
    configuration,
    csrf_token,
    eventually,
    form_fields,
    pages_server,
    pay_and_wait,
    reserve,
    signed_in_buyer,
    signed_in_staff,
    text_of,
)

from marque.bootstrap import bootstrap
from marque.domain.deposits import BreachKind
from marque.domain.identity import Role
from marque.domain.ledger import Account, PostingKind
from marque.domain.refunds import RefundEvent


@pytest.fixture(scope="module")
def server(seeded: Database, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with pages_server(seeded, tmp_path_factory.mktemp("compensation-pages")) as running:
        yield running


@dataclass(frozen=True)
class Breach:
    order_id: str
    refund_id: str
    deposit: int


@dataclass(frozen=True)
class Books:
    """What the database holds for one order's compensation."""

    compensation_postings: int
    compensation_expense: int
    refunds_payable: int
    transfers_recorded: int


def money(amount: int) -> str:
    major, minor = divmod(amount, 100)
    return f"¥{major:,}" + (f".{minor:02d}" if minor else "")


def books(server: LiveServer, breach: Breach) -> Books:
    container = bootstrap(conftest.test_settings(server.database.url))
    try:
        with container.uow(readonly=True) as uow:
            postings = uow.ledger.for_order(breach.order_id)
            changes = uow.refunds.status_changes(breach.refund_id)
    finally:
        container.close()

    def balance(account: Account) -> int:
        return sum(e.amount.amount for p in postings for e in p.entries if e.account is account)

    return Books(
        compensation_postings=sum(p.kind is PostingKind.COMPENSATION for p in postings),
        compensation_expense=balance(Account.COMPENSATION_EXPENSE),
        refunds_payable=balance(Account.REFUNDS_PAYABLE),
        transfers_recorded=sum(c.event is RefundEvent.PAY_COMPENSATION for c in changes),
    )


def record_breach(server: LiveServer, order_id: str) -> None:
    """The maker misses the delivery date it promised (what the breach check records)."""
    container = bootstrap(conftest.test_settings(server.database.url))
    try:
        with container.uow() as uow:
            uow.orders.record_breach(order_id, BreachKind.LATE_DELIVERY)
            uow.commit()
    finally:
        container.close()


def breach_refunded(server: LiveServer, buyer: httpx.Client) -> Breach:
    """A paid earnest-money order the maker breached, cancelled by its buyer, whose deposit
    the provider has returned: the compensation on top is now owed by transfer."""
    priced = configuration(buyer, "earnest")
    order_id = pay_and_wait(buyer, reserve(buyer, priced["code"]))
    record_breach(server, order_id)
    page = buyer.get(f"/orders/{order_id}/cancel")
    fields = form_fields(page, f"/orders/{order_id}/cancel")
    deposit = priced["deposit_terms"]["amount"]["amount"]
    assert fields["expected_amount"] == str(2 * deposit), "twice over, by law"
    cancelled = buyer.post(f"/orders/{order_id}/cancel", data=fields)
    assert cancelled.status_code == 303, cancelled.text

    def read() -> httpx.Response:
        buyer.post("/api/v1/sandbox/webhooks/deliver")
        return buyer.get(f"/orders/{order_id}")

    eventually(read, lambda p: 'data-testid="refund" data-status="succeeded"' in p.text)
    container = bootstrap(conftest.test_settings(server.database.url))
    try:
        with container.uow(readonly=True) as uow:
            (refund,) = uow.refunds.for_order(order_id)
    finally:
        container.close()
    assert (refund.amount.amount, refund.compensation.amount) == (deposit, deposit)
    return Breach(order_id, refund.id, deposit)


def queue_row(page: httpx.Response, refund_id: str) -> str:
    found = re.search(rf'<tr data-refund="{refund_id}".*?</tr>', page.text, re.S)
    assert found, f"{refund_id} is not in the queue"
    return found.group(0)


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_finance_records_the_compensation_transfer_once(server: LiveServer, lang: str) -> None:
    with signed_in_buyer(server) as buyer, signed_in_staff(server, Role.FINANCE, lang=lang) as fin:
        breach = breach_refunded(server, buyer)
        owed = money(breach.deposit)
        before = books(server, breach)
        queue = fin.get("/finance/refunds", params={"status": "succeeded"})
        ledger = fin.get(f"/finance/orders/{breach.order_id}")
        address = f"/finance/refunds/{breach.refund_id}/compensation"
        page = fin.get(address)
        token = csrf_token(page)
        unconfirmed = fin.post(address, data={"csrf_token": token, "bank_reference": "BOC-1"})
        malformed = fin.post(
            address, data={"csrf_token": token, "bank_reference": "转账 1", "confirm": "yes"}
        )
        untouched = books(server, breach)
        sent = {"csrf_token": token, "bank_reference": "BOC-2026-0001", "confirm": "yes"}
        recorded = fin.post(address, data=sent)
        shown = fin.get(recorded.headers["location"])
        after = books(server, breach)
        again = fin.post(address, data=sent)
        queue_after = fin.get("/finance/refunds", params={"status": "succeeded"})
        ledger_after = fin.get(f"/finance/orders/{breach.order_id}")
        last = books(server, breach)

    link = f'href="{address}" data-testid="record-compensation-link"'
    assert link in queue_row(queue, breach.refund_id)
    assert link in ledger.text
    assert before == Books(0, breach.deposit, -breach.deposit, 0), "owed, not paid"

    assert page.status_code == 200
    assert 'data-testid="compensation-form"' in page.text
    assert f'action="{address}"' in page.text
    confirm = {
        "en": f"I confirm that {owed} went to the buyer of order {breach.order_id} by this "
        "bank transfer. It is recorded once and cannot be undone.",
        "zh-CN": f"我确认已通过这笔银行转账向订单 {breach.order_id} 的买家支付 {owed}。",
    }
    assert confirm[lang] in text_of(page)
    assert {"en": f"Record {owed} as paid", "zh-CN": f"登记 {owed} 为已支付"}[lang] in text_of(page)

    assert unconfirmed.status_code == 422
    tick = {
        "en": f"Tick the box to confirm that {owed} went",
        "zh-CN": f"确认已通过这笔转账向买家支付 {owed}",
    }
    assert tick[lang] in text_of(unconfirmed)
    assert 'value="BOC-1"' in unconfirmed.text, "what was typed is kept"
    assert malformed.status_code == 422
    assert {"en": "Nothing was recorded.", "zh-CN": "尚未登记任何内容。"}[lang] in text_of(
        malformed
    )
    assert untouched == before

    assert recorded.status_code == 303
    assert recorded.headers["location"] == f"{address}?done=compensated"
    assert after == Books(1, breach.deposit, 0, 1)
    assert 'data-testid="compensation-recorded"' in shown.text
    assert 'data-testid="compensation-form"' not in shown.text
    notice = {
        "en": "The compensation transfer is recorded; nothing more is owed on this refund.",
        "zh-CN": "赔偿转账已登记；此笔退款不再欠付任何款项。",
    }
    assert notice[lang] in text_of(shown)
    assert "BOC-2026-0001" in text_of(shown)

    assert again.status_code == 409, "the second submit pays nothing"
    already = {"en": "was already recorded as paid", "zh-CN": "的赔偿已登记为已支付"}
    assert already[lang] in text_of(again)
    assert 'data-testid="compensation-form"' not in again.text
    assert last == after, "one posting, one record"
    assert link not in queue_row(queue_after, breach.refund_id)
    assert 'data-testid="compensation-paid"' in queue_row(queue_after, breach.refund_id)
    assert link not in ledger_after.text
    assert ledger_after.text.count('data-posting="compensation" class="posting-start"') == 1


def test_only_finance_staff_may_open_or_send_the_compensation_form(server: LiveServer) -> None:
    address = "/finance/refunds/R-UNKNOWN0001/compensation"
    with (
        browser(server) as anonymous,
        signed_in_buyer(server) as buyer,
        signed_in_staff(server, Role.SALES) as sales,
        signed_in_staff(server, Role.FINANCE) as finance,
    ):
        nobody = anonymous.get(address)
        customer = buyer.get(address)
        seller = sales.get(address)
        form = sales.get("/staff")
        posted = sales.post(
            address, data={"csrf_token": csrf_token(form), "bank_reference": "X1", "confirm": "y"}
        )
        unknown = finance.get(address)

    assert nobody.status_code == 303
    assert nobody.headers["location"] == "/staff/signin"
    assert (customer.status_code, seller.status_code, posted.status_code) == (403, 403, 403)
    assert unknown.status_code == 404
