"""The launch's routes run their database work on the server's event loop
(``MARQUE_ROUTES_ON_EVENT_LOOP``, the default), in the thread pool when that is off or when
the work asks a payment provider outside the process; and on the loop the back-pressure
middleware still sees every request read in one turn before any of them works.

Which thread ran a statement is read off the engine's own statement event, so the real
application, database and sandbox provider run; requests go through the ASGI app in
process, all started in one turn of the loop, so nothing here depends on timing.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import conftest
import httpx
import pytest
from conftest import Database, random_phone
from sqlalchemy import event

from marque.adapters.payments.sandbox import SandboxPaymentProvider
from marque.bootstrap import Container, bootstrap
from marque.entrypoints.api.app import create_app
from marque.entrypoints.api.blocking import LoopRoutes
from marque.entrypoints.api.routers import catalog as catalog_router
from marque.entrypoints.api.routers import orders as orders_router
from marque.entrypoints.api.routers import payments as payments_router

CHOICE = {"model": "arc", "trim": "standard", "options": ["paint-graphite"]}


class OutOfProcessSandbox(SandboxPaymentProvider):
    """The sandbox, declared out of process, as a real provider's adapter would be."""

    @property
    def in_process(self) -> bool:
        return False


@contextmanager
def app_container(seeded: Database, **settings: object) -> Iterator[Container]:
    container = bootstrap(conftest.test_settings(seeded.url, **settings))
    try:
        yield container
    finally:
        container.close()


def statement_threads(container: Container) -> list[int]:
    """The thread of every statement the engine runs from now on."""
    threads: list[int] = []

    def record(*_: Any) -> None:
        threads.append(threading.get_ident())

    event.listen(container.engine, "before_cursor_execute", record)
    return threads


async def sign_in(client: httpx.AsyncClient) -> None:
    phone = random_phone()
    asked = await client.post("/api/v1/auth/sms-code", json={"phone": phone})
    assert asked.status_code == 202, asked.text
    inbox = await client.get("/api/v1/sandbox/sms", params={"phone": phone})
    code = inbox.json()["items"][0]["code"]
    login = await client.post("/api/v1/auth/login", json={"phone": phone, "code": code})
    assert login.status_code == 200, login.text
    client.headers["Authorization"] = f"Bearer {login.json()['access_token']}"


async def configured_reservation(client: httpx.AsyncClient) -> dict[str, Any]:
    """Configure ``CHOICE``; the body that reserves it under the terms in force."""
    return conftest.reservation_of(await client.post("/api/v1/configurations", json=CHOICE))


def client_of(container: Container) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_app(container))
    return httpx.AsyncClient(
        transport=transport, base_url="http://marque", headers={"Accept-Language": "en"}
    )


@pytest.mark.parametrize("on_loop", [True, False], ids=["on-loop", "thread-pool"])
def test_the_launch_steps_run_on_the_loop_thread_unless_told_not_to(
    seeded: Database, on_loop: bool
) -> None:
    with app_container(seeded, routes_on_event_loop=on_loop) as container:

        async def journey() -> tuple[int, dict[str, list[int]]]:
            seen: dict[str, list[int]] = {}
            async with client_of(container) as client:
                await sign_in(client)
                threads = statement_threads(container)
                body = await configured_reservation(client)
                seen["configure"] = threads[:]
                threads.clear()
                reserved = await client.post(
                    "/api/v1/orders", json=body, headers={"Idempotency-Key": uuid.uuid4().hex}
                )
                assert reserved.status_code == 201, reserved.text
                seen["reserve"] = threads[:]
                threads.clear()
                order_id = reserved.json()["id"]
                read = await client.get(f"/api/v1/orders/{order_id}")
                assert read.status_code == 200, read.text
                seen["read"] = threads[:]
            return threading.get_ident(), seen

        loop_thread, seen = asyncio.run(journey())

    for step, threads in seen.items():
        assert threads, f"{step} ran statements"
        if on_loop:
            assert set(threads) == {loop_thread}, step
        else:
            assert loop_thread not in threads, step


