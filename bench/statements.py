"""Round trips per step of one buyer's launch-night path: ``python -m bench.statements``.

Runs the real application in-process (no server, no background threads) on a fresh
PostgreSQL database and counts, for each HTTP call, the SQL statements sent, the pool
checkouts (a connection idle for ``MARQUE_DB_PING_IDLE_SECONDS`` is pinged first; on the
hot path none is) and the transactions committed or rolled back, and the Python function calls the server made
(``calls``: a proxy for its CPU that, unlike CPU time on a shared VM, is the same from run
to run). Deterministic, so it shows what a change to the hot path saves without any load:
every statement is a network round trip and every commit a WAL flush on the critical path.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import threading
import uuid
from collections import Counter
from typing import Any

import httpx
from sqlalchemy import Engine, create_engine, event

from bench.journey import reserve_body
from bench.provision import open_sales, provision_buyers
from bench.server import drop_database, fresh_database
from bench.webhooks import WEBHOOK_PATH, WebhookSigner
from marque.adapters.db import migrate as migrations
from marque.bootstrap import bootstrap
from marque.config import Settings
from marque.entrypoints.api.app import create_app
from marque.services.demo_catalog import seed_demo_catalog


class Counts:
    def __init__(self, engine: Engine) -> None:
        self.now: Counter[str] = Counter()
        self.sql: list[str] = []
        self.functions: Counter[Any] = Counter()
        event.listen(engine, "before_cursor_execute", self._statement)
        event.listen(engine.pool, "checkout", self._checkout)
        event.listen(engine, "commit", self._commit)
        event.listen(engine, "rollback", self._rollback)

    def count_calls(self) -> None:
        """Count Python function calls in every thread from now on (the route's work runs
        in the thread pool, the framework's on the event loop)."""

        def profile(frame: Any, event_name: str, _arg: Any) -> None:
            if event_name == "call":
                self.now["calls"] += 1
                if self.show_functions:
                    self.functions[frame.f_code] += 1

        sys.setprofile(profile)
        threading.setprofile(profile)

    def _statement(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        self.now["statements"] += 1
        self.sql.append(" ".join(statement.split()))

    def _checkout(self, *_: Any) -> None:
        self.now["checkouts"] += 1

    def _commit(self, *_: Any) -> None:
        self.now["commits"] += 1

    def _rollback(self, *_: Any) -> None:
        self.now["rollbacks"] += 1

    def take(self) -> dict[str, Any]:
        functions = dict(self.functions)  # a C-level copy: the profiler counts on meanwhile
        taken: dict[str, Any] = dict(self.now)
        if self.show_sql:
            taken["sql"] = self.sql[:]
        if self.show_functions:
            taken["by_package"] = _by_package(functions)
            most = sorted(functions.items(), key=lambda item: -item[1])[: self.show_functions]
            taken["functions"] = [f"{count} {_where(code)}:{code.co_name}" for code, count in most]
        self.now.clear()
        self.sql.clear()
        self.functions.clear()
        return taken

    show_sql = False
    #: How many of the most called functions to list per step (0: none).
    show_functions = 0


def _where(code: Any) -> str:
    """A code object's file, from its package on (``sqlalchemy/pool/base.py``)."""
    path = code.co_filename
    for marker in ("/site-packages/", "/lib/python3."):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    else:
        path = path.rsplit("/marque/", 1)[-1] if "/marque/" in path else path
        path = "marque/" + path if not path.startswith(("bench", "<")) else path
    return path


def _by_package(functions: dict[Any, int]) -> dict[str, int]:
    """Calls by top-level package (marque, sqlalchemy, psycopg, starlette ...)."""
    packages: Counter[str] = Counter()
    for code, count in functions.items():
        packages[_where(code).split("/", 1)[0].split(".", 1)[0]] += count
    return dict(packages.most_common())


async def journey(client: httpx.AsyncClient, token: str, counts: Counts) -> dict[str, Any]:
    steps: dict[str, Any] = {}
    auth = {"Authorization": f"Bearer {token}"}

    async def step(name: str, method: str, path: str, **kwargs: Any) -> Any:
        counts.take()
        response = await client.request(method, path, **kwargs)
        if response.status_code >= 400:
            raise SystemExit(f"{name}: {response.status_code} {response.text}")
        steps[name] = {"status": response.status_code, **counts.take()}
        return response.json()

    choice = {"model": "arc", "trim": "standard", "options": ["paint-graphite"]}
    configured = await step(
        "configure", "POST", "/api/v1/configurations", json=choice, headers=auth
    )
    body = reserve_body(configured)
    key = {"Idempotency-Key": uuid.uuid4().hex}
    order = await step("reserve", "POST", "/api/v1/orders", json=body, headers={**auth, **key})
    await step("reserve_replay", "POST", "/api/v1/orders", json=body, headers={**auth, **key})
    reference = order["payment"]["provider_reference"]
    paid = await step("pay", "POST", f"/api/v1/sandbox/payments/{reference}/succeed")
    content, hook_headers = WebhookSigner(Settings()).sign(paid)
    await step("webhook", "POST", WEBHOOK_PATH, content=content, headers=hook_headers)
    await step("webhook_duplicate", "POST", WEBHOOK_PATH, content=content, headers=hook_headers)
    await step("poll", "GET", f"/api/v1/orders/{order['id']}/payment", headers=auth)
    lock_key = {"Idempotency-Key": uuid.uuid4().hex}
    await step(
        "lock",
        "POST",
        f"/api/v1/orders/{order['id']}/lock",
        json={"confirm": True},
        headers={**auth, **lock_key},
    )
    return steps


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.statements", description=__doc__)
    parser.add_argument(
        "--database-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    parser.add_argument(
        "--sql", action="store_true", help="also list each step's statements (SQL text)"
    )
    parser.add_argument(
        "--functions",
        type=int,
        default=0,
        metavar="N",
        help="also count each step's calls by package and list its N most called functions",
    )
    args = parser.parse_args(argv)
    url = fresh_database(args.database_url)
    try:
        engine = create_engine(url)
        migrations.upgrade(engine)
        engine.dispose()
        container = bootstrap(Settings(database_url=url, log_json=False, default_locale="en"))
        seed_demo_catalog(container.uow(), container.clock())
        open_sales(container.engine, "arc")
        warm_up, buyer = provision_buyers(container.engine, 2)
        counts = Counts(container.engine)
        counts.show_sql = args.sql
        counts.show_functions = args.functions
        app = create_app(container)

        async def run() -> dict[str, Any]:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
                # A first buyer fills the caches (catalogue, compiled statements, tokens);
                # the second is counted, as every buyer after the first few at a launch.
                counts.count_calls()  # before any thread of the pool starts
                await journey(client, warm_up.token, counts)
                return await journey(client, buyer.token, counts)

        steps = asyncio.run(run())
        sys.setprofile(None)
        threading.setprofile(None)
        container.close()
    finally:
        drop_database(url)
    print(json.dumps(steps, indent=2))
    total = Counter[str]()
    for name, numbers in steps.items():
        if name not in ("reserve_replay", "webhook_duplicate", "configure", "poll"):
            total.update({k: v for k, v in numbers.items() if isinstance(v, int) and k != "status"})
    print("reserve + pay + webhook + lock:", dict(total))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
