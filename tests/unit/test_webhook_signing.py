"""Webhook signatures and the sandbox's counting rules, without any I/O."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest

from marque.adapters.payments.sandbox_behaviour import EveryNth
from marque.adapters.payments.signing import (
    SIGNATURE_HEADER,
    derive_secret,
    signature_header,
    verify,
    webhook_secret,
)
from marque.config import Settings
from marque.services.payment_ports import WebhookRejected

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
KEY = b"k" * 32
BODY = b'{"event_id":"evt_1"}'


def code_of(headers: dict[str, str], body: bytes = BODY, now: datetime = NOW) -> str:
    with pytest.raises(WebhookRejected) as rejected:
        verify(KEY, headers, body, now, tolerance_seconds=300)
    return rejected.value.code


def test_the_header_is_unix_time_and_hmac_sha256_of_time_dot_body() -> None:
    header = signature_header(KEY, BODY, NOW)

    timestamp = int(NOW.timestamp())
    expected = hmac.new(KEY, f"{timestamp}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert header == f"t={timestamp},v1={expected}"


def test_verify_returns_when_the_body_was_signed() -> None:
    signed_at = NOW - timedelta(seconds=42)
    headers = {SIGNATURE_HEADER: signature_header(KEY, BODY, signed_at)}

    assert verify(KEY, headers, BODY, NOW, tolerance_seconds=300) == signed_at


def test_any_of_several_signatures_may_match_during_a_key_rotation() -> None:
    good = signature_header(KEY, BODY, NOW)
    old_key = signature_header(b"o" * 32, BODY, NOW).split(",")[1]

    verify(KEY, {SIGNATURE_HEADER: f"{good},{old_key}"}, BODY, NOW, tolerance_seconds=300)
    verify(
        KEY,
        {SIGNATURE_HEADER: f"{good.split(',')[0]},{old_key},{good.split(',')[1]}"},
        BODY,
        NOW,
        tolerance_seconds=300,
    )


def test_a_bad_signature_is_reported_before_a_stale_time() -> None:
    old_and_forged = signature_header(b"x" * 32, BODY, NOW - timedelta(days=1))

    assert code_of({SIGNATURE_HEADER: old_and_forged}) == "payments.webhook_signature_invalid"


def test_the_tolerance_is_a_setting() -> None:
    headers = {SIGNATURE_HEADER: signature_header(KEY, BODY, NOW - timedelta(seconds=61))}

    with pytest.raises(WebhookRejected) as rejected:
        verify(KEY, headers, BODY, NOW, tolerance_seconds=60)
    verify(KEY, headers, BODY, NOW, tolerance_seconds=61)

    assert rejected.value.code == "payments.webhook_stale"
    assert Settings().webhook_tolerance_seconds == 300


@pytest.mark.parametrize(
    "value",
    ["t=1,t=2,v1=00", "t=-5,v1=00", "t=1 v1=00", "garbage", "t=١٢,v1=00", "t=1," + "v1=0," * 600],
)
def test_garbled_headers_are_malformed(value: str) -> None:
    assert code_of({SIGNATURE_HEADER: value}) == "payments.webhook_malformed"


def test_each_provider_gets_its_own_key_and_none_is_the_secret_key() -> None:
    settings = Settings(secret_key="s" * 40)

    sandbox = webhook_secret(settings, "sandbox")
    alipay = webhook_secret(settings, "alipay")

    assert sandbox != alipay
    assert b"s" * 40 not in (sandbox, alipay)
    assert sandbox == derive_secret("s" * 40, "sandbox")
    assert webhook_secret(Settings(sandbox_webhook_secret="whsec"), "sandbox") == b"whsec"


@pytest.mark.parametrize(
    ("rate", "picked"),
    [
        (0.0, []),
        (1.0, [1, 2, 3, 4, 5, 6]),
        (0.5, [1, 3, 5]),
        (1 / 3, [1, 4]),
        (0.25, [1, 5]),
    ],
)
def test_every_nth_picks_an_exact_share_starting_with_the_first(
    rate: float, picked: list[int]
) -> None:
    rule = EveryNth(rate)

    chosen = [n for n in range(1, 7) if rule.pick()]

    assert chosen == picked
