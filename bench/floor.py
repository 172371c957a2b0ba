"""The stack's floor on this machine: the issue's reference point, measured as the launch is.

The issue sets its targets beside "a FastAPI + asyncpg endpoint doing one durable idempotent
insert: about 800-900 requests/s" on its 2-core machine. This serves that endpoint
(``bench/floor_app.py``, nothing of marque) with uvicorn's worker processes on the same
PostgreSQL, offers it an open-model load at rising rates with the launch benchmark's own
driver (latency from each request's scheduled time; a share sent again with the same key),
and reports for each rate the answers per second, p50/p95/p99 and the CPU of the server,
PostgreSQL and the driver per request. Then it checks that every acknowledged key has its
one row, with the id it was answered.

What it says about marque: a paid reservation is at least two such durable requests (the
reservation, the payment's webhook) and, at the launch's ratio, 0.65 of a lock; so the
highest rate held here, divided by about 2.65, is the most paid reservations per second
this stack could carry on this machine if marque's own work cost nothing
(docs/scaling.md).

    python -m bench.floor --private-postgres --workers 2 --rates 400,800,1200,1600
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil
from sqlalchemy import create_engine, make_url

from bench import private_postgres, report
from bench.driver import Driver, sleep_until
from bench.floor_app import CREATE, DSN_VARIABLE, TABLE
from bench.resources import ResourceSampler
from bench.server import ROOT, drop_database, free_port, fresh_database, stop_process
from bench.stats import Recorder

RESULTS = ROOT / "bench" / "results"
#: Requests a paid reservation needs at least, at the launch's share of buyers who lock.
REQUESTS_PER_PAID = 2.65


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.floor", description=__doc__.split("\n")[0])
    p.add_argument(
        "--database-url",
        default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
        help="a PostgreSQL server to create the scratch database on",
    )
    p.add_argument(
        "--private-postgres",
        action="store_true",
        help="a throwaway cluster with the shared server's settings (as bench.launch)",
    )
    p.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    p.add_argument("--rates", default="400,800,1200,1600", help="requests/s offered, one step each")
    p.add_argument("--seconds", type=float, default=15.0, help="length of each step")
    p.add_argument(
        "--retry-share", type=float, default=0.1, help="share sent again with the same key"
    )
    p.add_argument("--connections", type=int, default=256, help="the driver's keep-alive pool")
    p.add_argument(
        "--p99-ms", type=float, default=250.0, help="a rate is held if its p99 is within this"
    )
    p.add_argument("--label", default="floor")
    return p.parse_args(argv)


@dataclass
class Acknowledged:
    key: str
    buyer: str
    id: int


class FloorServer:
    """uvicorn serving ``bench.floor_app`` in a subprocess, with its log in ``log_path``."""

    def __init__(self, dsn: str, workers: int, log_path: Path) -> None:
        self.port = free_port()
        self.log_path = log_path
        env = dict(os.environ, **{DSN_VARIABLE: dsn})
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            "bench.floor_app:create",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            str(workers),
            "--no-access-log",
            "--log-level",
            "warning",
        ]
        with log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
            )
        self.workers = workers

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def processes(self) -> list[psutil.Process]:
        try:
            main = psutil.Process(self.process.pid)
            return [main, *main.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def wait_ready(self, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"the floor server exited early; see {self.log_path}")
            try:
                answer = httpx.get(f"{self.base_url}/healthz", timeout=2)
                if answer.status_code == 200 and len(self.processes()) > self.workers:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise SystemExit(f"the floor server did not become ready; see {self.log_path}")

    def stop(self) -> None:
        stop_process(self.process)


async def _one(
    driver: Driver, moment: float, key: str, again: bool, acknowledged: list[Acknowledged]
) -> None:
    await sleep_until(moment)
    buyer = f"b-{key}"
    answer = await driver.call(
        "reserve", "POST", "/reserve", scheduled=moment, key=key, body={"buyer": buyer}
    )
    if not answer.ok:
        return
    acknowledged.append(Acknowledged(key, buyer, int(answer.body["id"])))
    if again:  # a buyer's app that did not hear the answer sends the same request again
        retry = await driver.call(
            "reserve_retry", "POST", "/reserve", key=key, body={"buyer": buyer}
        )
        if retry.ok and int(retry.body["id"]) != int(answer.body["id"]):
            driver.recorder.attempt("reserve_retry", "other id")


async def _step(
    base_url: str, rate: float, seconds: float, args: argparse.Namespace, prefix: str
) -> tuple[Recorder, list[Acknowledged], float]:
    recorder = Recorder()
    driver = Driver(base_url, recorder, connections=args.connections, timeout=30, max_retries=3)
    acknowledged: list[Acknowledged] = []
    try:
        start = driver.now() + 0.5
        count = int(rate * seconds)
        tasks = [
            asyncio.create_task(
                _one(
                    driver,
                    start + i / rate,
                    f"{prefix}-{i}",
                    random.random() < args.retry_share,
                    acknowledged,
                )
            )
            for i in range(count)
        ]
        await asyncio.gather(*tasks)
        elapsed = driver.now() - start
    finally:
        await driver.close()
    return recorder, acknowledged, elapsed


def _verify(dsn: str, acknowledged: list[Acknowledged]) -> dict[str, Any]:
    async def rows() -> dict[str, tuple[int, str]]:
        conn = await asyncpg.connect(dsn)
        try:
            found = await conn.fetch(f"SELECT key, id, buyer FROM {TABLE}")  # noqa: S608
        finally:
            await conn.close()
        return {row["key"]: (row["id"], row["buyer"]) for row in found}

    stored = asyncio.run(rows())
    missing = [a.key for a in acknowledged if a.key not in stored]
    wrong = [a.key for a in acknowledged if a.key in stored and stored[a.key] != (a.id, a.buyer)]
    return {
        "ok": not missing and not wrong,
        "acknowledged": len(acknowledged),
        "rows": len(stored),
        "missing": len(missing),
        "other_id_or_buyer": len(wrong),
    }


def _per_request(cpu: dict[str, float], answered: int) -> dict[str, float | None]:
    if not answered:
        return {}
    return {name: round(1000 * seconds / answered, 3) for name, seconds in cpu.items()}


def run(args: argparse.Namespace) -> dict[str, Any]:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    RESULTS.mkdir(parents=True, exist_ok=True)
    cluster = private_postgres.start(args.database_url) if args.private_postgres else None
    base = cluster.url if cluster else args.database_url
    url = fresh_database(base, prefix="marque_floor")
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    engine = create_engine(url)
    server: FloorServer | None = None
    result: dict[str, Any] = {"label": args.label, "argv": sys.argv[1:], "steps": []}
    try:
        result["machine"] = report.machine(engine)
        result["machine"]["libraries"]["asyncpg"] = asyncpg.__version__
        asyncio.run(_create_table(dsn))
        server = FloorServer(dsn, args.workers, RESULTS / f"{stamp}-{args.label}-server.log")
        server.wait_ready()
        acknowledged: list[Acknowledged] = []
        for rate in (float(r) for r in args.rates.split(",")):
            print(f"offering {rate:.0f} requests/s for {args.seconds:.0f} s", flush=True)
            sampler = ResourceSampler(
                engine,
                server.processes,
                postmaster_pid=cluster.postmaster_pid() if cluster else None,
            )
            sampler.start()
            recorder, acked, elapsed = asyncio.run(
                _step(server.base_url, rate, args.seconds, args, f"r{rate:.0f}")
            )
            sampler.stop()
            acknowledged.extend(acked)
            steps = recorder.report()
            resources = sampler.report()
            answered = sum(s["count"] for s in steps.values())
            reserve = steps.get("reserve", {})
            held = (
                recorder.unexpected_errors() == 0
                and len(acked) == int(rate * args.seconds)
                and (reserve.get("p99_ms") or 0) <= args.p99_ms
            )
            step = {
                "offered_per_second": rate,
                "answered_per_second": round(answered / elapsed, 1),
                "held": held,
                "steps": steps,
                "cpu_ms_per_request": _per_request(resources["cpu_seconds"], answered),
                "resources": resources,
            }
            result["steps"].append(step)
            print(
                f"  answered {step['answered_per_second']}/s, reserve p50/p95/p99 "
                f"{reserve.get('p50_ms')}/{reserve.get('p95_ms')}/{reserve.get('p99_ms')} ms, "
                f"held: {held}; CPU ms per request {step['cpu_ms_per_request']}",
                flush=True,
            )
        result["verify"] = _verify(dsn, acknowledged)
        held_rates = [s["answered_per_second"] for s in result["steps"] if s["held"]]
        result["highest_held_per_second"] = max(held_rates, default=None)
        if held_rates:
            result["paid_reservations_per_second_if_marque_cost_nothing"] = round(
                max(held_rates) / REQUESTS_PER_PAID, 1
            )
        print(f"verify: {result['verify']}")
        print(
            f"highest rate held (p99 <= {args.p99_ms:.0f} ms): {result['highest_held_per_second']}"
        )
    finally:
        if server is not None:
            server.stop()
        engine.dispose()
        drop_database(url)
        if cluster is not None:
            cluster.stop()
    path = RESULTS / f"{stamp}-{args.label}.json"
    path.write_text(json.dumps(result, indent=2, default=str))
    print(f"results: {path.relative_to(ROOT)}")
    return result


async def _create_table(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(CREATE)
    finally:
        await conn.close()


def main(argv: list[str] | None = None) -> int:
    result = run(parse(argv))
    return 0 if result.get("verify", {}).get("ok") else 1


if __name__ == "__main__":
    raise SystemExit(main())
