"""Helpers for the order and finance page tests: browsers-as-httpx-clients that sign in
through the pages, the demo catalogue read through the API, and forms read off the pages."""

from __future__ import annotations

import html
import re
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import conftest
import httpx
from conftest import Database, LiveServer, random_phone, start_server

from marque.bootstrap import bootstrap
from marque.domain.identity import Role
from marque.services.auth import create_staff

TOKEN_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
HIDDEN_FIELD = re.compile(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)">')


@contextmanager
def pages_server(database: Database, log_dir: Path) -> Iterator[LiveServer]:
    """A server of the page tests' own: jobs (the refund worker) every 0.3 s and room for
    many SMS codes."""
    running = start_server(
        database,
        log_dir,
        MARQUE_WORKER_INTERVAL_SECONDS="0.3",
        MARQUE_SMS_CODES_PER_CLIENT_PER_HOUR="1000",
    )
    try:
        yield running
    finally:
        running.stop()


def own_address() -> str:
    return f"127.{secrets.randbelow(250) + 1}.{secrets.randbelow(256)}.{secrets.randbelow(250) + 2}"


def new_browser(server: LiveServer, lang: str = "en") -> httpx.Client:
    """A cookie-keeping client from a loopback address of its own, asking for ``lang``."""
    return httpx.Client(
        base_url=server.base_url,
        timeout=30,
        transport=httpx.HTTPTransport(local_address=own_address()),
        headers={"Accept-Language": lang},
    )


def text_of(page: httpx.Response) -> str:
    return html.unescape(page.text)


def csrf_token(page: httpx.Response) -> str:
    found = TOKEN_FIELD.search(page.text)
    assert found, f"no CSRF field on {page.url}"
    return found.group(1)


def form_fields(page: httpx.Response, action: str) -> dict[str, str]:
    """The hidden fields of the form posting to ``action`` on ``page``."""
    start = page.text.index(f'method="post" action="{action}"')
    end = page.text.index("</form>", start)
    return {
        name: html.unescape(value) for name, value in HIDDEN_FIELD.findall(page.text[start:end])
    }


@contextmanager
def browser(server: LiveServer, lang: str = "en") -> Iterator[httpx.Client]:
    with new_browser(server, lang) as client:
        yield client


@contextmanager
def signed_in_buyer(server: LiveServer, lang: str = "en") -> Iterator[httpx.Client]:
    """A browser signed in as a new buyer through the SMS sign-in pages."""
    with new_browser(server, lang) as client:
        sign_in_buyer(client)
        yield client


def sign_in_buyer(client: httpx.Client) -> None:
    phone = random_phone()
    form = client.get("/signin")
    step = client.post("/signin/code", data={"csrf_token": csrf_token(form), "phone": phone})
    assert step.status_code == 200, step.text
    code = client.get("/api/v1/sandbox/sms", params={"phone": phone}).json()["items"][0]["code"]
    done = client.post(
        "/signin", data={"csrf_token": csrf_token(step), "phone": phone, "code": code}
    )
    assert done.status_code == 303, done.text


@contextmanager
def signed_in_staff(server: LiveServer, *roles: Role, lang: str = "en") -> Iterator[httpx.Client]:
    username = f"pages-{secrets.token_hex(4)}"
    password = secrets.token_urlsafe(18)
    container = bootstrap(conftest.test_settings(server.database.url))
    try:
        create_staff(
            container.uow(),
            username=username,
            password=password,
            roles=list(roles),
            display_name=username,
            now=datetime.now(UTC),
        )
    finally:
        container.close()
    with new_browser(server, lang) as client:
        form = client.get("/staff/signin")
        done = client.post(
            "/staff/signin",
            data={"csrf_token": csrf_token(form), "username": username, "password": password},
        )
        assert done.status_code == 303, done.text
        yield client


def models(client: httpx.Client, lang: str = "en") -> list[dict[str, Any]]:
    listed = client.get("/api/v1/models", headers={"Accept-Language": lang}).json()["items"]
    return [
        client.get(f"/api/v1/models/{m['code']}", headers={"Accept-Language": lang}).json()
        for m in listed
    ]


def configuration(client: httpx.Client, kind: str, lang: str = "en") -> dict[str, Any]:
    """A priced configuration (no extra options) of an ordinary trim whose deposit is ``kind``."""
    for model in models(client, lang):
        for trim in model["trims"]:
            if not trim["limited_edition"] and trim["deposit_terms"]["kind"] == kind:
                priced = client.post(
                    "/api/v1/configurations",
                    json={"model": model["code"], "trim": trim["code"], "options": []},
                    headers={"Accept-Language": lang},
                )
                assert priced.status_code in (200, 201), priced.text
                body: dict[str, Any] = priced.json()
                return body
    raise AssertionError(f"the demo catalogue has no ordinary trim with {kind} money")


def reserve(client: httpx.Client, configuration_code: str) -> httpx.Response:
    """Open the reserve page, tick the box and submit; the answer is the redirect."""
    page = client.get("/orders/new", params={"configuration": configuration_code})
    assert page.status_code == 200, page.text
    fields = form_fields(page, "/orders")
    return client.post("/orders", data={**fields, "accept_terms": "yes"})


def order_id_of(redirect: httpx.Response) -> str:
    """The order a reserve redirect leads to (the pay page's return_url, or the order page)."""
    assert redirect.status_code == 303, redirect.text
    location = redirect.headers["location"]
    query = parse_qs(urlsplit(location).query)
    target = query["return_url"][0] if "return_url" in query else urlsplit(location).path
    match = re.fullmatch(r"/orders/(O-[A-Z0-9]+)", target)
    assert match, location
    return match.group(1)


def pay_reference(redirect: httpx.Response) -> str:
    match = re.search(r"/sandbox/pay/([^/?]+)", redirect.headers["location"])
    assert match, redirect.headers["location"]
    return match.group(1)


def eventually(read: Callable[[], Any], wanted: Callable[[Any], bool], seconds: float = 30) -> Any:
    """Poll ``read`` until ``wanted`` holds: webhooks and the refund worker run in the server."""
    deadline = time.monotonic() + seconds
    value = read()
    while not wanted(value):
        assert time.monotonic() < deadline, f"still {value!r}"
        time.sleep(0.2)
        value = read()
    return value


def status_on(page: httpx.Response) -> str:
    found = re.search(r'data-testid="order-status" data-status="([a-z_]+)"', page.text)
    assert found, "no order status on the page"
    return found.group(1)


def pay_and_wait(client: httpx.Client, redirect: httpx.Response) -> str:
    """Pay the sandbox payment the reserve redirect leads to; wait until the order is paid."""
    order_id = order_id_of(redirect)
    reference = pay_reference(redirect)
    assert client.post(f"/api/v1/sandbox/payments/{reference}/succeed").status_code == 200

    def read() -> httpx.Response:
        client.post("/api/v1/sandbox/webhooks/deliver")
        return client.get(f"/orders/{order_id}")

    eventually(read, lambda page: status_on(page) != "pending_payment")
    return order_id
