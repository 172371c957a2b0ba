"""Back-pressure: a server process works on a bounded number of requests at once.

A plain ASGI middleware in front of the application. Up to ``max_in_flight`` requests run
at once; a few more wait for a slot, in lanes (``InFlightLimiter``: new work as many as
there are slots for ``max_wait_seconds``, returning requests up to eight per slot for
``ahead_wait_seconds``, the next steps of begun journeys up to eight per slot for their
turn), first come first served within a lane; every other request is answered at once with 503 problem+json ``overload.shed`` and
a ``Retry-After`` header. A shed request never reaches a route, so nothing is half-done:
the client may retry it, with the same Idempotency-Key, after ``Retry-After`` seconds.

Without this bound an overloaded process queues requests in its thread pool and its
database pool until they time out after the client gave up, which turns a surge into a
pile of 500s and half-finished retries. Sized to the database pool (the scarce resource
of a request), the bound keeps the queue short, so latency stays bounded for the requests
that are admitted and the excess is told early when to come back.

Two budgets when the launch's routes work on the event loop (``on_the_loop``): the loop's,
one request at a time by default, and the thread pool's, for the pages and the staff
console. A request is counted against the budget of where it will work, decided from its
route when it arrives (``blocking.LoopRoutes``), so a page rendering in the pool never makes
the loop's next request wait or be shed while the loop is free.

The probes, ``/metrics`` and ``/static/`` are never shed: an overloaded process is busy,
not dead, and its operators need to see it (and a buyer's waiting page, its stylesheet).
Payment webhooks are never shed either, but they do take a slot (on the event loop they
wait for one with the follow-ups, in the order of arrival, never timed out; in the thread
pool they run over the limit at once):
they finish work that was
admitted earlier (money the buyer has already paid), arrive no faster than those
reservations were admitted, and a provider that is told to retry backs off for seconds to
hours, so shedding them would turn a short overload into long "paid but not confirmed"
waits. The sandbox payment provider's pages and API are admitted
the same way: they stand in for the provider's own servers, which a real launch does not
share with marque, so marque's load must not decide whether a buyer can pay there (under a
3x overload a tenth of the admitted reservations went unpaid because their pay calls were
shed). Shed requests are counted in
``marque_http_requests_shed_total``; ``marque_http_requests_in_flight`` is the gauge.

The next step of a journey goes before a new one. A request about an order that exists
(poll, lock, cancel, read: ``/api/v1/orders/{id}...``, the order pages) waits in a queue of
its own that a freed slot serves first, for its turn however long (only as many wait as
``FOLLOW_UPS_WAITING_PER_SLOT`` allows, so the turn comes within a few requests' time);
while such steps wait, new work (a new reservation, a configuration, anything else) is
shed at once instead of waiting behind them. Under a 3x overload the old single queue shed a
buyer's payment or lock as readily as a newcomer's reservation: a third of the admitted
reservations were never paid (docs/benchmarks.md). Finishing the journeys already begun is
the goodput; turning newcomers away early is the back-pressure.

A shed request is told when to come back, and given a signed ticket that puts it ahead of
newcomers then (``waiting_room``): the crowd is served in the order it arrived, and most
of it hears "not now" once instead of every few seconds. Under a 3x overload a
``Retry-After`` of a few seconds had the excess retried over and over (about five 503s per
buyer who got in, each costing CPU that admitted requests needed), and who got in was luck
(docs/decisions.md). The next steps of begun journeys have a book of their own, with a
budget of the follow-ups a recent second started, so they come back within seconds, spread
out, rather than behind the newcomers' line.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from functools import partial
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge
from starlette.types import ASGIApp, Receive, Scope, Send

from marque.domain.errors import Unavailable
from marque.entrypoints.api.blocking import ON_THE_LOOP
from marque.entrypoints.api.cookies import cookie_values
from marque.entrypoints.api.waiting_room import (
    TICKET_COOKIE,
    TICKET_HEADER,
    TICKET_VALID_SECONDS,
    ReturnSchedule,
    Tickets,
    TicketState,
)
from marque.i18n import Translator
from marque.services.auth_tokens import SESSION_COOKIE

EXEMPT_PATHS: Final = frozenset({"/healthz", "/readyz", "/metrics"})
#: The pages' stylesheet and scripts: small files, and the waiting page needs them while
#: everything else is shed (a CDN serves them in production).
EXEMPT_PREFIXES: Final = ("/static/",)
#: Admitted even when full (they count as in flight): see the module's docstring.
PRIORITY_PREFIXES: Final = (
    "/api/v1/payments/webhooks/",
    # The sandbox payment provider stands in for a third party's servers, whose capacity is
    # not marque's to ration: a buyer's payment there is never refused for marque's load.
    "/api/v1/sandbox/payments/",
    "/sandbox/pay/",
)
#: Steps of a journey already begun: served first when they have to wait (module docstring).
FOLLOW_UP_PREFIXES: Final = ("/api/v1/orders/", "/orders/")
#: Under a follow-up prefix but the start of a new journey.
NEW_WORK_PATHS: Final = frozenset({"/orders/new"})
PROBLEM_JSON: Final = "application/problem+json"


class OverloadCode(StrEnum):
    SHED = "overload.shed"
    DATABASE_BUSY = "overload.database_busy"


class Lane(IntEnum):
    """Who goes first when a slot frees (lowest first)."""

    FOLLOW_UP = 0  # the next step of a journey already begun
    RETURN = 1  # new work coming back with a due waiting-room ticket
    NEW = 2  # everything else


#: How long a return (a due waiting-room ticket) may wait for a slot, and how many may
#: wait: as long as a newcomer. It was 40 ms (with the follow-ups, which then shared it):
#: returns that waited it out and were shed after all made the shed answers' p99 65-69 ms
#: at the client under a 3x overload; with 10 ms (and follow-ups waiting for their turn)
#: 31-37 ms, with 20 ms 42-48 (docs/benchmarks.md, twelfth session). More returns than
#: newcomers wait, because they arrive in bursts.
AHEAD_WAIT_SECONDS: Final = 0.01
RETURNS_WAITING_PER_SLOT: Final = 8
#: How many follow-ups may wait for their turn per slot: on the event loop a launch request
#: takes a few milliseconds, so eight are served within a few tens; with room for one, a
#: process with one slot shed a follow-up whenever two came at once (under an overload
#: 2,481-2,953 lock requests of paid orders were shed, with eight 288-341: docs/benchmarks.md,
#: eleventh session). Beyond the room a follow-up is shed at once.
FOLLOW_UPS_WAITING_PER_SLOT: Final = 8
#: How fast the mean time a slot is held follows each new request's (exponential smoothing).
HOLD_SMOOTHING: Final = 0.1


class InFlightLimiter:
    """At most ``limit`` holders; callers wait for a slot in three lanes (``Lane``).

    One per process and event loop. ``acquire`` is True when the caller got a slot (and
    must ``release`` it), False when it should be turned away. A released slot passes
    straight to the longest-waiting follow-up, else to the longest-waiting return, else to
    the longest-waiting newcomer, so nobody overtakes a queue. New work is turned away at
    once while anyone waits in a lane ahead of it (it could only wait behind them).
    Newcomers wait at most ``max_wait`` s, returns ``ahead_wait`` s, follow-ups for their
    turn however long; at most ``max_waiting`` newcomers, ``max_follow_ups_waiting``
    follow-ups and ``max_returns_waiting`` returns wait. A follow-up is never timed out:
    its lane goes first, so it waits for at most the few requests ahead of it in that lane,
    and a begun journey shed is delayed by a second or more. Timed out after 40 ms, 274-330
    lock requests of paid orders were shed in a 3x overload (527-1,394 after 10-20 ms) and
    shed answers took 65-69 ms p99 at the client; untimed, with returns waiting 10 ms,
    89-181 and 31-32 ms (docs/benchmarks.md, twelfth session).

    A caller who would wait in vain is turned away at once: from the mean time a slot is
    held (``release(held=...)``), the wait of the one behind everyone ahead of it in its
    lane and the lanes before it, and behind the priority work over the limit, is about
    ``(ahead + forced + 1) * mean_hold / limit``; when that is
    longer than it may wait, waiting would only delay its 503 (under an overload the
    server's log showed shed answers at 60-86 ms p95-p99, nearly all of it such waits).
    Not a follow-up, which waits for its turn (estimated for them too, 1.7 times as many
    locks and polls were shed under an overload).
    """

    def __init__(
        self,
        limit: int,
        *,
        max_waiting: int,
        max_wait: float,
        max_returns_waiting: int | None = None,
        max_follow_ups_waiting: int | None = None,
        ahead_wait: float = AHEAD_WAIT_SECONDS,
        priority_waits: bool = False,
    ) -> None:
        if limit < 1:
            raise ValueError("the in-flight limit must be at least 1")
        self.limit = limit
        self.max_waiting = max(0, max_waiting)
        self.max_wait = max(0.0, max_wait)
        self.max_returns_waiting = (
            limit * RETURNS_WAITING_PER_SLOT if max_returns_waiting is None else max_returns_waiting
        )
        self.max_follow_ups_waiting = (
            limit * FOLLOW_UPS_WAITING_PER_SLOT
            if max_follow_ups_waiting is None
            else max_follow_ups_waiting
        )
        self.ahead_wait = max(0.0, ahead_wait)
        self.in_flight = 0
        #: Seconds a slot is held, smoothed over the requests released; 0 until measured.
        self.mean_hold = 0.0
        #: Priority work waits for a slot with the follow-ups instead of running over the
        #: limit (``priority``).
        self.priority_waits = priority_waits
        self._lanes: tuple[deque[asyncio.Future[None]], ...] = tuple(deque() for _ in Lane)

    @property
    def waiting(self) -> int:
        return sum(1 for lane in self._lanes for w in lane if not w.done())

    async def acquire(self, lane: Lane = Lane.NEW) -> bool:
        ahead = any(self._lanes[earlier] for earlier in range(lane + 1))
        if self.in_flight < self.limit and not ahead:
            self.in_flight += 1
            return True
        if lane is Lane.NEW and (self._lanes[Lane.FOLLOW_UP] or self._lanes[Lane.RETURN]):
            return False  # it would only wait behind journeys begun or returns due
        queue = self._lanes[lane]
        wait: float | None
        if lane is Lane.NEW:
            wait, room = self.max_wait, self.max_waiting
        elif lane is Lane.RETURN:
            wait, room = self.ahead_wait, self.max_returns_waiting
        else:  # for its turn, however long: see the class's docstring
            wait, room = None, self.max_follow_ups_waiting
        if (wait is not None and wait <= 0) or len(queue) >= room:
            return False
        if wait is not None and self._would_wait_longer(lane, wait):
            return False
        return await self._wait_in(queue, wait)

    async def _wait_in(self, queue: deque[asyncio.Future[None]], wait: float | None) -> bool:
        """Wait in ``queue`` for a slot handed over by ``release``, at most ``wait`` s (None:
        for as long as it takes); True when one was."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queue.append(waiter)
        try:
            await asyncio.wait({waiter}, timeout=wait)
        except asyncio.CancelledError:
            self._give_up(queue, waiter)
            raise
        if waiter.done() and not waiter.cancelled():
            return True  # a slot was handed over to us
        self._give_up(queue, waiter)
        return False

    def force(self) -> None:
        """Take a slot even over the limit (priority work); ``release`` it as usual."""
        self.in_flight += 1

    async def priority(self) -> None:
        """A slot for priority work, never refused: over the limit at once, or, with
        ``priority_waits``, a place in the follow-ups' lane, in the order of arrival, that
        does not time out (a payment is the next step of a begun journey too; put before
        every lane, it made the follow-ups behind it wait out their time: 1.8 times as many
        were shed)."""
        if not self.priority_waits:
            self.force()
            return
        lane = self._lanes[Lane.FOLLOW_UP]
        if self.in_flight < self.limit and not lane:
            self.in_flight += 1
            return
        await self._wait_in(lane, None)

    def _would_wait_longer(self, lane: Lane, wait: float) -> bool:
        if self.mean_hold <= 0:
            return False
        ahead = sum(len(self._lanes[earlier]) for earlier in range(lane + 1))
        forced = max(0, self.in_flight - self.limit)  # priority work over the limit runs too
        return (ahead + forced + 1) * self.mean_hold / self.limit > wait

    def release(self, held: float | None = None) -> None:
        """Give the slot back (to the next waiter, if any); ``held``: for how long, in
        seconds, which the estimate of waits learns from."""
        if held is not None and held >= 0:
            if self.mean_hold <= 0:
                self.mean_hold = held
            else:
                self.mean_hold += HOLD_SMOOTHING * (held - self.mean_hold)
        if self.in_flight > self.limit:  # a forced slot: nothing to hand over
            self.in_flight -= 1
            return
        for queue in self._lanes:
            while queue:
                waiter = queue.popleft()
                if not waiter.done():
                    waiter.set_result(None)  # the slot passes on; in_flight stays the same
                    return
        self.in_flight -= 1

    def _give_up(self, queue: deque[asyncio.Future[None]], waiter: asyncio.Future[None]) -> None:
        if waiter.done() and not waiter.cancelled():
            self.release()  # handed over just as we stopped waiting: pass it on
            return
        waiter.cancel()
        with contextlib.suppress(ValueError):
            queue.remove(waiter)


class BackpressureMiddleware:
    """Admits requests through an ``InFlightLimiter``; sheds the rest with 503, each with
    the second to come back in and a ticket for it (``waiting_room``)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_in_flight: int,
        max_wait_seconds: float,
        retry_after_seconds: int,
        ahead_wait_seconds: float = AHEAD_WAIT_SECONDS,
        follow_ups_waiting_per_slot: int = FOLLOW_UPS_WAITING_PER_SLOT,
        default_locale: str,
        ticket_secret: str,
        retry_after_max_seconds: int | None = None,
        waiting_page: Callable[[str, int], bytes] | None = None,
        cookie_secure: bool = False,
        registry: CollectorRegistry | None = None,
        on_the_loop: Callable[[str, str], bool] | None = None,
        max_in_flight_in_pool: int | None = None,
        exempt_paths: frozenset[str] = EXEMPT_PATHS,
        priority_prefixes: tuple[str, ...] = PRIORITY_PREFIXES,
        follow_up_prefixes: tuple[str, ...] = FOLLOW_UP_PREFIXES,
    ) -> None:
        self.app = app
        self.limiter = InFlightLimiter(
            max_in_flight,
            max_waiting=max_in_flight,
            max_wait=max_wait_seconds,
            ahead_wait=ahead_wait_seconds,
            max_follow_ups_waiting=max_in_flight * follow_ups_waiting_per_slot,
            # On the loop, "over the limit" is not at the same time, only sooner: a payment
            # that jumps in lengthens the turn that a shed answer waits behind.
            priority_waits=on_the_loop is not None,
        )
        #: Which requests work on the event loop (``blocking.LoopRoutes``); None: all work
        #: in the thread pool, under ``limiter`` alone.
        self.on_the_loop = on_the_loop
        pool_limit = max_in_flight_in_pool or DEFAULT_MAX_IN_FLIGHT
        #: The thread pool's budget when the loop has its own (``limiter``).
        self.pool_limiter = InFlightLimiter(
            pool_limit,
            max_waiting=pool_limit,
            max_wait=max_wait_seconds,
            ahead_wait=ahead_wait_seconds,
            max_follow_ups_waiting=pool_limit * follow_ups_waiting_per_slot,
        )
        base = max(1, int(retry_after_seconds))
        self.schedule = ReturnSchedule(base, retry_after_max_seconds or base)
        #: The next steps of begun journeys have a book of their own, not behind the line.
        self.follow_ups = ReturnSchedule(base, retry_after_max_seconds or base)
        self.tickets = Tickets(ticket_secret)
        self.waiting_page = waiting_page
        self.cookie_secure = cookie_secure
        self.default_locale = default_locale
        self.exempt_paths = exempt_paths
        self.priority_prefixes = priority_prefixes
        self.follow_up_prefixes = follow_up_prefixes
        self.shed = Counter(
            "marque_http_requests_shed",
            "Requests answered 503 overload.shed without being run",
            ["method"],
            registry=registry,
        )
        in_flight = Gauge(
            "marque_http_requests_in_flight",
            "Requests this process is working on now (probes and metrics not counted)",
            registry=registry,
        )
        in_flight.set_function(lambda: self.limiter.in_flight + self.pool_limiter.in_flight)
        mean_hold = Gauge(
            "marque_http_slot_mean_hold_seconds",
            "How long a request holds its slot, smoothed; a request that would wait longer "
            "than it may for a slot is shed at once",
            ["budget"],
            registry=registry,
        )
        mean_hold.labels("loop" if on_the_loop else "all").set_function(
            lambda: self.limiter.mean_hold
        )
        if on_the_loop:
            mean_hold.labels("pool").set_function(lambda: self.pool_limiter.mean_hold)
        booked = Gauge(
            "marque_waiting_room_booked",
            "Shed requests this process has told to come back in a second still to come, by "
            "line: new work, or the next steps of begun journeys",
            ["line"],
            registry=registry,
        )
        budget = Gauge(
            "marque_waiting_room_budget",
            "Returns this process books into one second of a line: what a recent second "
            "started of it",
            ["line"],
            registry=registry,
        )
        for line, book in (("new", self.schedule), ("follow_up", self.follow_ups)):
            booked.labels(line).set_function(partial(_booked_ahead, book))
            budget.labels(line).set_function(partial(_budget, book))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not path or path in self.exempt_paths or path.startswith(EXEMPT_PREFIXES):
            await self.app(scope, receive, send)
            return
        on_loop = self.on_the_loop is not None and self.on_the_loop(scope["method"], path)
        limiter = self.limiter if on_loop or self.on_the_loop is None else self.pool_limiter
        if path.startswith(self.priority_prefixes):
            await limiter.priority()
        elif not await self._admit(limiter, scope, path, send):
            return
        placed = ON_THE_LOOP.set(on_loop)
        started = time.monotonic()
        try:
            await self.app(scope, receive, send)
        finally:
            ON_THE_LOOP.reset(placed)
            limiter.release(held=time.monotonic() - started)

    async def _admit(self, limiter: InFlightLimiter, scope: Scope, path: str, send: Send) -> bool:
        """A slot for the request (True), or its 503 sent with the second to come back in."""
        caller = _Caller.of(scope)
        state, due = self.tickets.check(caller.ticket, caller.holder)
        follow_up = self._follows_up(path)
        if follow_up:
            lane = Lane.FOLLOW_UP
        else:
            lane = Lane.RETURN if state is TicketState.DUE else Lane.NEW
        # Not booked behind the newcomers' line: a 3x overload told polls and locks of paid
        # orders to come back minutes later; nor all after the least wait: that turned them
        # into a storm of retries that crowded out the returns (docs/decisions.md).
        book = self.follow_ups if follow_up else self.schedule
        if await limiter.acquire(lane):
            book.started()
            return True
        self.shed.labels(scope.get("method", "")).inc()
        ticket = caller.ticket or ""
        if state is not TicketState.EARLY:  # too early: the same second and ticket again
            due = book.book(front=state is TicketState.DUE)
            ticket = self.tickets.issue(due, caller.holder)
        retry_after = book.retry_after(due)
        scope.setdefault("state", {})["retry_after"] = retry_after  # for the access log
        if caller.wants_page and self.waiting_page is not None:
            await self._send_waiting_page(scope, send, retry_after, ticket)
        else:
            await self._send_shed(scope, send, retry_after, ticket)
        return False

    def _follows_up(self, path: str) -> bool:
        return path.startswith(self.follow_up_prefixes) and path not in NEW_WORK_PATHS

    def _translator(self, scope: Scope) -> Translator:
        translator = (scope.get("state") or {}).get("translator")
        return translator if isinstance(translator, Translator) else Translator(self.default_locale)

    async def _send_shed(self, scope: Scope, send: Send, retry_after: int, ticket: str) -> None:
        """An API caller's shed answer: problem+json, the ticket in a header and the body."""
        _ = self._translator(scope)
        busy = Unavailable(retry_after=retry_after, code=OverloadCode.SHED)
        body: dict[str, object] = {
            "type": f"https://marque.dev/problems/{busy.code}",
            "title": _(busy.title),
            "status": busy.status,
            "detail": _(busy.message, **busy.params),
            "code": busy.code,
            "instance": scope.get("path", ""),
            "params": {"retry_after": retry_after, "ticket": ticket},
        }
        request_id = (scope.get("state") or {}).get("request_id")
        if request_id:
            body["request_id"] = request_id
        content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        ticket_header = (TICKET_HEADER.encode(), ticket.encode())
        await _send_503(send, PROBLEM_JSON, content, retry_after, _.locale, ticket_header)

    async def _send_waiting_page(
        self, scope: Scope, send: Send, retry_after: int, ticket: str
    ) -> None:
        """A browser's shed answer: the page says it is in line and asks again when its
        ticket is due; the ticket goes in a cookie, since a page cannot send a header."""
        assert self.waiting_page is not None
        locale = self._translator(scope).locale
        content = self.waiting_page(locale, retry_after)
        cookie = (
            f"{TICKET_COOKIE}={ticket}; Max-Age={retry_after + TICKET_VALID_SECONDS}; "
            "Path=/; HttpOnly; SameSite=Lax" + ("; Secure" if self.cookie_secure else "")
        )
        ticket_cookie = (b"set-cookie", cookie.encode("latin-1"))
        await _send_503(
            send, "text/html; charset=utf-8", content, retry_after, locale, ticket_cookie
        )


def _booked_ahead(book: ReturnSchedule) -> int:
    return book.booked_ahead


def _budget(book: ReturnSchedule) -> int:
    return book.budget


async def _send_503(
    send: Send,
    content_type: str,
    content: bytes,
    retry_after: int,
    locale: str,
    ticket: tuple[bytes, bytes],
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 503,
            "headers": [
                (b"content-type", content_type.encode()),
                (b"content-length", str(len(content)).encode()),
                (b"retry-after", str(retry_after).encode()),
                ticket,
                (b"cache-control", b"no-store"),
                (b"content-language", locale.encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": content})


@dataclass(frozen=True)
class _Caller:
    """Who is asking (their credentials, to bind a ticket to), the ticket they show (the
    header, else the cookie) and whether they are a browser on the pages."""

    holder: bytes
    ticket: str | None
    wants_page: bool

    @classmethod
    def of(cls, scope: Scope) -> _Caller:
        authorization = cookie = accept = b""
        ticket: str | None = None
        for name, value in scope.get("headers", ()):
            if name == b"authorization":
                authorization = value
            elif name == b"cookie":
                cookie = value
            elif name == b"accept":
                accept = value
            elif name == _TICKET_HEADER_BYTES:
                ticket = value.decode("latin-1")
        session = b""
        if cookie:
            found = cookie_values(cookie.decode("latin-1"), _COOKIES)
            if SESSION_COOKIE in found:
                session = b"session=" + found[SESSION_COOKIE].encode("latin-1")
            if ticket is None:
                ticket = found.get(TICKET_COOKIE)
        wants_page = b"text/html" in accept and not scope.get("path", "").startswith("/api/")
        return cls(authorization or session, ticket, wants_page)


_TICKET_HEADER_BYTES: Final = TICKET_HEADER.encode()
_COOKIES: Final = frozenset({SESSION_COOKIE, TICKET_COOKIE})


#: Requests one process works on at once by default (measured, docs/decisions.md).
DEFAULT_MAX_IN_FLIGHT: Final = 4
#: The event loop's budget when the launch's routes work there (``MARQUE_ROUTES_ON_EVENT_LOOP``).
ON_THE_LOOP_MAX_IN_FLIGHT: Final = 1


def default_max_in_flight(db_pool_size: int, *, routes_on_event_loop: bool = False) -> int:
    """The budget of the launch's routes: one request at a time when they work on the event
    loop; else four, never more than the database pool keeps open. (The thread pool's
    budget, with the routes on the loop, is the second: ``routes_on_event_loop=False``.)

    On the loop a process works on one launch request at a time whatever the limit: a
    higher one only queues admitted requests inside the process, where each turn of the
    loop works through all of them before it reads and sheds what came in meanwhile.
    Measured under a 3x overload (2 workers, 2 cores; docs/decisions.md): limits 4 / 2 / 1
    carried 35.1 / 38.0 / 40.0 paid reservations/s and answered shed requests in 450 / 341
    / 178 ms p99. The pages and the staff console work in the thread pool under a budget of
    their own (``BackpressureMiddleware``'s ``on_the_loop``), so a page that renders does
    not hold the loop's one slot (with one budget for both, a second page request waited
    its 10 ms and was shed on an idle server).

    In the thread pool a process's requests share one GIL: four keep its core busy through
    their database waits, and more only queue inside the process, where the event loop that
    answers shed requests competes with them. Measured on the launch benchmark (2 workers, 2 cores), 4
    against 10 gave the same capacity, a third of the webhook's p99, shed answers in 50 ms
    p99 instead of 156, and 95% goodput under a 3x overload instead of 83%. A request holds
    one connection at a time, so the bound never exceeds the pool (the overflow stays for
    the in-process jobs and short bursts)."""
    wanted = ON_THE_LOOP_MAX_IN_FLIGHT if routes_on_event_loop else DEFAULT_MAX_IN_FLIGHT
    return max(1, min(wanted, db_pool_size))


__all__ = [
    "DEFAULT_MAX_IN_FLIGHT",
    "ON_THE_LOOP_MAX_IN_FLIGHT",
    "EXEMPT_PATHS",
    "EXEMPT_PREFIXES",
    "FOLLOW_UP_PREFIXES",
    "PRIORITY_PREFIXES",
    "BackpressureMiddleware",
    "InFlightLimiter",
    "Lane",
    "OverloadCode",
    "default_max_in_flight",
]