def test_work_that_asks_a_provider_out_of_process_goes_to_the_thread_pool(
    seeded: Database,
) -> None:
    with app_container(seeded) as container:
        sandbox = container.payment_providers["sandbox"]
        assert sandbox.in_process, "the sandbox's calls stay on the machine"
        container.payment_providers = {
            "sandbox": OutOfProcessSandbox(container.engine, container.settings)
        }

        async def reserve_poll_and_read() -> tuple[int, list[int], list[int], list[int]]:
            async with client_of(container) as client:
                await sign_in(client)
                body = await configured_reservation(client)
                # The token's first lookup (no provider in it) runs on the loop: done here.
                assert (await client.get("/api/v1/orders")).status_code == 200
                threads = statement_threads(container)
                reserved = await client.post(
                    "/api/v1/orders", json=body, headers={"Idempotency-Key": uuid.uuid4().hex}
                )
                assert reserved.status_code == 201, reserved.text
                assert reserved.json()["payment"]["pay_url"], "the provider was asked"
                reserving = threads[:]
                threads.clear()
                order_id = reserved.json()["id"]
                polled = await client.get(f"/api/v1/orders/{order_id}/payment")
                assert polled.status_code == 200, polled.text
                polling = threads[:]
                threads.clear()
                read = await client.get(f"/api/v1/orders/{order_id}")
                assert read.status_code == 200
                return threading.get_ident(), reserving, polling, threads[:]

        loop_thread, reserving, polling, reading = asyncio.run(reserve_poll_and_read())

    assert reserving
    assert loop_thread not in reserving, "reserve asks the provider: the pool"
    assert polling
    assert loop_thread not in polling, "the poll may ask for a missing pay URL: the pool"
    assert set(reading) == {loop_thread}, "a read asks no provider: the loop"


def test_on_the_loop_requests_beyond_the_in_flight_limit_are_shed_before_any_works(
    seeded: Database,
) -> None:
    """Six configurations asked in one turn of the loop, two slots and no wait: two are
    worked on, four are shed at once. (Before the route yielded once before its work, each
    ran to its end before the next was read, and none was ever shed.)"""
    with app_container(
        seeded, max_in_flight=2, max_in_flight_wait_seconds=0, routes_on_event_loop=True
    ) as container:

        async def burst() -> list[httpx.Response]:
            async with client_of(container) as client:
                asks = [client.post("/api/v1/configurations", json=CHOICE) for _ in range(6)]
                return list(await asyncio.gather(*asks))

        answers = asyncio.run(burst())

    statuses = sorted(answer.status_code for answer in answers)
    assert [s for s in statuses if s != 503] in ([200, 200], [200, 201], [201, 201])
    shed = [answer for answer in answers if answer.status_code == 503]
    assert len(shed) == 4
    assert all(answer.json()["code"] == "overload.shed" for answer in shed)
    assert all(answer.headers["retry-after"] for answer in shed)


class Provider:
    def __init__(self, in_process: bool) -> None:
        self.in_process = in_process


def test_where_each_request_works_is_read_off_its_route() -> None:
    """The launch's ``async def`` routes work on the loop, with the application's own
    routers and prefixes; plain ``def`` routes, the pages and unknown paths in the pool; the
    routes that may ask a payment provider move to the pool while a provider is out of
    process, read at each request (a deployment or a test may swap its providers)."""
    providers: dict[str, Any] = {"sandbox": Provider(in_process=True)}
    placed = LoopRoutes(
        [
            ("/api/v1", payments_router.router),
            ("/api/v1", orders_router.router),
            ("/api/v1", catalog_router.router),
        ],
        lambda: providers,
    )
    on_the_loop = [
        ("POST", "/api/v1/payments/webhooks/sandbox"),
        ("POST", "/api/v1/configurations"),
        ("POST", "/api/v1/orders/O-1/lock"),
        ("POST", "/api/v1/orders/O-1/cancel"),
        ("GET", "/api/v1/orders/O-1"),
    ]
    asks_provider = [("POST", "/api/v1/orders"), ("GET", "/api/v1/orders/O-1/payment")]
    in_the_pool = [
        ("GET", "/api/v1/orders"),  # the buyer's list: a plain def route
        ("GET", "/api/v1/models"),
        ("POST", "/api/v1/orders/O-1/payment"),  # no such route: the method differs
        ("GET", "/orders/O-1"),  # a page
        ("GET", "/no/such/path"),
    ]
    assert all(placed(method, path) for method, path in on_the_loop + asks_provider)
    assert not any(placed(method, path) for method, path in in_the_pool)

    providers["remote"] = Provider(in_process=False)

    assert all(placed(method, path) for method, path in on_the_loop)
    assert not any(placed(method, path) for method, path in asks_provider + in_the_pool)
