"""The waiting room's book and tickets: when a shed request is told to come back, and
which tickets put their holder ahead of newcomers."""

from __future__ import annotations

import pytest

from marque.entrypoints.api.waiting_room import (
    TICKET_VALID_SECONDS,
    ReturnSchedule,
    Tickets,
    TicketState,
)


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def schedule_that_started(per_second: int, seconds: int, clock: Clock) -> ReturnSchedule:
    schedule = ReturnSchedule(1, 300, clock)
    for _ in range(seconds):
        for _ in range(per_second):
            schedule.started()
        clock.now += 1
    return schedule


def test_a_second_takes_as_many_returns_as_a_recent_second_started_new_work() -> None:
    clock = Clock()
    schedule = schedule_that_started(4, 8, clock)
    now = schedule.now()
    assert schedule.budget == 4

    dues = [schedule.book() for _ in range(10)]

    assert dues == [now + 1] * 4 + [now + 2] * 4 + [now + 3] * 2
    assert [schedule.retry_after(due) for due in (dues[0], dues[4], dues[9])] == [1, 2, 3]
    assert schedule.booked_ahead == 10


def test_the_budget_follows_what_the_last_seconds_started_and_is_never_zero() -> None:
    clock = Clock()
    schedule = schedule_that_started(10, 6, clock)
    assert schedule.budget == 10
    clock.now += 1  # a second that started nothing halves the average
    assert schedule.budget == 5
    clock.now += 20
    assert schedule.budget == 1


def test_a_ticket_holder_shed_again_keeps_its_place_at_the_front() -> None:
    clock = Clock()
    schedule = schedule_that_started(2, 8, clock)
    now = schedule.now()
    assert [schedule.book() for _ in range(6)] == [now + 1] * 2 + [now + 2] * 2 + [now + 3] * 2

    assert schedule.book(front=True) == now + 1, "over the budget, but first"
    assert schedule.book() == now + 4


def test_past_the_horizon_returns_are_overbooked_at_the_horizon() -> None:
    clock = Clock()
    schedule = ReturnSchedule(2, 5, clock)  # budget 1: nothing started yet
    now = schedule.now()

    dues = [schedule.book() for _ in range(6)]

    assert dues == [now + 2, now + 3, now + 4, now + 5, now + 5, now + 5]
    assert schedule.retry_after(dues[-1]) == 5


def test_seconds_gone_by_leave_the_book() -> None:
    clock = Clock()
    schedule = ReturnSchedule(1, 60, clock)
    schedule.book()
    schedule.book()
    assert schedule.booked_ahead == 2
    clock.now += 3
    assert schedule.booked_ahead == 0
    assert schedule.book() == schedule.now() + 1, "the book starts again from now"


def test_a_ticket_is_due_from_just_before_its_second_until_it_expires() -> None:
    clock = Clock()
    tickets = Tickets("a secret of the server", clock)
    due = int(clock.now) + 30
    ticket = tickets.issue(due, b"Bearer buyer-1")

    assert tickets.check(ticket, b"Bearer buyer-1") == (TicketState.EARLY, due)
    clock.now = due - 1
    assert tickets.check(ticket, b"Bearer buyer-1") == (TicketState.DUE, due)
    clock.now = due + TICKET_VALID_SECONDS
    assert tickets.check(ticket, b"Bearer buyer-1") == (TicketState.DUE, due)
    clock.now += 1
    assert tickets.check(ticket, b"Bearer buyer-1") == (TicketState.NONE, 0)


@pytest.mark.parametrize(
    "shown",
    [
        None,
        "",
        "garbage",
        "1000030.",
        "1000030.AAAAAAAAAAAAAAAA",  # a forged mac
        "x1000030.abc",
        "99999999999999.abc",
    ],
)
def test_anything_but_a_ticket_signed_for_this_caller_is_no_ticket(shown: str | None) -> None:
    tickets = Tickets("a secret of the server", Clock())
    assert tickets.check(shown, b"Bearer buyer-1") == (TicketState.NONE, 0)


def test_a_ticket_is_bound_to_its_caller_and_to_the_server_key() -> None:
    clock = Clock()
    tickets = Tickets("a secret of the server", clock)
    ticket = tickets.issue(int(clock.now), b"Bearer buyer-1")

    assert tickets.check(ticket, b"Bearer buyer-1")[0] is TicketState.DUE
    assert tickets.check(ticket, b"Bearer buyer-2")[0] is TicketState.NONE
    assert Tickets("another key", clock).check(ticket, b"Bearer buyer-1")[0] is TicketState.NONE
    later = ticket.replace(str(int(clock.now)), str(int(clock.now) + 1), 1)
    assert tickets.check(later, b"Bearer buyer-1")[0] is TicketState.NONE
