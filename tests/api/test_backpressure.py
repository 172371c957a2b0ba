"""Back-pressure: over its in-flight limit a process answers 503 ``overload.shed`` with
Retry-After at once and never starts the route; an exhausted database pool is a 503 too.

The overload is made deterministic rather than timed: the middleware is driven directly
with an ASGI app whose handler blocks on an Event the test controls, and the real server is
held full by a request whose body the test has not finished sending.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import conftest
import httpx
import pytest
from conftest import Database, LiveServer, only_slot_held
from prometheus_client import CollectorRegistry
from sqlalchemy import create_engine

from marque.bootstrap import bootstrap
from marque.entrypoints.api.app import create_app
from marque.entrypoints.api.backpressure import (
    BackpressureMiddleware,
    InFlightLimiter,
    Lane,
    default_max_in_flight,
)
from marque.entrypoints.api.blocking import ON_THE_LOOP
from marque.entrypoints.api.waiting_room import (
    TICKET_COOKIE,
    TICKET_HEADER,
    ReturnSchedule,
    Tickets,
    TicketState,
)
from marque.entrypoints.web.rendering import build_environment
from marque.entrypoints.web.waiting_page import WaitingPage
from marque.i18n import Translator

PROBLEM_JSON = "application/problem+json"
SECRET = "the server's key"
BUYER = b"Bearer buyer-1"

Message = dict[str, Any]


class BlockingApp:
    """An ASGI app whose every request waits for ``release`` before answering 200; it notes
    whether each request was placed on the event loop (``blocking.ON_THE_LOOP``)."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.started: list[str] = []
        self.placed: dict[str, bool] = {}

    async def __call__(
        self,
        scope: Message,
        receive: Callable[[], Awaitable[Message]],
        send: Callable[[Message], Awaitable[None]],
    ) -> None:
        self.started.append(scope["path"])
        self.placed[scope["path"]] = ON_THE_LOOP.get()
        if scope["path"] not in ("/healthz", "/metrics", "/static/site.css"):
            await self.release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"done"})


class Answer:
    def __init__(self) -> None:
        self.status: int | None = None
        self.headers: dict[str, str] = {}
        self.body = b""

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.headers = {k.decode(): v.decode() for k, v in message["headers"]}
        else:
            self.body += message.get("body", b"")

    def problem(self) -> dict[str, Any]:
        assert self.headers["content-type"] == PROBLEM_JSON
        body: dict[str, Any] = json.loads(self.body)
        return body


def middleware(
    app: BlockingApp,
    *,
    limit: int,
    wait: float,
    registry: CollectorRegistry | None = None,
    follow_ups_waiting: int = 0,
) -> BackpressureMiddleware:
    """``follow_ups_waiting`` per slot: none by default, so that a follow-up is shed at once
    (a waiting one is never timed out)."""
    return BackpressureMiddleware(
        app,  # type: ignore[arg-type]
        max_in_flight=limit,
        max_wait_seconds=wait,
        follow_ups_waiting_per_slot=follow_ups_waiting,
        retry_after_seconds=3,
        default_locale="en",
        ticket_secret=SECRET,
        registry=registry or CollectorRegistry(),
    )


async def request(
    asgi: BackpressureMiddleware,
    path: str = "/api/v1/orders",
    *,
    locale: str = "en",
    ticket: str | None = None,
    browser: bool = False,
) -> Answer:
    """A buyer's request: from the app (bearer token, ticket in a header) or from a browser
    on the pages (session cookie, ticket in a cookie)."""
    answer = Answer()
    if browser:
        cookie = b"marque_session=s-1" + (f"; {TICKET_COOKIE}={ticket}".encode() if ticket else b"")
        headers = [(b"accept", b"text/html,*/*;q=0.8"), (b"cookie", cookie)]
    else:
        headers = [(b"authorization", BUYER)]
        if ticket is not None:
            headers.append((TICKET_HEADER.encode(), ticket.encode()))
    scope = {
        "type": "http",
        "method": "POST",
        "path": path,
        "headers": headers,
        "state": {"translator": Translator(locale), "request_id": "req-1"},
    }

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    await asgi(scope, receive, answer.send)  # type: ignore[arg-type]
    return answer


async def settle(condition: Callable[[], bool]) -> None:
    """Let the other tasks run until ``condition`` holds (a bounded number of loop turns)."""
    for _ in range(1000):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("the event loop never reached the expected state")


