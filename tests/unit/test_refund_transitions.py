"""The refund's transition table and its backoff, with no I/O."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from marque.domain.errors import InvalidTransition
from marque.domain.identity import SYSTEM
from marque.domain.refunds import (
    TRANSITIONS,
    RefundEvent,
    RefundStatus,
    RetryPolicy,
    expected_by,
    provider_key,
    transition,
)

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)
R, E = RefundStatus, RefundEvent


@pytest.mark.parametrize(
    ("status", "event", "expected"),
    [
        (R.REQUESTED, E.SEND, R.SENT),
        (R.REQUESTED, E.ATTEMPT_FAILED, R.RETRYING),
        (R.RETRYING, E.SEND, R.SENT),
        (R.SENT, E.SETTLE, R.SUCCEEDED),
        (R.SENT, E.PROVIDER_FAILED, R.RETRYING),
        (R.REQUESTED, E.SETTLE, R.SUCCEEDED),  # the provider's webhook overtook our record
        (R.RETRYING, E.GIVE_UP, R.FAILED),
        (R.FAILED, E.RETRY, R.RETRYING),
    ],
)
def test_refund_moves_record_who_when_and_why(
    status: RefundStatus, event: RefundEvent, expected: RefundStatus
) -> None:
    change = transition(status, event, actor=SYSTEM, at=NOW, reason="provider said so")

    assert (change.from_status, change.to_status) == (status, expected)
    assert (change.actor, change.at, change.reason) == ("system:system", NOW, "provider said so")


def test_a_settled_refund_never_moves_again() -> None:
    for event in RefundEvent:
        if event is RefundEvent.PAY_COMPENSATION:  # a record on the settled refund, no move
            change = transition(R.SUCCEEDED, event, actor=SYSTEM, at=NOW, reason="transfer")
            assert change.to_status is R.SUCCEEDED
            continue
        with pytest.raises(InvalidTransition) as caught:
            transition(R.SUCCEEDED, event, actor=SYSTEM, at=NOW, reason="")
        assert caught.value.code == "refund.invalid_transition"


@given(st.lists(st.sampled_from(list(RefundEvent)), max_size=40))
def test_no_event_sequence_leaves_the_table_or_settles_twice(events: list[RefundEvent]) -> None:
    status = R.REQUESTED
    settled = 0
    for event in events:
        try:
            change = transition(status, event, actor=SYSTEM, at=NOW, reason="property")
        except InvalidTransition:
            assert (status, event) not in TRANSITIONS
            continue
        status = change.to_status
        settled += change.to_status is R.SUCCEEDED and change.from_status is not R.SUCCEEDED
    assert settled <= 1


def test_backoff_doubles_from_the_base_up_to_the_cap() -> None:
    policy = RetryPolicy(base_seconds=60, max_delay_seconds=600, max_attempts=5)

    delays = [policy.delay(n).total_seconds() for n in range(1, 7)]

    assert delays == [60, 120, 240, 480, 600, 600]
    assert not policy.exhausted(4)
    assert policy.exhausted(5)


def test_a_refused_refund_gets_a_new_provider_key_a_timeout_keeps_its_own() -> None:
    assert provider_key("R-ABC", 0) == "R-ABC"
    assert provider_key("R-ABC", 2) == "R-ABC.2"


def test_refund_promise_follows_the_terms() -> None:
    assert expected_by(NOW, 7) == NOW + timedelta(days=7)
