"""What the reserve and lock pages say about a deposit comes from the refund quote itself:
for each kind of demo terms, the sentences name the amounts ``refund_quote`` would pay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from marque.domain.catalog import DepositTerms, LocalizedText
from marque.domain.deposits import DepositPolicy, OrderFacts, refund_quote
from marque.domain.money import Money
from marque.domain.order_entities import AcceptedTerms, Order
from marque.domain.orders import OrderStatus
from marque.entrypoints.web.order_view import lock_warning
from marque.entrypoints.web.terms_view import outcomes, refundability, terms_facts
from marque.i18n import Translator
from marque.services.demo_deposit_terms import earnest_terms, founders_terms, intent_terms
from marque.services.order_queries import OrderDetail, QuoteView

START = datetime(2026, 9, 1, tzinfo=UTC)
PAID = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
NAME = LocalizedText(zh="曜 Arc", en="Lumen Arc")
EN = Translator("en")
ZH = Translator("zh-CN")

EARNEST = earnest_terms("arc-earnest", NAME, START)
INTENT = intent_terms("vista-intent", NAME, START)
FOUNDERS = founders_terms(START)


def facts(terms: DepositTerms, translator: Translator = EN) -> dict[str, Any]:
    seen = outcomes(terms, paid_at=PAID)
    return {f["key"]: f for f in terms_facts(terms, seen, translator)}


def test_earnest_money_is_refundable_until_the_lock_and_its_cooling_off_then_lost() -> None:
    shown = facts(EARNEST)

    assert shown["refundable"]["text"] == (
        "It is refundable until the order locks and for 24 hours after; from then on it is "
        "NOT refundable."
    )
    assert shown["cancel"]["points"] == [
        "Before the lock: ¥5,000 comes back to you.",
        "Within 24 hours after the lock (cooling-off): ¥5,000 comes back to you.",
        "After that: nothing comes back: you lose ¥5,000.",
    ]
    assert shown["breach"]["text"] == "Then you get twice the deposit back: ¥10,000."
    assert len(shown["breach"]["points"]) == 3
    assert shown["refund-time"]["text"].endswith("within 7 days.")


def test_intent_money_never_stops_being_refundable() -> None:
    shown = facts(INTENT)

    assert shown["refundable"]["text"].startswith("It never stops being refundable")
    assert shown["cancel"]["points"] == [
        "Before the lock: ¥5,000 comes back to you.",
        "After the lock: ¥5,000 comes back to you.",
    ]
    assert shown["cooling-off"]["text"].startswith("Not needed")
    assert shown["breach"]["text"] == "Then you get the whole deposit back: ¥5,000."


def test_founders_earnest_money_is_lost_from_the_moment_it_is_paid() -> None:
    shown = facts(FOUNDERS)

    assert shown["refundable"]["text"] == (
        "It is NOT refundable once paid: the order locks the moment you pay."
    )
    assert shown["cancel"]["points"] == ["After the lock: nothing comes back: you lose ¥20,000."]
    assert "automatically as soon as the deposit is paid" in shown["lock"]["text"]
    assert shown["breach"]["text"] == "Then you get twice the deposit back: ¥40,000."


def test_the_facts_exist_in_chinese_with_the_same_amounts() -> None:
    shown = facts(EARNEST, ZH)

    assert shown["refundable"]["text"] == "锁单前及锁单后 24 小时内可以退还；此后不予退还。"
    assert shown["cancel"]["points"][-1] == "此后：不予退还：您将损失 ¥5,000。"
    assert shown["breach"]["text"] == "届时双倍返还定金：¥10,000。"


def test_what_the_page_says_after_the_lock_is_what_the_quote_pays() -> None:
    for terms in (EARNEST, INTENT, FOUNDERS):
        seen = outcomes(terms, paid_at=PAID)
        assert seen.after_lock.total + seen.after_lock.forfeited == terms.amount
        assert refundability(terms, seen, EN)


def order_detail(terms: DepositTerms, now: datetime) -> OrderDetail:
    held = terms.amount
    order = Order(
        id="O-TESTTESTTEST",
        customer_id="C-TEST",
        locale="en",
        model_code="arc",
        trim_code="standard",
        configuration_code="CFG-AAAAAAAAAA",
        price=Money.of_major(215_900, "CNY"),
        deposit_kind=terms.kind,
        deposit=terms.amount,
        terms=AcceptedTerms(terms.code, terms.version, terms.content_hash, PAID),
        limited_edition=False,
        status=OrderStatus.RESERVED,
        version=2,
        created_at=PAID,
        updated_at=PAID,
        paid_at=PAID,
    )
    quote = refund_quote(
        DepositPolicy.from_terms(terms),
        OrderFacts(status=OrderStatus.RESERVED, held=held, paid_at=PAID),
        now,
    )
    return OrderDetail(
        order=order,
        terms=terms,
        held=held,
        quote=QuoteView(quote, now, now + timedelta(days=7)),
        history=[],
        configuration_changes=[],
        payments=[],
        refunds=[],
    )


@pytest.mark.parametrize(
    ("terms", "severity", "headline"),
    [
        (
            EARNEST,
            "danger",
            "If you lock now, your earnest money of ¥5,000 becomes NON-REFUNDABLE.",
        ),
        (INTENT, "notice", "Your intent money of ¥5,000 stays refundable in full after the lock."),
    ],
)
def test_lock_warning_states_what_the_deposit_is_worth_after_the_lock(
    terms: DepositTerms, severity: str, headline: str
) -> None:
    now = PAID + timedelta(hours=2)
    warning = lock_warning(order_detail(terms, now), EN)

    assert warning["severity"] == severity
    assert warning["headline"] == headline
    assert warning["lines"][-1] == "After the lock the configuration can no longer be changed."


def test_lock_warning_names_the_end_of_the_cooling_off_in_beijing_time() -> None:
    now = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)  # 22:00 in Beijing
    warning = lock_warning(order_detail(EARNEST, now), EN)

    assert warning["lines"][0] == (
        "You can still cancel with a full refund until 2026-11-26 22:00 Beijing time (24 hours "
        "after the lock). After that, cancelling returns nothing."
    )
    assert warning["agree"] == (
        "I understand that from 2026-11-26 22:00 Beijing time my deposit of ¥5,000 is not "
        "refundable."
    )