def test_over_the_limit_a_request_is_shed_with_503_and_retry_after_and_never_started() -> None:
    async def scenario() -> None:
        app = BlockingApp()
        registry = CollectorRegistry()
        asgi = middleware(app, limit=2, wait=0, registry=registry)
        running = [asyncio.create_task(request(asgi)) for _ in range(2)]
        await settle(lambda: len(app.started) == 2)

        shed = await request(asgi, locale="zh-CN")

        assert shed.status == 503
        assert shed.headers["retry-after"] == "3"
        problem = shed.problem()
        assert problem["code"] == "overload.shed"
        assert problem["status"] == 503
        assert problem["request_id"] == "req-1"
        assert "3 秒" in problem["detail"]
        assert shed.headers["content-language"] == "zh-CN"
        assert len(app.started) == 2, "a shed request must never reach the application"
        assert registry.get_sample_value("marque_http_requests_shed_total", {"method": "POST"}) == 1
        assert registry.get_sample_value("marque_http_requests_in_flight") == 2

        app.release.set()
        assert [answer.status for answer in await asyncio.gather(*running)] == [200, 200]
        assert (await request(asgi)).status == 200
        assert asgi.limiter.in_flight == 0

    asyncio.run(scenario())


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def clocked(asgi: BackpressureMiddleware, clock: Clock, *, base: int = 3) -> None:
    asgi.schedule = ReturnSchedule(base, 300, clock)
    asgi.follow_ups = ReturnSchedule(base, 300, clock)
    asgi.tickets = Tickets(SECRET, clock)


async def full(asgi: BackpressureMiddleware, app: BlockingApp) -> asyncio.Task[Answer]:
    """Fill the one slot of ``asgi``; the task that holds it."""
    running = asyncio.create_task(request(asgi, "/api/v1/orders"))
    await settle(lambda: len(app.started) == 1)
    return running


async def one_full_slot(
    *, base: int = 3
) -> tuple[BlockingApp, BackpressureMiddleware, Clock, asyncio.Task[Answer]]:
    """A one-slot middleware on a test clock, its slot held: the app, the middleware, the
    clock and the task that holds the slot."""
    app = BlockingApp()
    asgi = middleware(app, limit=1, wait=0)
    clock = Clock()
    clocked(asgi, clock, base=base)
    return app, asgi, clock, await full(asgi, app)


def test_a_shed_answer_tells_when_to_come_back_with_a_ticket_for_that_second() -> None:
    async def scenario() -> None:
        app = BlockingApp()
        asgi = middleware(app, limit=1, wait=0)
        clock = Clock()
        clocked(asgi, clock)
        for _ in range(2):  # two seconds that each started two reservations
            for _ in range(2):
                asgi.schedule.started()
            clock.now += 1
        running = await full(asgi, app)

        answers = [await request(asgi) for _ in range(3)]

        assert [a.headers["retry-after"] for a in answers] == ["3", "3", "4"]
        for answer in answers:
            ticket = answer.headers[TICKET_HEADER]
            assert answer.problem()["params"] == {
                "retry_after": int(answer.headers["retry-after"]),
                "ticket": ticket,
            }
            due = int(clock.now) + int(answer.headers["retry-after"])
            assert asgi.tickets.check(ticket, BUYER) == (TicketState.EARLY, due)
        app.release.set()
        await running

    asyncio.run(scenario())


async def newcomer_then_return(
    asgi: BackpressureMiddleware,
    app: BlockingApp,
    running: asyncio.Task[Answer],
    returning: Awaitable[Answer],
    meanwhile: Callable[[], Awaitable[None]] | None = None,
) -> list[str]:
    """While ``running`` holds the only slot, a newcomer queues, then ``returning`` (a
    request with a due ticket); then the slot frees. What the app started, in order."""
    newcomer = asyncio.create_task(request(asgi, "/api/v1/configurations"))
    await settle(lambda: asgi.limiter.waiting == 1)
    returned = asyncio.ensure_future(returning)
    await settle(lambda: asgi.limiter.waiting == 2)
    if meanwhile is not None:
        await meanwhile()
    app.release.set()
    answers = await asyncio.gather(running, newcomer, returned)
    assert [answer.status for answer in answers] == [200, 200, 200]
    return app.started


