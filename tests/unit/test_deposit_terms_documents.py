"""Deposit terms are versioned bilingual documents whose hash covers words and rules alike."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from marque.domain.catalog import (
    BreachRemedy,
    DepositKind,
    DepositRules,
    LocalizedText,
    RefundableUntil,
    current_terms,
)
from marque.services.demo_deposit_terms import earnest_terms, founders_terms, intent_terms

START = datetime(2026, 9, 1, tzinfo=UTC)
NAME = LocalizedText("曜 Arc", "Lumen Arc")


def test_the_hash_is_stable_for_the_same_document() -> None:
    assert intent_terms("arc-intent", NAME, START).content_hash == (
        intent_terms("arc-intent", NAME, START).content_hash
    )
    assert len(founders_terms(START).content_hash) == 64


def test_changing_a_word_of_either_language_changes_the_hash() -> None:
    terms = intent_terms("arc-intent", NAME, START)
    english = dataclasses.replace(terms, body=LocalizedText(terms.body.zh, terms.body.en + " "))
    chinese = dataclasses.replace(terms, body=LocalizedText(terms.body.zh + "。", terms.body.en))

    assert len({terms.content_hash, english.content_hash, chinese.content_hash}) == 3


def test_changing_a_rule_changes_the_hash() -> None:
    terms = intent_terms("arc-intent", NAME, START)
    longer = dataclasses.replace(
        terms, rules=dataclasses.replace(terms.rules, auto_lock_after_hours=336)
    )

    assert longer.content_hash != terms.content_hash


def test_rules_survive_a_round_trip_through_plain_data() -> None:
    rules = founders_terms(START).rules

    assert DepositRules.from_dict(rules.to_dict()) == rules
    assert rules.to_dict()["maker_breach"]["remedy"] == "double"


def test_earnest_money_is_refundable_until_the_lock_which_comes_after_seven_days() -> None:
    terms = earnest_terms("arc-earnest", NAME, START)

    assert terms.kind is DepositKind.EARNEST
    assert terms.rules.refundable_until is RefundableUntil.LOCK
    assert terms.rules.auto_lock_after_hours == 168
    assert terms.rules.maker_breach.remedy is BreachRemedy.DOUBLE
    assert "168 hours" in terms.body.en
    assert "NOT refundable" in terms.body.en
    assert "168小时" in terms.body.zh
    assert "不予退还" in terms.body.zh


def test_intent_money_is_a_prepayment_refundable_at_any_time() -> None:
    terms = intent_terms("vista-intent", NAME, START)

    assert terms.kind is DepositKind.INTENT
    assert terms.rules.refundable_until is RefundableUntil.ALWAYS
    assert "NOT refundable" not in terms.body.en
    assert "不予退还" not in terms.body.zh


def test_founders_earnest_money_locks_on_payment_and_is_never_refundable_by_choice() -> None:
    terms = founders_terms(START)

    assert terms.rules.refundable_until is RefundableUntil.NEVER
    assert terms.rules.auto_lock_after_hours == 0
    assert "locks as soon as the payment succeeds" in terms.body.en
    assert "支付成功即锁单" in terms.body.zh


def test_the_current_version_is_the_newest_already_in_effect() -> None:
    first = intent_terms("arc-intent", NAME, START)
    second = dataclasses.replace(first, version=2, effective_from=START + timedelta(days=30))

    assert current_terms([first, second], START + timedelta(days=1)) == first
    assert current_terms([first, second], START + timedelta(days=31)) == second
    assert current_terms([first, second], START - timedelta(days=1)) is None
