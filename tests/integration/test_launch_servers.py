"""Launch night over HTTP against real `marque serve` processes: on PostgreSQL two server
processes share one database, on SQLite one process serves every client (its writers queue at
BEGIN IMMEDIATE). Many concurrent clients reserve and pay a small limited edition: exactly its
cap is confirmed. Sales opening is set over the staff API and answered with its time.

The module has a database of its own (an edition on sale now must not show in the shared
catalogue). Correctness only: no timing.
"""

from __future__ import annotations

import html
import secrets
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import conftest
import httpx
import pytest
from conftest import Database, LiveServer, random_phone, start_server
from launch_world import Edition, add_edition
from sqlalchemy import select

from marque.adapters.db.tables.orders import orders as orders_table
from marque.bootstrap import Container, bootstrap
from marque.domain.auth import new_reference
from marque.domain.credentials import CustomerAccount, TokenKind
from marque.domain.identity import Role
from marque.services.auth import create_staff
from marque.services.auth_tokens import issue_token

CAP = 12
CLIENTS = 16
PAID = {"reserved", "locked", "allocated", "ready", "delivered"}


@pytest.fixture(scope="module")
def stage(
    database: Database, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Container, list[LiveServer]]]:
    """A fresh seeded database, and the servers on it: two on PostgreSQL, one on SQLite."""
    with conftest.own_seeded_database(database, tmp_path_factory.mktemp("launch")) as own:
        container = bootstrap(conftest.test_settings(own.url))
        logs = tmp_path_factory.mktemp("launch-servers")
        env = {"MARQUE_CATALOG_CACHE_SECONDS": "1", "MARQUE_WORKER_INTERVAL_SECONDS": "0.3"}
        several = 2 if own.name == "postgresql" else 1
        servers = [start_server(own, logs, **env) for _ in range(several)]
        yield container, servers
        for server in servers:
            server.stop()
        container.close()


def buyer_tokens(container: Container, count: int) -> list[str]:
    """Signed-in buyers, as the SMS sign-in leaves them (a customer and a bearer token)."""
    now = datetime.now(UTC)
    tokens = []
    with container.uow() as uow:
        for _ in range(count):
            account = CustomerAccount(new_reference("C-"), random_phone(), now)
            uow.auth.add_customer(account)
            issued = issue_token(container, uow.auth, account, TokenKind.BEARER, "test", now)
            tokens.append(issued.token)
        uow.commit()
    return tokens


def on_sale_edition(container: Container, cap: int) -> Edition:
    return add_edition(container, cap=cap, effective_from=datetime.now(UTC) - timedelta(days=1))


def reserve_body(client: httpx.Client, model: str, trim: str, paint: str) -> dict[str, Any]:
    choice = {"model": model, "trim": trim, "options": [paint]}
    return conftest.reservation_of(client.post("/api/v1/configurations", json=choice))


def polite(client: httpx.Client, method: str, url: str, **kwargs: Any) -> httpx.Response:
    """A request that honours back-pressure: after a 503 or 429 it waits ``Retry-After``
    and sends the same request again (safe: money-moving ones carry their key)."""
    for _ in range(30):
        answer = client.request(method, url, **kwargs)
        if answer.status_code not in (429, 503):
            return answer
        time.sleep(min(float(answer.headers.get("Retry-After", "1")), 2.0))
    return answer


def attempt(base_url: str, token: str, key: str, body: dict[str, Any]) -> tuple[int, str]:
    """Reserve with an Idempotency-Key and pay on the sandbox: (status, order id or code)."""
    with httpx.Client(base_url=base_url, timeout=60) as client:
        headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": key}
        answer = polite(client, "POST", "/api/v1/orders", json=body, headers=headers)
        if answer.status_code not in (200, 201):
            return answer.status_code, str(answer.json().get("code"))
        order = answer.json()
        reference = order["payment"]["provider_reference"]
        paid = polite(client, "POST", f"/api/v1/sandbox/payments/{reference}/succeed")
        assert paid.status_code == 200, paid.text
        return answer.status_code, str(order["id"])