def test_a_due_ticket_is_served_before_newcomers_that_waited_longer() -> None:
    async def scenario() -> None:
        app = BlockingApp()
        asgi = middleware(app, limit=1, wait=3600)
        clock = Clock()
        clocked(asgi, clock)
        shed_earlier = asgi.tickets.issue(int(clock.now), BUYER)
        running = await full(asgi, app)

        async def meanwhile() -> None:
            later = await request(asgi, "/api/v1/configurations")  # while a return waits
            assert later.status == 503

        started = await newcomer_then_return(
            asgi, app, running, request(asgi, "/api/v1/orders", ticket=shed_earlier), meanwhile
        )

        assert started == ["/api/v1/orders", "/api/v1/orders", "/api/v1/configurations"]

    asyncio.run(scenario())


def test_a_ticket_shown_too_soon_gets_the_same_second_and_ticket_again() -> None:
    async def scenario() -> None:
        app, asgi, clock, running = await one_full_slot()
        ticket = (await request(asgi)).headers[TICKET_HEADER]
        clock.now += 1  # comes back after 1 s of the 3 it was told

        again = await request(asgi, ticket=ticket)

        assert again.status == 503
        assert again.headers["retry-after"] == "3", "never less than the base"
        assert again.headers[TICKET_HEADER] == ticket
        assert asgi.schedule.booked_ahead == 1, "not booked twice"
        app.release.set()
        await running

    asyncio.run(scenario())


def test_a_due_ticket_holder_shed_again_goes_first_in_the_next_second() -> None:
    async def scenario() -> None:
        app, asgi, clock, running = await one_full_slot(base=1)
        ticket = (await request(asgi)).headers[TICKET_HEADER]
        for _ in range(3):
            await request(asgi)  # newcomers booked after it: budget 1, seconds +2, +3, +4
        clock.now += 1

        again = await request(asgi, ticket=ticket)
        newcomer = await request(asgi)

        assert again.headers["retry-after"] == "1"
        assert newcomer.headers["retry-after"] == "4"
        app.release.set()
        await running

    asyncio.run(scenario())


def test_shed_steps_of_begun_journeys_are_booked_in_a_line_of_their_own_not_behind_newcomers() -> (
    None
):
    async def scenario() -> None:
        app, asgi, clock, running = await one_full_slot(base=1)
        newcomers = [await request(asgi) for _ in range(5)]  # budget 1: seconds +1 to +5
        booked = asgi.schedule.booked_ahead

        locks = [await request(asgi, f"/api/v1/orders/ord-{n}/lock") for n in range(3)]

        assert [a.headers["retry-after"] for a in newcomers] == ["1", "2", "3", "4", "5"]
        assert [a.status for a in locks] == [503, 503, 503]
        assert [a.headers["retry-after"] for a in locks] == ["1", "2", "3"], "spread, own line"
        assert asgi.schedule.booked_ahead == booked, "no newcomer is pushed back by them"
        assert asgi.follow_ups.booked_ahead == 3
        clock.now += 3
        again = await request(
            asgi, "/api/v1/orders/ord-2/lock", ticket=locks[2].headers[TICKET_HEADER]
        )
        assert again.headers["retry-after"] == "1", "due and shed again: first in the next second"
        assert app.started == ["/api/v1/orders"]
        app.release.set()
        await running

    asyncio.run(scenario())


def test_a_browser_is_shed_with_a_waiting_page_and_keeps_its_place_with_the_cookie() -> None:
    async def scenario() -> None:
        app = BlockingApp()
        asgi = middleware(app, limit=1, wait=0)
        asgi.waiting_page = WaitingPage(build_environment())
        running = await full(asgi, app)

        page = await request(asgi, "/orders/new", locale="zh-CN", browser=True)

        assert page.status == 503
        assert page.headers["content-type"] == "text/html; charset=utf-8"
        html = page.body.decode()
        retry_after = page.headers["retry-after"]
        assert f'<meta http-equiv="refresh" content="{retry_after}">' in html
        assert f"本页面将在 {retry_after} 秒后自动重试" in html
        assert f"asks again by itself in {retry_after} seconds" in html, "the other language"
        name, _, rest = page.headers["set-cookie"].partition("=")
        ticket = rest.split(";")[0]
        assert name == TICKET_COOKIE
        assert "HttpOnly" in page.headers["set-cookie"]
        assert asgi.tickets.check(ticket, b"session=s-1")[0] is TicketState.EARLY
        assert asgi.tickets.check(ticket, BUYER)[0] is TicketState.NONE, "bound to the session"

        asgi.tickets = Tickets(SECRET, lambda: float(ticket.split(".")[0]))  # its second came
        asgi.limiter.max_wait = 3600  # requests may now wait for the slot
        returning = request(asgi, "/orders/new", browser=True, ticket=ticket)
        started = await newcomer_then_return(asgi, app, running, returning)
        assert started == ["/api/v1/orders", "/orders/new", "/api/v1/configurations"]

    asyncio.run(scenario())


