"""Server CPU per request, route by route: ``python -m bench.route_cost [--buyers 300]``.

Starts ``marque serve --workers 1`` on a fresh PostgreSQL database and walks N buyers
through the launch path one request at a time (no concurrency, so nothing queues): every
buyer reserves, then every buyer pays on the sandbox, then every webhook is delivered, and
so on. For each step it prints the server process's CPU time (user + system, from psutil)
and the wall time per request. What a step costs in CPU on one core is what bounds the
launch on a machine whose cores are all busy (docs/scaling.md); the load benchmark
(bench/launch.py) says how that adds up under concurrency.
"""

from __future__ import annotations

import argparse
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine

from bench.journey import CHOICES, reserve_body
from bench.provision import Buyer, open_sales, provision_buyers
from bench.server import ROOT, Server, drop_database, fresh_database, prepare_database
from bench.webhooks import HOLD_DISPATCHER, WEBHOOK_PATH, WebhookSigner
from marque.config import Settings


def bearer(buyer: Buyer) -> dict[str, str]:
    return {"Authorization": f"Bearer {buyer.token}"}


def keyed(buyer: Buyer) -> dict[str, str]:
    return {**bearer(buyer), "Idempotency-Key": uuid.uuid4().hex}


class Walk:
    def __init__(self, server: Server, buyers: list[Buyer]) -> None:
        self.server = server
        self.buyers = buyers
        self.http = httpx.Client(base_url=server.base_url, timeout=30)
        self.costs: dict[str, tuple[float, float]] = {}

    def cpu(self) -> float:
        return sum(p.cpu_times().user + p.cpu_times().system for p in self.server.processes())

    def step(self, name: str, call: Callable[[Buyer], Any]) -> list[Any]:
        started, cpu = time.perf_counter(), self.cpu()
        answers = [call(buyer) for buyer in self.buyers]
        count = len(self.buyers)
        self.costs[name] = (
            1000 * (self.cpu() - cpu) / count,
            1000 * (time.perf_counter() - started) / count,
        )
        return answers

    def ok(self, response: httpx.Response) -> Any:
        response.raise_for_status()
        return response.json() if response.content else None

    def run(self) -> None:
        model, trim, options = CHOICES[0]
        first = self.buyers[0]
        configured = self.ok(
            self.http.post(
                "/api/v1/configurations",
                json={"model": model, "trim": trim, "options": list(options)},
                headers=bearer(first),
            )
        )
        body = reserve_body(configured)
        choice = {"model": model, "trim": trim, "options": list(options)}
        self.step(
            "configure",
            lambda b: self.ok(
                self.http.post("/api/v1/configurations", json=choice, headers=bearer(b))
            ),
        )
        orders = self.step(
            "reserve",
            lambda b: self.ok(self.http.post("/api/v1/orders", json=body, headers=keyed(b))),
        )
        order_of = {b.id: o for b, o in zip(self.buyers, orders, strict=True)}

        def pay(buyer: Buyer) -> Any:
            reference = order_of[buyer.id]["payment"]["provider_reference"]
            return self.ok(self.http.post(f"/api/v1/sandbox/payments/{reference}/succeed"))

        paid = self.step("pay (the sandbox provider)", pay)
        payment_of = {b.id: p for b, p in zip(self.buyers, paid, strict=True)}
        signer = WebhookSigner(Settings())

        def webhook(buyer: Buyer) -> Any:
            content, headers = signer.sign(payment_of[buyer.id])
            return self.ok(self.http.post(WEBHOOK_PATH, content=content, headers=headers))

        self.step("webhook", webhook)
        self.step(
            "poll the payment",
            lambda b: self.ok(
                self.http.get(f"/api/v1/orders/{order_of[b.id]['id']}/payment", headers=bearer(b))
            ),
        )
        self.step(
            "lock",
            lambda b: self.ok(
                self.http.post(
                    f"/api/v1/orders/{order_of[b.id]['id']}/lock",
                    json={"confirm": True},
                    headers=keyed(b),
                )
            ),
        )
        self.step(
            "read the order",
            lambda b: self.ok(
                self.http.get(f"/api/v1/orders/{order_of[b.id]['id']}", headers=bearer(b))
            ),
        )
        self.step("health probe (the framework alone)", lambda b: self.http.get("/healthz"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.route_cost", description=__doc__)
    parser.add_argument("--buyers", type=int, default=300)
    parser.add_argument(
        "--database-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    args = parser.parse_args(argv)
    url = fresh_database(args.database_url, "marque_route_cost")
    log = ROOT / "bench" / "results" / "route-cost-server.log"
    server = Server(url, 1, Path(log), env_overrides={**HOLD_DISPATCHER})
    try:
        prepare_database(url)
        server.start()
        engine = create_engine(url)
        open_sales(engine, CHOICES[0][0])
        walk = Walk(server, provision_buyers(engine, args.buyers))
        engine.dispose()
        walk.run()
        print(f"{'step':36s} {'server CPU ms':>14s} {'wall ms':>9s}   (per request, one at a time)")
        for name, (cpu_ms, wall_ms) in walk.costs.items():
            print(f"{name:36s} {cpu_ms:14.2f} {wall_ms:9.2f}")
    finally:
        server.stop()
        drop_database(url)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
