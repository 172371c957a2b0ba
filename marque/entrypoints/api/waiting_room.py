"""A fair waiting room for shed requests: each is told when to come back, and a signed
ticket puts it ahead of newcomers when it does.

Under an overload most requests must be turned away; what matters is who gets in next.
Without a plan, every shed client comes back after the same few seconds, most are shed
again (under a 3x overload about five times each), and who gets in is luck: the server
spends its time saying "not now" and a buyer who came first may be served last.

Here each shed request is *booked* into a future second that still has room: a second
holds as many returns as this process started new work in a recent second (``budget``).
Its ``Retry-After`` is the wait until that second, and its ticket
(``Marque-Retry-Ticket``) names the second, signed with the server's key and bound to the
caller's credentials. A request that comes back with a ticket that is due waits for a slot
in a lane of its own, after the next steps of begun journeys and ahead of newcomers, who
are shed while it waits (``InFlightLimiter``); so the crowd is served in the order it
arrived, most of it after one 503. A ticket holder shed again anyway is booked into the
first second from now, over the budget: it keeps its place at the front. Booking never
looks further than ``horizon`` seconds ahead; past it, returns are overbooked at the
horizon. The middleware keeps two books: one for new work, one for the next steps of
begun journeys, which so come back after their own kind, not behind the newcomers.

Each server process keeps its own book; a ticket is honoured by any process of the same
key, and the kernel spreads the returns over the processes about as evenly as the
arrivals, so each book holds its share. Nothing here is stored: a restarted process starts
with an empty book and still honours the tickets it signed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable
from enum import Enum
from typing import Final

TICKET_HEADER: Final = "marque-retry-ticket"
#: Where a browser keeps its ticket (the pages cannot send a header).
TICKET_COOKIE: Final = "marque_retry_ticket"
#: How long after its second a ticket still puts its holder ahead.
TICKET_VALID_SECONDS: Final = 60
#: A ticket shown this many seconds before its second is honoured already.
EARLY_GRACE_SECONDS: Final = 1
_MAC_BYTES: Final = 12


class TicketState(Enum):
    NONE = "none"  # no ticket, or not one of ours, or for another caller, or expired
    EARLY = "early"
    DUE = "due"


class ReturnSchedule:
    """Which future second each shed request should come back in (module docstring).

    ``clock`` is wall-clock seconds: the seconds are written into tickets that other
    processes read."""

    def __init__(self, base: int, horizon: int, clock: Callable[[], float] = time.time) -> None:
        self.base = max(1, base)
        self.horizon = max(self.base, horizon)
        self.clock = clock
        self._second = int(clock())
        self._started = 0  # new work (or ticketed returns) started in the current second
        self._budget = 1.0  # returns a second can take: a moving average of ``_started``
        self._booked: dict[int, int] = {}
        self._frontier = 0  # no second before it has room (a hint, reset when it is past)

    def now(self) -> int:
        self._roll()
        return self._second

    @property
    def budget(self) -> int:
        self._roll()
        return max(1, round(self._budget))

    def started(self) -> None:
        """Count a request that started new work (not the next step of a begun journey)."""
        self._roll()
        self._started += 1

    def book(self, *, front: bool = False) -> int:
        """Book a return; the second it is due. ``front``: a ticket holder shed again, who
        gets the first second from now whatever is booked there."""
        now = self.now()
        first = now + self.base
        if front:
            due = first
        else:
            budget = self.budget
            due = max(first, self._frontier)
            last = now + self.horizon
            while due < last and self._booked.get(due, 0) >= budget:
                due += 1
            self._frontier = due
        self._booked[due] = self._booked.get(due, 0) + 1
        return due

    def retry_after(self, due: int) -> int:
        """Seconds from now until ``due``, at least the base."""
        return max(self.base, due - self.now())

    @property
    def booked_ahead(self) -> int:
        now = self.now()
        return sum(count for second, count in self._booked.items() if second >= now)

    def _roll(self) -> None:
        second = int(self.clock())
        if second <= self._second:
            return
        # Each second that passed ends with what started in it (none after the first).
        for passed in range(min(second - self._second, 10)):
            started = self._started if passed == 0 else 0
            self._budget = (self._budget + started) / 2
        self._second, self._started = second, 0
        for stale in [s for s in self._booked if s < second]:
            del self._booked[stale]
        if self._frontier < second:
            self._frontier = 0


class Tickets:
    """Signs and checks ``<second>.<mac>`` tickets; the mac binds the second to the caller's
    credentials (the Authorization header or the session cookie), so a ticket cannot be
    handed around or forged."""

    def __init__(self, secret: str, clock: Callable[[], float] = time.time) -> None:
        self._key = hashlib.sha256(b"marque.retry-ticket\x00" + secret.encode()).digest()
        self.clock = clock

    def issue(self, due: int, holder: bytes) -> str:
        return f"{due}.{self._mac(due, holder)}"

    def check(self, ticket: str | None, holder: bytes) -> tuple[TicketState, int]:
        """The ticket's state and its second (0 when there is none)."""
        if not ticket:
            return TicketState.NONE, 0
        second, _, mac = ticket.partition(".")
        if not second.isdigit() or len(second) > 12:
            return TicketState.NONE, 0
        due = int(second)
        if not hmac.compare_digest(mac, self._mac(due, holder)):
            return TicketState.NONE, 0
        now = int(self.clock())
        if now < due - EARLY_GRACE_SECONDS:
            return TicketState.EARLY, due
        if now > due + TICKET_VALID_SECONDS:
            return TicketState.NONE, 0
        return TicketState.DUE, due

    def _mac(self, due: int, holder: bytes) -> str:
        digest = hmac.new(self._key, str(due).encode() + b"\x00" + holder, "sha256").digest()
        return base64.urlsafe_b64encode(digest[:_MAC_BYTES]).decode().rstrip("=")


__all__ = [
    "EARLY_GRACE_SECONDS",
    "TICKET_COOKIE",
    "TICKET_HEADER",
    "TICKET_VALID_SECONDS",
    "ReturnSchedule",
    "TicketState",
    "Tickets",
]