def test_an_api_call_is_shed_with_problem_json_even_when_it_accepts_html() -> None:
    async def scenario() -> None:
        app = BlockingApp()
        asgi = middleware(app, limit=1, wait=0)
        asgi.waiting_page = WaitingPage(build_environment())
        running = await full(asgi, app)

        shed = await request(asgi, "/api/v1/configurations", browser=True)

        assert shed.problem()["code"] == "overload.shed"
        assert "set-cookie" not in shed.headers
        app.release.set()
        await running

    asyncio.run(scenario())


def test_a_waiting_request_gets_the_next_free_slot_and_the_queue_is_bounded() -> None:
    async def scenario() -> None:
        app = BlockingApp()
        asgi = middleware(app, limit=1, wait=3600)
        first = asyncio.create_task(request(asgi, "/first"))
        await settle(lambda: app.started == ["/first"])
        second = asyncio.create_task(request(asgi, "/second"))
        await settle(lambda: asgi.limiter.waiting == 1)

        third = await request(asgi, "/third")  # the queue (as long as the limit) is full

        assert third.status == 503
        assert app.started == ["/first"]
        app.release.set()
        assert (await first).status == 200
        assert (await second).status == 200
        assert app.started == ["/first", "/second"]
        assert asgi.limiter.in_flight == 0

    asyncio.run(scenario())


def test_a_request_that_waited_its_whole_bounded_wait_is_shed_without_running() -> None:
    async def scenario() -> None:
        app = BlockingApp()
        asgi = middleware(app, limit=1, wait=0.01)
        first = asyncio.create_task(request(asgi, "/first"))
        await settle(lambda: app.started == ["/first"])

        waited = await request(asgi, "/second")

        assert waited.status == 503
        assert waited.problem()["code"] == "overload.shed"
        assert app.started == ["/first"]
        assert asgi.limiter.waiting == 0
        app.release.set()
        assert (await first).status == 200

    asyncio.run(scenario())


def test_probes_metrics_and_static_files_are_answered_even_when_the_process_is_full() -> None:
    async def scenario() -> None:
        app = BlockingApp()
        asgi = middleware(app, limit=1, wait=0)
        blocked = asyncio.create_task(request(asgi))
        await settle(lambda: len(app.started) == 1)

        assert (await request(asgi, "/healthz")).status == 200
        assert (await request(asgi, "/metrics")).status == 200
        assert (await request(asgi, "/static/site.css")).status == 200, "the waiting page's"
        assert (await request(asgi, "/api/v1/models")).status == 503
        app.release.set()
        await blocked

    asyncio.run(scenario())


@pytest.mark.parametrize(
    "priority",
    [
        "/api/v1/payments/webhooks/sandbox",  # money already paid
        "/api/v1/sandbox/payments/sbp_1/succeed",  # the provider's servers, not marque's
        "/sandbox/pay/sbp_1/succeed",
    ],
)
def test_payments_are_admitted_when_full_and_take_a_slot_while_they_run(priority: str) -> None:
    async def scenario() -> None:
        app = BlockingApp()
        asgi = middleware(app, limit=1, wait=3600)
        buyer = asyncio.create_task(request(asgi, "/api/v1/orders"))
        await settle(lambda: len(app.started) == 1)
        webhook = asyncio.create_task(request(asgi, priority))
        await settle(lambda: len(app.started) == 2)
        waiting = asyncio.create_task(request(asgi, "/api/v1/orders"))
        await settle(lambda: asgi.limiter.waiting == 1)

        assert asgi.limiter.in_flight == 2
        assert (await request(asgi, "/api/v1/configurations")).status == 503
        app.release.set()
        answers = await asyncio.gather(buyer, webhook, waiting)

        assert [answer.status for answer in answers] == [200, 200, 200]
        assert asgi.limiter.in_flight == 0

    asyncio.run(scenario())


