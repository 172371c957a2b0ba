"""A keyed request commits its Idempotency-Key, its work and its stored answer together, on
both engines, through the real application (in-process, no background workers):

- a lock is one commit; a reservation is two (order, then pay URL and answer) around the
  provider's own, and the provider is never asked while our transaction is open;
- a request that fails unexpectedly half-way leaves neither its work nor its key behind, so
  the buyer's retry with the same key runs it;
- an expected refusal is stored under the key and replayed as it was.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import anyio
import httpx
import pytest
from conftest import Database
from money_world import World
from sqlalchemy import event, select

from marque.adapters.db.tables.orders import idempotency_keys
from marque.domain.auth import hash_token, new_token
from marque.domain.credentials import TokenKind, TokenRecord
from marque.domain.identity import Actor
from marque.domain.orders import OrderStatus
from marque.entrypoints.api.app import create_app
from marque.services import notifications


@pytest.fixture
def world(seeded: Database) -> Iterator[World]:
    built = World.build(seeded)
    yield built
    built.close()


class Client:
    """The application in this process over httpx's ASGI transport. Its lifespan (the
    background workers) does not run, so every commit counted below is the request's own."""

    def __init__(self, world: World) -> None:
        self.app = create_app(world.container)

    def post(self, path: str, *, json: Any, headers: dict[str, str]) -> httpx.Response:
        return self._send("POST", path, json=json, headers=headers)

    def get(self, path: str, *, headers: dict[str, str]) -> httpx.Response:
        return self._send("GET", path, headers=headers)

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        async def send() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
                return await http.request(method, path, **kwargs)

        return anyio.run(send)


@pytest.fixture
def client(world: World) -> Client:
    return Client(world)


def bearer(world: World, buyer: Actor) -> dict[str, str]:
    token = new_token()
    now = world.clock()
    with world.container.uow() as uow:
        uow.auth.add_token(
            TokenRecord(
                token_hash=hash_token(token),
                kind=TokenKind.BEARER,
                actor_kind=buyer.kind,
                actor_id=buyer.id or "",
                created_at=now,
                expires_at=now + timedelta(hours=1),
                client_ip="test",
            )
        )
        uow.commit()
    return {"Authorization": f"Bearer {token}"}


class Commits:
    """Counts the commits of writing transactions on the engine while the block runs
    (read-only ones end with COMMIT too, adapters/db/unit_of_work.py, but write nothing)."""

    def __init__(self, world: World) -> None:
        self.engine = world.container.engine
        self.count = 0

    def __enter__(self) -> Commits:
        event.listen(self.engine, "commit", self._seen)
        return self

    def __exit__(self, *_: object) -> None:
        event.remove(self.engine, "commit", self._seen)

    def _seen(self, conn: Any) -> None:
        if not conn.get_execution_options().get("marque_readonly"):
            self.count += 1


def reserve_body(world: World) -> dict[str, Any]:
    request = world.request(world.configuration())
    return {
        "configuration_code": request.configuration_code,
        "terms_code": request.terms_code,
        "terms_version": request.terms_version,
        "terms_hash": request.terms_hash,
        "accept_terms": True,
    }


def keyed(headers: dict[str, str]) -> dict[str, str]:
    return {**headers, "Idempotency-Key": secrets.token_hex(12)}


def stored_keys(world: World, key: str) -> list[Any]:
    with world.container.engine.connect() as conn:
        return list(conn.execute(select(idempotency_keys).where(idempotency_keys.c.key == key)))


def paid_order(world: World, client: Client, auth: dict[str, str]) -> str:
    answer = client.post("/api/v1/orders", json=reserve_body(world), headers=keyed(auth))
    assert answer.status_code == 201, answer.text
    order_id: str = answer.json()["id"]
    world.pay(world.payment(answer.json()["payment"]["id"]))
    assert world.order(order_id).status is OrderStatus.RESERVED
    return order_id


def test_a_lock_is_one_commit_and_a_reservation_two_around_the_providers(
    world: World, client: Client
) -> None:
    buyer = world.buyer()
    auth = bearer(world, buyer)
    client.get("/api/v1/models", headers=auth)  # warm the catalogue cache, as a server is

    asked_inside: list[bool] = []
    provider = world.provider
    create_payment = provider.create_payment

    def watched(**kwargs: Any) -> Any:
        # The provider stands for a remote call: no transaction of ours may be open on
        # this thread while it runs (the connection pool has every connection back).
        asked_inside.append(world.container.engine.pool.checkedout() > 0)  # type: ignore[attr-defined]
        return create_payment(**kwargs)

    provider.create_payment = watched  # type: ignore[method-assign]
    body = reserve_body(world)
    with Commits(world) as reserving:
        answer = client.post("/api/v1/orders", json=body, headers=keyed(auth))
    assert answer.status_code == 201, answer.text
    assert answer.json()["payment"]["pay_url"]
    assert asked_inside == [False]
    # Ours: the claim with the order, then the pay URL with the stored answer; plus the
    # sandbox provider's own record of the checkout.
    assert reserving.count == 3

    order_id = answer.json()["id"]
    world.pay(world.payment(answer.json()["payment"]["id"]))
    with Commits(world) as locking:
        locked = client.post(
            f"/api/v1/orders/{order_id}/lock", json={"confirm": True}, headers=keyed(auth)
        )
    assert locked.status_code == 200, locked.text
    assert locked.json()["status"] == "locked"
    assert locking.count == 1


def test_a_request_that_fails_half_way_leaves_nothing_and_its_retry_runs(
    world: World, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    buyer = world.buyer()
    auth = bearer(world, buyer)
    order_id = paid_order(world, client, auth)
    headers = keyed(auth)

    def broken(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("the process fails after the order moved")

    # The lock moves the order, then announces it; the announcement fails.
    monkeypatch.setattr("marque.services.orders.announce", broken)
    failed = client.post(f"/api/v1/orders/{order_id}/lock", json={"confirm": True}, headers=headers)
    assert failed.status_code == 500
    assert world.order(order_id).status is OrderStatus.RESERVED
    assert stored_keys(world, headers["Idempotency-Key"]) == []

    monkeypatch.setattr("marque.services.orders.announce", notifications.announce)
    retried = client.post(
        f"/api/v1/orders/{order_id}/lock", json={"confirm": True}, headers=headers
    )
    assert retried.status_code == 200, retried.text
    assert world.order(order_id).status is OrderStatus.LOCKED
    assert "Idempotent-Replayed" not in retried.headers
    [key] = stored_keys(world, headers["Idempotency-Key"])
    assert key.status == 200


def test_an_expected_refusal_is_stored_and_replayed(world: World, client: Client) -> None:
    buyer = world.buyer()
    auth = bearer(world, buyer)
    answer = client.post("/api/v1/orders", json=reserve_body(world), headers=keyed(auth))
    order_id = answer.json()["id"]
    headers = keyed(auth)

    refused = client.post(
        f"/api/v1/orders/{order_id}/lock", json={"confirm": True}, headers=headers
    )
    assert refused.status_code == 409
    assert refused.headers["content-type"].startswith("application/problem+json")
    [key] = stored_keys(world, headers["Idempotency-Key"])
    assert key.status == 409

    # Paid since: the same key still answers what it answered, and locks nothing.
    world.pay(world.payment(answer.json()["payment"]["id"]))
    replayed = client.post(
        f"/api/v1/orders/{order_id}/lock", json={"confirm": True}, headers=headers
    )
    assert replayed.status_code == 409
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert replayed.json()["code"] == refused.json()["code"]
    assert world.order(order_id).status is OrderStatus.RESERVED