def wait_until_paid(container: Container, order_ids: set[str], servers: list[LiveServer]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with container.engine.connect() as conn:
            rows = conn.execute(
                select(orders_table.c.paid_at).where(orders_table.c.id.in_(order_ids))
            ).all()
        if len(rows) == len(order_ids) and all(row.paid_at for row in rows):
            return
        httpx.post(f"{servers[0].base_url}/api/v1/sandbox/webhooks/deliver", timeout=30)
        time.sleep(0.2)
    pytest.fail("payments were not confirmed within a minute")


def test_many_clients_on_every_server_process_confirm_exactly_the_cap(
    stage: tuple[Container, list[LiveServer]],
) -> None:
    container, servers = stage
    edition = on_sale_edition(container, CAP)
    tokens = buyer_tokens(container, 5 * CAP)
    with servers[0].client() as client:
        body = reserve_body(client, edition.model_code, "founders", "paint-aurora-green")
    plan = [(token, secrets.token_hex(8)) for token in tokens]
    plan += plan[::6]  # a retry with the same key for every sixth buyer
    calls = [
        (servers[i % len(servers)].base_url, token, key, body)
        for i, (token, key) in enumerate(plan)
    ]

    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        outcomes = list(pool.map(lambda call: attempt(*call), calls))

    made = {value for status, value in outcomes if status in (200, 201)}
    refusals = Counter(value for status, value in outcomes if status not in (200, 201))
    assert len(made) == CAP
    assert set(refusals) <= {"order.sold_out", "idempotency.in_progress"}, refusals
    assert all(status in (200, 201, 409) for status, _ in outcomes)
    keyed: dict[tuple[str, str], set[str]] = {}
    for (token, key), (status, value) in zip(plan, outcomes, strict=True):
        if status in (200, 201):
            keyed.setdefault((token, key), set()).add(value)
    assert all(len(ids) == 1 for ids in keyed.values()), "one order per Idempotency-Key"
    wait_until_paid(container, made, servers)
    with container.engine.connect() as conn:
        rows = conn.execute(
            select(orders_table.c.status, orders_table.c.queue_number).where(
                orders_table.c.model_code == edition.model_code
            )
        ).all()
    assert sum(row.status in PAID for row in rows) == CAP
    numbers = [row.queue_number for row in rows if row.queue_number is not None]
    assert len(numbers) == CAP == len(set(numbers))


def staff_token(container: Container, server: LiveServer, role: Role) -> str:
    username = f"launch-{secrets.token_hex(3)}"
    password = secrets.token_urlsafe(18)
    create_staff(
        container.uow(),
        username=username,
        password=password,
        roles=[role],
        display_name="Launch manager",
        now=datetime.now(UTC),
    )
    with server.client() as client:
        login = client.post(
            "/api/v1/auth/staff/login", json={"username": username, "password": password}
        )
    assert login.status_code == 200, login.text
    return str(login.json()["access_token"])


def test_sales_staff_set_the_opening_time_and_buyers_are_told_it_until_then(
    stage: tuple[Container, list[LiveServer]],
) -> None:
    container, servers = stage
    edition = on_sale_edition(container, CAP)
    manager = {"Authorization": f"Bearer {staff_token(container, servers[0], Role.SALES)}"}
    opens_at = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    [buyer] = buyer_tokens(container, 1)
    with servers[0].client() as client:
        body = reserve_body(client, edition.model_code, "standard", "paint-graphite")
        opened = client.put(
            f"/api/v1/sales/models/{edition.model_code}/opening",
            json={"at": opens_at.isoformat()},
            headers=manager,
        )
        assert opened.status_code == 200, opened.text
        assert {t["on_sale"] for t in opened.json()["trims"]} == {False}
        time.sleep(1.1)  # the other process's catalogue cache (MARQUE_CATALOG_CACHE_SECONDS)

    for server in servers:
        with server.client(headers={"Authorization": f"Bearer {buyer}"}) as client:
            refused = client.post(
                "/api/v1/orders",
                json=body,
                headers={"Idempotency-Key": secrets.token_hex(8), "Accept-Language": "zh-CN"},
            )
            page = client.get(f"/models/{edition.model_code}", headers={"Accept-Language": "en"})
        assert refused.status_code == 409, refused.text
        problem = refused.json()
        assert problem["code"] == "sales.not_open"
        assert problem["params"]["opens_at"] == opens_at.isoformat().replace("+00:00", "Z")
        assert "开售" in problem["detail"]
        text = html.unescape(page.text)
        assert f'data-opens-at="{problem["params"]["opens_at"]}"' in text
        assert "Reservations open" in text
        assert "countdown.js" in text

    with servers[-1].client(headers=manager) as client:
        now = client.put(f"/api/v1/sales/models/{edition.model_code}/opening", json={"at": "now"})
    assert now.status_code == 200
    assert {t["on_sale"] for t in now.json()["trims"]} == {True}
    time.sleep(1.1)
    with servers[0].client(headers={"Authorization": f"Bearer {buyer}"}) as client:
        reserved = client.post(
            "/api/v1/orders", json=body, headers={"Idempotency-Key": secrets.token_hex(8)}
        )
    assert reserved.status_code == 201, reserved.text
    assert reserved.json()["queue"] is None, "a place in the queue comes with the payment"


def test_the_sales_command_opens_and_reports_a_model(
    stage: tuple[Container, list[LiveServer]], tmp_path: Path
) -> None:
    container, servers = stage
    edition = on_sale_edition(container, 3)
    env = {
        "MARQUE_DATABASE_URL": servers[0].database.url,
        "MARQUE_LOG_JSON": "false",
        "MARQUE_ENV": "test",
    }
    at = "2031-05-01T14:00:00Z"
    done = subprocess.run(
        [
            conftest.sys.executable,
            "-m",
            "marque.entrypoints.cli",
            "sales",
            "open",
            "--model",
            edition.model_code,
            "--trim",
            "founders",
            "--at",
            at,
        ],
        env={**conftest.os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
        cwd=conftest.ROOT,
    )

    assert done.returncode == 0, done.stderr
    assert f"{edition.model_code}/founders: closed, opens {at}" in done.stdout
    assert "0 sold, 0 held, 3 free of 3" in done.stdout
    assert f"{edition.model_code}/standard: ON SALE" in done.stdout


def test_the_order_page_shows_the_queue_place_and_how_many_are_built_before(
    stage: tuple[Container, list[LiveServer]],
) -> None:
    container, servers = stage
    edition = on_sale_edition(container, CAP)
    now = datetime.now(UTC)
    with container.uow() as uow:
        account = CustomerAccount(new_reference("C-"), random_phone(), now)
        uow.auth.add_customer(account)
        bearer = issue_token(container, uow.auth, account, TokenKind.BEARER, "test", now)
        session = issue_token(container, uow.auth, account, TokenKind.SESSION, "test", now)
        uow.commit()
    earlier = buyer_tokens(container, 2)
    with servers[0].client() as client:
        body = reserve_body(client, edition.model_code, "standard", "paint-midnight-blue")
    made = {attempt(servers[0].base_url, t, secrets.token_hex(8), body)[1] for t in earlier}
    wait_until_paid(container, made, servers)
    status, order_id = attempt(servers[-1].base_url, bearer.token, secrets.token_hex(8), body)
    assert status == 201
    wait_until_paid(container, {order_id}, servers)

    with servers[0].client(headers={"Accept-Language": "en"}) as client:
        api = client.get(
            f"/api/v1/orders/{order_id}", headers={"Authorization": f"Bearer {bearer.token}"}
        )
        client.cookies.set("marque_session", session.token)
        page = client.get(f"/orders/{order_id}")

    assert api.json()["queue"] == {
        "number": 3,
        "ahead": 2,
        "configuration": body["configuration_code"],
        "locked": False,
    }
    text = html.unescape(page.text)
    assert "Your place in the build queue: 3" in text
    assert "Paid orders of this configuration built before yours: 2" in text