def test_a_waiting_payment_is_never_refused_when_follow_ups_may_not_wait() -> None:
    async def scenario() -> None:
        limiter = InFlightLimiter(
            1,
            max_waiting=1,
            max_wait=0,
            max_follow_ups_waiting=0,
            ahead_wait=0,
            priority_waits=True,
        )
        assert await limiter.acquire(Lane.NEW)
        payment = asyncio.create_task(limiter.priority())
        await settle(lambda: limiter.waiting == 1)
        assert not await limiter.acquire(Lane.FOLLOW_UP), "a follow-up may not wait here"

        limiter.release()
        await payment
        assert limiter.in_flight == 1
        limiter.release()
        assert limiter.in_flight == 0

    asyncio.run(scenario())


def test_on_the_loop_payments_wait_with_the_follow_ups_instead_of_running_over_the_limit() -> None:
    """On the event loop two requests never run at once, so "over the limit" only meant
    "sooner": a payment waits for a slot in the follow-ups' lane, in the order of arrival,
    never shed, and new work is shed while it waits."""

    async def scenario() -> None:
        app = BlockingApp()
        asgi = BackpressureMiddleware(
            app,  # type: ignore[arg-type]
            max_in_flight=1,
            on_the_loop=lambda _method, _path: True,
            max_wait_seconds=3600,
            ahead_wait_seconds=3600,
            retry_after_seconds=3,
            default_locale="en",
            ticket_secret=SECRET,
            registry=CollectorRegistry(),
        )
        buyer = asyncio.create_task(request(asgi, "/api/v1/orders"))
        await settle(lambda: len(app.started) == 1)
        lock = asyncio.create_task(request(asgi, "/api/v1/orders/O-1/lock"))
        await settle(lambda: asgi.limiter.waiting == 1)
        webhook = asyncio.create_task(request(asgi, "/api/v1/payments/webhooks/sandbox"))
        for _ in range(20):
            await asyncio.sleep(0)

        assert app.started == ["/api/v1/orders"], "the payment waits for the slot"
        assert asgi.limiter.in_flight == 1
        assert (await request(asgi, "/api/v1/configurations")).status == 503
        app.release.set()
        answers = await asyncio.gather(buyer, webhook, lock)

        assert [answer.status for answer in answers] == [200, 200, 200]
        assert app.started[1:] == ["/api/v1/orders/O-1/lock", "/api/v1/payments/webhooks/sandbox"]
        assert asgi.limiter.in_flight == 0

    asyncio.run(scenario())


def test_the_next_step_of_a_begun_journey_is_served_before_new_work_that_waited_longer() -> None:
    async def scenario() -> None:
        app = BlockingApp()
        asgi = middleware(app, limit=1, wait=3600, follow_ups_waiting=8)
        first = asyncio.create_task(request(asgi, "/api/v1/orders"))
        await settle(lambda: len(app.started) == 1)
        newcomer = asyncio.create_task(request(asgi, "/api/v1/configurations"))
        await settle(lambda: asgi.limiter.waiting == 1)
        lock = asyncio.create_task(request(asgi, "/api/v1/orders/O-1/lock"))
        await settle(lambda: asgi.limiter.waiting == 2)

        app.release.set()
        answers = await asyncio.gather(first, newcomer, lock)

        assert [answer.status for answer in answers] == [200, 200, 200]
        assert app.started == [
            "/api/v1/orders",
            "/api/v1/orders/O-1/lock",
            "/api/v1/configurations",
        ]
        assert asgi.limiter.in_flight == 0

    asyncio.run(scenario())


@pytest.mark.parametrize("path", ["/api/v1/orders", "/api/v1/configurations", "/orders/new"])
def test_new_work_is_shed_at_once_while_steps_of_begun_journeys_wait(path: str) -> None:
    async def scenario() -> None:
        app = BlockingApp()
        asgi = middleware(app, limit=2, wait=3600, follow_ups_waiting=8)
        held = [asyncio.create_task(request(asgi, f"/api/v1/orders/O-{n}")) for n in (1, 2)]
        await settle(lambda: len(app.started) == 2)
        lock = asyncio.create_task(request(asgi, "/api/v1/orders/O-3/lock"))
        await settle(lambda: asgi.limiter.waiting == 1)

        newcomer = asyncio.create_task(request(asgi, path))
        await settle(newcomer.done)  # answered without waiting its 3,600 s

        assert newcomer.result().status == 503
        assert newcomer.result().problem()["code"] == "overload.shed"
        assert asgi.limiter.waiting == 1
        app.release.set()
        assert [answer.status for answer in await asyncio.gather(*held, lock)] == [200] * 3
        assert app.started[2:] == ["/api/v1/orders/O-3/lock"]

    asyncio.run(scenario())


