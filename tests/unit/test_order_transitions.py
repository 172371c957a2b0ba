from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from marque.domain.errors import InvalidTransition
from marque.domain.identity import SYSTEM, Actor, ActorKind
from marque.domain.orders import (
    TERMINAL,
    TRANSITIONS,
    OrderEvent,
    OrderStatus,
    allowed_events,
    transition,
)

NOW = datetime(2026, 6, 26, 14, 0, tzinfo=UTC)
BUYER = Actor(ActorKind.CUSTOMER, id="C-1")


@pytest.mark.parametrize(
    ("status", "event", "expected"),
    [
        (OrderStatus.PENDING_PAYMENT, OrderEvent.PAY, OrderStatus.RESERVED),
        (OrderStatus.PENDING_PAYMENT, OrderEvent.EXPIRE, OrderStatus.EXPIRED),
        (OrderStatus.RESERVED, OrderEvent.CHANGE_CONFIGURATION, OrderStatus.RESERVED),
        (OrderStatus.RESERVED, OrderEvent.LOCK, OrderStatus.LOCKED),
        (OrderStatus.RESERVED, OrderEvent.AUTO_LOCK, OrderStatus.LOCKED),
        (OrderStatus.LOCKED, OrderEvent.CANCEL, OrderStatus.CANCELLED),
        (OrderStatus.LOCKED, OrderEvent.ALLOCATE, OrderStatus.ALLOCATED),
        (OrderStatus.ALLOCATED, OrderEvent.PAY_BALANCE, OrderStatus.READY),
        (OrderStatus.READY, OrderEvent.HAND_OVER, OrderStatus.DELIVERED),
    ],
)
def test_allowed_transition_records_who_when_and_why(
    status: OrderStatus, event: OrderEvent, expected: OrderStatus
) -> None:
    change = transition(status, event, actor=BUYER, at=NOW, reason="buyer asked")
    assert change.to_status is expected
    assert change.from_status is status
    assert (change.actor, change.at, change.reason) == ("customer:C-1", NOW, "buyer asked")


def test_changing_configuration_after_the_lock_is_refused_with_the_allowed_events() -> None:
    with pytest.raises(InvalidTransition) as caught:
        transition(
            OrderStatus.LOCKED, OrderEvent.CHANGE_CONFIGURATION, actor=BUYER, at=NOW, reason=""
        )
    error = caught.value
    assert error.code == "order.invalid_transition"
    assert error.status == 409
    assert error.params["state"] == "locked"
    assert "allocate" in error.params["allowed"]
    assert "cancel" in error.params["allowed"]


def test_locking_an_unpaid_order_is_refused() -> None:
    with pytest.raises(InvalidTransition):
        transition(OrderStatus.PENDING_PAYMENT, OrderEvent.LOCK, actor=BUYER, at=NOW, reason="")


def test_terminal_states_allow_nothing() -> None:
    for status in TERMINAL:
        assert allowed_events(status) == []


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        transition(
            OrderStatus.RESERVED,
            OrderEvent.LOCK,
            actor=SYSTEM,
            at=datetime(2026, 1, 1),  # noqa: DTZ001 - the point of the test
            reason="",
        )


@given(st.lists(st.sampled_from(list(OrderEvent)), max_size=30))
def test_random_event_sequences_never_leave_the_table(events: list[OrderEvent]) -> None:
    status = OrderStatus.PENDING_PAYMENT
    reachable = {OrderStatus.PENDING_PAYMENT} | set(TRANSITIONS.values())
    for event in events:
        try:
            change = transition(status, event, actor=SYSTEM, at=NOW, reason="property")
        except InvalidTransition:
            assert (status, event) not in TRANSITIONS
            continue
        assert TRANSITIONS[(status, event)] is change.to_status
        status = change.to_status
        assert status in reachable