def test_by_default_a_process_works_on_four_requests_never_more_than_its_pool() -> None:
    assert default_max_in_flight(10) == 4
    assert default_max_in_flight(2) == 2
    assert default_max_in_flight(0) == 1


def test_with_the_routes_on_the_event_loop_it_works_on_one_of_them_at_a_time() -> None:
    assert default_max_in_flight(10, routes_on_event_loop=True) == 1
    assert default_max_in_flight(1, routes_on_event_loop=True) == 1


def test_the_event_loop_and_the_thread_pool_have_a_budget_each() -> None:
    """One slot on the loop, one in the pool: a page rendering in the pool does not take
    the loop's slot (with one budget for both, a second request was shed while the loop
    was free), and each budget sheds its own excess."""

    async def scenario() -> None:
        app = BlockingApp()
        asgi = BackpressureMiddleware(
            app,  # type: ignore[arg-type]
            max_in_flight=1,
            max_in_flight_in_pool=1,
            on_the_loop=lambda _method, path: path.startswith("/api/"),
            max_wait_seconds=0,
            retry_after_seconds=3,
            default_locale="en",
            ticket_secret=SECRET,
            registry=CollectorRegistry(),
        )
        page = asyncio.create_task(request(asgi, "/orders/new", browser=True))
        await settle(lambda: len(app.started) == 1)
        on_loop = asyncio.create_task(request(asgi, "/api/v1/configurations"))
        await settle(lambda: len(app.started) == 2)

        second_page = await request(asgi, "/catalog", browser=True)
        second_on_loop = await request(asgi, "/api/v1/orders")

        assert (second_page.status, second_on_loop.status) == (503, 503)
        assert app.placed == {"/orders/new": False, "/api/v1/configurations": True}
        assert (asgi.limiter.in_flight, asgi.pool_limiter.in_flight) == (1, 1)
        app.release.set()
        assert [a.status for a in await asyncio.gather(page, on_loop)] == [200, 200]
        assert (asgi.limiter.in_flight, asgi.pool_limiter.in_flight) == (0, 0)
        assert ON_THE_LOOP.get() is False, "the placement ends with its request"

    asyncio.run(scenario())


def test_without_a_placement_every_request_shares_one_budget_in_the_pool() -> None:
    async def scenario() -> None:
        app = BlockingApp()
        asgi = middleware(app, limit=1, wait=0)
        page = asyncio.create_task(request(asgi, "/orders/new", browser=True))
        await settle(lambda: len(app.started) == 1)

        assert (await request(asgi, "/api/v1/configurations")).status == 503
        app.release.set()
        await page
        assert app.placed == {"/orders/new": False}

    asyncio.run(scenario())


def test_a_caller_that_gives_up_while_waiting_leaves_no_slot_behind() -> None:
    async def scenario() -> None:
        limiter = InFlightLimiter(1, max_waiting=1, max_wait=3600)
        assert await limiter.acquire()
        waiter = asyncio.create_task(limiter.acquire())
        await settle(lambda: limiter.waiting == 1)

        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter

        assert limiter.waiting == 0
        limiter.release()
        assert limiter.in_flight == 0
        assert await limiter.acquire()

    asyncio.run(scenario())


def test_steps_of_begun_journeys_wait_for_their_turn_not_the_newcomers_short_wait() -> None:
    async def scenario() -> None:
        limiter = InFlightLimiter(
            1, max_waiting=1, max_wait=0, max_follow_ups_waiting=2, ahead_wait=3600
        )
        assert await limiter.acquire(Lane.NEW)
        assert not await limiter.acquire(Lane.NEW), "a newcomer may not wait (max_wait 0)"
        follow_ups = [asyncio.create_task(limiter.acquire(Lane.FOLLOW_UP)) for _ in range(2)]
        await settle(lambda: limiter.waiting == 2)
        assert not await limiter.acquire(Lane.FOLLOW_UP), "at most max_follow_ups_waiting"

        limiter.release()
        assert await follow_ups[0], "it waited for the slot instead of being shed"
        limiter.release()
        assert await follow_ups[1]
        limiter.release()
        assert limiter.in_flight == 0

    asyncio.run(scenario())


def test_a_return_that_would_wait_in_vain_is_turned_away_at_once() -> None:
    """Slots are held 3,000 s on average and a return may wait 3,600 s: the first in line
    waits (3,000 s ahead of it), the second would wait 6,000 s and is shed without waiting;
    the estimate learns from each release."""

    async def scenario() -> None:
        limiter = InFlightLimiter(1, max_waiting=1, max_wait=0, ahead_wait=3600)
        assert await limiter.acquire(Lane.NEW)
        limiter.release(held=3000)
        assert limiter.mean_hold == 3000
        assert await limiter.acquire(Lane.NEW)
        first = asyncio.create_task(limiter.acquire(Lane.RETURN))
        await settle(lambda: limiter.waiting == 1)

        second = asyncio.create_task(limiter.acquire(Lane.RETURN))
        await settle(second.done)  # answered in a few turns of the loop, no time passing

        assert second.result() is False
        assert limiter.waiting == 1
        limiter.release(held=1000)  # the slot passes to the first
        assert limiter.mean_hold == 2800
        assert await first
        limiter.release()
        assert limiter.in_flight == 0

        # Priority work over the limit (a payment webhook) runs before a waiter gets in.
        assert await limiter.acquire(Lane.NEW)
        limiter.force()
        behind_the_webhook = asyncio.create_task(limiter.acquire(Lane.RETURN))
        await settle(behind_the_webhook.done)
        assert behind_the_webhook.result() is False, "2 x 2,800 s > 3,600 s"

        # A follow-up waits for its turn whatever the estimate: a begun journey.
        follow_up = asyncio.create_task(limiter.acquire(Lane.FOLLOW_UP))
        await settle(lambda: limiter.waiting == 1)
        limiter.release()  # the webhook's slot, over the limit: nothing handed over
        assert not follow_up.done()
        limiter.release()
        assert await follow_up
        limiter.release()
        assert limiter.in_flight == 0

    asyncio.run(scenario())


def test_the_middleware_teaches_the_limiter_how_long_requests_hold_their_slot() -> None:
    async def scenario() -> None:
        app = BlockingApp()
        asgi = middleware(app, limit=1, wait=0)
        running = await full(asgi, app)
        assert asgi.limiter.mean_hold == 0

        app.release.set()
        assert (await running).status == 200
        assert asgi.limiter.mean_hold > 0

    asyncio.run(scenario())


def test_a_follow_up_waits_for_its_turn_however_long_a_return_only_its_wait() -> None:
    """A return waits its (here 1 ms) and is shed; a follow-up that came before it is still
    waiting ten times as long after, and gets the next slot. (Timed out like the returns,
    follow-ups were shed by the hundreds under an overload, each a begun journey delayed
    by a second.)"""

    async def scenario() -> None:
        limiter = InFlightLimiter(1, max_waiting=1, max_wait=0, ahead_wait=0.001)
        assert await limiter.acquire(Lane.NEW)
        follow_up = asyncio.create_task(limiter.acquire(Lane.FOLLOW_UP))
        await settle(lambda: limiter.waiting == 1)

        assert not await limiter.acquire(Lane.RETURN), "a return waits 1 ms, then is shed"
        await asyncio.sleep(0.01)
        assert not follow_up.done(), "the follow-up still waits for its turn"
        limiter.release()
        assert await follow_up
        limiter.release()
        assert limiter.in_flight == 0

    asyncio.run(scenario())


def test_the_middleware_gives_follow_ups_room_per_slot_in_each_budget() -> None:
    middleware = BackpressureMiddleware(
        BlockingApp(),  # type: ignore[arg-type]
        max_in_flight=2,
        max_wait_seconds=0,
        retry_after_seconds=1,
        default_locale="en",
        ticket_secret=SECRET,
        registry=CollectorRegistry(),
        follow_ups_waiting_per_slot=3,
        on_the_loop=lambda _method, _path: True,
        max_in_flight_in_pool=4,
    )
    assert middleware.limiter.max_follow_ups_waiting == 6
    assert middleware.pool_limiter.max_follow_ups_waiting == 12


def test_by_default_a_slot_has_room_for_eight_waiting_follow_ups() -> None:
    """On the loop a slot serves several requests in a few tens of milliseconds: with room
    for one, a one-slot process shed a follow-up whenever two came at once."""

    async def scenario() -> None:
        limiter = InFlightLimiter(1, max_waiting=1, max_wait=0, ahead_wait=3600)
        assert await limiter.acquire(Lane.NEW)
        waiting = [asyncio.create_task(limiter.acquire(Lane.FOLLOW_UP)) for _ in range(8)]
        await settle(lambda: limiter.waiting == 8)

        assert not await limiter.acquire(Lane.FOLLOW_UP), "the ninth is shed"
        for _ in waiting:
            limiter.release()
        assert all(await asyncio.gather(*waiting))
        limiter.release()
        assert limiter.in_flight == 0

    asyncio.run(scenario())


def test_returns_wait_longer_and_more_of_them_between_follow_ups_and_newcomers() -> None:
    async def scenario() -> None:
        limiter = InFlightLimiter(
            1, max_waiting=1, max_wait=0, max_returns_waiting=2, ahead_wait=3600
        )
        assert await limiter.acquire(Lane.NEW)
        assert not await limiter.acquire(Lane.NEW), "newcomers may not wait (max_wait 0)"
        order: list[str] = []

        async def queued(name: str, lane: Lane) -> None:
            assert await limiter.acquire(lane)
            order.append(name)
            limiter.release()

        returns = [asyncio.create_task(queued(f"return-{n}", Lane.RETURN)) for n in (1, 2)]
        await settle(lambda: limiter.waiting == 2)
        assert not await limiter.acquire(Lane.RETURN), "at most max_returns_waiting"
        limiter.max_wait = 3600
        assert not await limiter.acquire(Lane.NEW), "shed at once while returns wait"
        follow_up = asyncio.create_task(queued("follow-up", Lane.FOLLOW_UP))
        await settle(lambda: limiter.waiting == 3)

        limiter.release()
        await asyncio.gather(*returns, follow_up)
        assert order == ["follow-up", "return-1", "return-2"]
        assert limiter.in_flight == 0

    asyncio.run(scenario())


# ------------------------------------------------------------------- a real server


def test_a_full_server_answers_503_problem_with_retry_after_at_once(
    one_slot_server: LiveServer,
) -> None:
    client = one_slot_server.client(headers={"Accept-Language": "en"})
    with only_slot_held(one_slot_server):
        shed = client.get("/api/v1/models", headers={"X-Request-ID": "shed-check"})

        assert shed.status_code == 503
        assert shed.headers["retry-after"] == "2"
        assert shed.headers["content-type"].startswith(PROBLEM_JSON)
        problem = shed.json()
        assert problem["params"]["ticket"] == shed.headers[TICKET_HEADER]
        assert problem["code"] == "overload.shed"
        assert problem["request_id"] == "shed-check"
        assert problem["instance"] == "/api/v1/models"
        assert shed.headers["x-request-id"] == "shed-check"
        page = client.get("/", headers={"Accept": "text/html"})
        assert page.status_code == 503
        assert page.headers["content-type"] == "text/html; charset=utf-8"
        assert "You are in line" in page.text
        assert page.cookies[TICKET_COOKIE]
        assert client.get("/healthz").status_code == 200
        metrics = client.get("/metrics").text
        assert 'marque_http_requests_shed_total{method="GET"}' in metrics
        for line in ("new", "follow_up"):
            assert f'marque_waiting_room_booked{{line="{line}"}} ' in metrics
            assert f'marque_waiting_room_budget{{line="{line}"}} ' in metrics
    assert client.get("/api/v1/models").status_code == 200
    logged = access_line(one_slot_server, "shed-check")  # the line is written after the answer
    assert logged["status"] == 503
    assert logged["retry_after"] == 2, "operators see when a shed request was told to return"


def access_line(server: LiveServer, request_id: str) -> dict[str, Any]:
    """The server's access-log line of ``request_id`` (polled: it is written after the
    answer has gone out)."""
    for _ in range(600):
        for line in server.log_path.read_text().splitlines():
            if f'"request_id": "{request_id}"' in line and '"marque.access"' in line:
                entry: dict[str, Any] = json.loads(line)
                return entry
        time.sleep(0.05)
    raise AssertionError(f"no access-log line for {request_id}")


def test_an_exhausted_database_pool_is_a_503_with_retry_after_not_a_500(seeded: Database) -> None:
    container = bootstrap(conftest.test_settings(seeded.url, overload_retry_after_seconds=4))
    # One connection, taken by the test; a request then waits 0.2 s for it and gives up.
    container.engine.dispose()
    container.engine = create_engine(seeded.url, pool_size=1, max_overflow=0, pool_timeout=0.2)
    app = create_app(container)

    async def ask() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://marque") as client:
            return await client.get("/api/v1/models", headers={"Accept-Language": "en"})

    try:
        with container.engine.connect():
            response = asyncio.run(ask())
    finally:
        container.close()

    assert response.status_code == 503
    assert response.headers["retry-after"] == "4"
    assert response.json()["code"] == "overload.database_busy"
