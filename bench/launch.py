"""The launch-night benchmark: ``python -m bench.launch --start --workers 2`` (or
``marque bench launch ...``). See docs/benchmarks.md for what it does and what it found.

Phases: start (or target) a server on PostgreSQL (with --private-postgres, a throwaway
cluster that preloads pg_stat_statements; with --sqlite, a fresh SQLite file, marque's
embedded default) -> measure the durable-commit ceiling -> open sales
-> provision signed-in buyers -> replay the launch (or the contention variant) while sampling
CPU and PostgreSQL (and its statement statistics, where preloaded) -> wait for the webhooks
-> verify -> write
bench/results/<timestamp>-<label>.json and print a summary. Exit status 1 when a check failed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Coroutine
from datetime import UTC, datetime
from typing import Any

from bench import (
    ceiling,
    private_postgres,
    profile,
    provision,
    report,
    stats,
    top_statements,
    verify,
)
from bench.contention import plan_attempts, run_contention
from bench.driver import Driver
from bench.journey import Launch, Ledger, Plan, configure_all
from bench.resources import ResourceSampler
from bench.server import (
    ROOT,
    SOURCE,
    Server,
    drop_database,
    fresh_database,
    prepare_database,
    use_snapshot,
)
from bench.sqlite import bench_engine, fresh_sqlite, is_sqlite, sqlite_file
from bench.stats import Recorder
from bench.webhooks import HOLD_DISPATCHER, WebhookSigner
from marque.config import Settings

RESULTS = ROOT / "bench" / "results"
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def run_async(coroutine: Coroutine[Any, Any, Ledger]) -> Ledger:
    """On uvloop when it is installed (it comes with uvicorn[standard]): a cheaper driver."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="marque bench launch", description=__doc__)
    target = p.add_argument_group("target")
    target.add_argument("--url", help="an existing server (needs --database-url of its database)")
    target.add_argument("--start", action="store_true", help="start marque serve for the run")
    target.add_argument("--workers", type=int, default=1, help="server processes with --start")
    target.add_argument(
        "--database-url",
        help="PostgreSQL; with --start a fresh database is made beside it (unless "
        f"--reuse-database); default {DEFAULT_POSTGRES}. With --url, a sqlite:/// URL works too",
    )
    target.add_argument(
        "--sqlite",
        action="store_true",
        help="with --start: on SQLite, marque's embedded default: a fresh file in a temporary "
        "folder (deleted afterwards unless --keep-database), --workers processes (default 1)",
    )
    target.add_argument(
        "--private-postgres",
        action="store_true",
        help="run on a throwaway PostgreSQL cluster (initdb, free port, pg_stat_statements "
        "preloaded, the --database-url server's durability and memory settings), deleted "
        "afterwards",
    )
    target.add_argument("--reuse-database", action="store_true")
    target.add_argument("--keep-database", action="store_true", help="do not drop it afterwards")
    target.add_argument("--server-env", action="append", default=[], metavar="KEY=VALUE")
    target.add_argument("--server-log-level", default="INFO", help="INFO keeps access logs")
    target.add_argument(
        "--checkout",
        metavar="REF",
        help="serve a committed revision (e.g. HEAD) from a snapshot, not the working tree",
    )
    load = p.add_argument_group("launch")
    load.add_argument("--buyers", type=int, default=200)
    load.add_argument("--rate", type=float, default=50.0, help="arrivals per second")
    load.add_argument("--configure-share", type=float, default=0.25)
    load.add_argument("--retry-share", type=float, default=0.10)
    load.add_argument("--duplicate-webhook-share", type=float, default=0.10)
    load.add_argument(
        "--webhooks",
        choices=("driver", "server"),
        default="driver",
        help="who delivers the sandbox's webhooks: the driver at once (like a provider's "
        "fleet; needs the server's MARQUE_SECRET_KEY in this environment) or the sandbox "
        "dispatcher thread of each server process",
    )
    load.add_argument("--limited-share", type=float, default=0.05)
    load.add_argument("--limited-cap", type=int, help="set the limited edition's cap first")
    load.add_argument("--lock-share", type=float, default=0.65)
    load.add_argument("--cancel-share", type=float, default=0.05)
    load.add_argument("--connections", type=int, default=512)
    load.add_argument("--timeout", type=float, default=30.0)
    load.add_argument("--max-retries", type=int, default=3)
    variants = p.add_argument_group("variants")
    variants.add_argument("--crash", action="store_true", help="SIGKILL one worker mid-run")
    variants.add_argument("--overload", action="store_true", help="offer 3x --rate")
    variants.add_argument("--contention", action="store_true")
    variants.add_argument("--contention-attempts", type=int, default=100_000)
    variants.add_argument("--contention-clients", type=int, default=256)
    variants.add_argument("--contention-cap", type=int, default=10_000)
    variants.add_argument("--contention-duplicate-share", type=float, default=0.10)
    extra = p.add_argument_group("measurement")
    extra.add_argument("--ceiling-seconds", type=int, default=5, help="0 skips the ceiling")
    extra.add_argument(
        "--ceiling-clients", default="1,16", help="comma-separated client counts; the best counts"
    )
    extra.add_argument("--profile", action="store_true", help="py-spy the server processes")
    extra.add_argument("--drain-seconds", type=float, default=60.0)
    extra.add_argument("--label", default="")
    args = p.parse_args(argv)
    if not args.start and not args.url:
        p.error("give --start or --url")
    if args.crash and not args.start:
        p.error("--crash needs --start (the bench kills and restarts its own server)")
    if args.private_postgres and (not args.start or args.reuse_database or args.keep_database):
        p.error("--private-postgres needs --start, and its cluster keeps no database afterwards")
    if args.sqlite:
        refuse_with_sqlite(p, args)
    elif args.start and args.database_url and is_sqlite(args.database_url):
        p.error("--start on SQLite: give --sqlite (a fresh file), not a sqlite:/// --database-url")
    args.database_url = args.database_url or DEFAULT_POSTGRES
    if args.overload:
        args.rate *= 3
        args.buyers *= 3
    return args


def refuse_with_sqlite(p: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """What --sqlite cannot be combined with, and why."""
    if not args.start:
        p.error(
            "--sqlite needs --start (for a running server on SQLite give --url and "
            "--database-url sqlite:///its/file.db)"
        )
    if args.private_postgres:
        p.error("--sqlite and --private-postgres exclude each other")
    if args.database_url or args.reuse_database:
        p.error(
            "--sqlite makes a fresh SQLite file of its own: no --database-url or --reuse-database"
        )


def label_of(args: argparse.Namespace) -> str:
    kind = "contention" if args.contention else "launch"
    parts = [args.label or kind, f"w{args.workers}" if args.start else "url"]
    parts += [name for name in ("crash", "overload") if getattr(args, name)]
    if args.private_postgres:
        parts.append("privatepg")
    if args.sqlite:
        parts.append("sqlite")
    if args.webhooks == "server" and not args.contention:
        parts.append("dispatcher")
    return "-".join(parts)


class Run:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.label = label_of(args)
        self.stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        self.server: Server | None = None
        self.cluster: private_postgres.PrivateCluster | None = None
        self.database_url: str = args.database_url
        self.sqlite = bool(args.sqlite) or is_sqlite(args.database_url)
        self.created_database: str | None = None  # the one teardown drops
        self.result: dict[str, Any] = {"label": self.label, "argv": sys.argv[1:]}
        self.recorder = Recorder()

    # ------------------------------------------------------------------ set-up
    def setup(self) -> str:
        args = self.args
        if args.start:
            if args.checkout:
                tree = use_snapshot(args.checkout)
                self.result["commit"] = SOURCE.commit
                print(f"serving {args.checkout} = {SOURCE.commit} from {tree}")
            admin_url = args.database_url
            if args.private_postgres:
                print("starting a private PostgreSQL cluster (pg_stat_statements preloaded)")
                self.cluster = private_postgres.start(args.database_url)
                print(f"  {self.cluster.folder}, port {self.cluster.port}")
                self.result["private_postgres"] = self.cluster.describe()
                admin_url = self.cluster.url
            if args.sqlite:
                self.database_url = self.created_database = fresh_sqlite()
            elif not args.reuse_database:
                self.database_url = self.created_database = fresh_database(admin_url)
            print(f"database {self.database_url}: migrate, seed")
            prepare_database(self.database_url)
            self._stage()  # before the server reads (and caches) the catalogue
            overrides = {"MARQUE_LOG_LEVEL": args.server_log_level}
            if args.webhooks == "driver":
                overrides.update(HOLD_DISPATCHER)
            else:
                overrides["MARQUE_SANDBOX_WEBHOOK_DUPLICATE_RATE"] = str(
                    args.duplicate_webhook_share
                )
            overrides.update(item.split("=", 1) for item in args.server_env)
            RESULTS.mkdir(parents=True, exist_ok=True)
            log = RESULTS / f"{self.stamp}-{self.label}-server.log"
            self.server = Server(self.database_url, args.workers, log, overrides)
            print(f"marque serve --workers {args.workers} (log {log.relative_to(ROOT)})")
            self.server.start()
            return self.server.base_url
        print("targeting a running server: duplicate webhooks follow its own settings")
        self._stage()
        return str(args.url)

    def _stage(self) -> None:
        """Sales open now; the limited edition's cap as asked."""
        args = self.args
        engine = bench_engine(self.database_url, pool_size=1)
        try:
            provision.open_sales(engine, "arc")
            cap = args.contention_cap if args.contention else args.limited_cap
            if cap:
                provision.set_unit_cap(engine, "arc", "founders", cap)
        finally:
            engine.dispose()

    def teardown(self) -> None:
        try:
            if self.server is not None:
                self.server.stop()
            if self.created_database is not None and not self.args.keep_database:
                drop_database(self.created_database)
            elif self.created_database is not None and self.sqlite:
                print(f"SQLite database kept: {sqlite_file(self.created_database)}")
        finally:
            if self.cluster is not None:
                log = RESULTS / f"{self.stamp}-{self.label}-postgres.log"
                RESULTS.mkdir(parents=True, exist_ok=True)
                self.cluster.stop(keep_log=log)
                print(f"private PostgreSQL stopped and deleted (its log: {log.relative_to(ROOT)})")

    # ------------------------------------------------------------------ the run
    def run(self) -> int:
        args = self.args
        engine = None
        try:
            base_url = self.setup()
            engine = bench_engine(self.database_url, pool_size=4)
            self.result["machine"] = report.machine(engine)
            if args.ceiling_seconds > 0:
                print(f"durable-commit ceiling ({args.ceiling_seconds} s)")
                measure = ceiling.measure_sqlite if self.sqlite else ceiling.measure
                self.result["ceiling"] = measure(
                    self.database_url,
                    clients=[int(n) for n in str(args.ceiling_clients).split(",")],
                    seconds=args.ceiling_seconds,
                )
            wanted = self._buyers_needed() + 1
            print(f"provisioning {wanted} signed-in buyers")
            started = time.monotonic()
            buyers = provision.provision_buyers(engine, wanted)
            self.result["provision_seconds"] = round(time.monotonic() - started, 1)
            ledger = run_async(self._replay(base_url, engine, buyers))
            self._afterwards(engine, ledger, [b.id for b in buyers])
        finally:
            if engine is not None:
                engine.dispose()
            self.teardown()
        self.result["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
        RESULTS.mkdir(parents=True, exist_ok=True)
        path = RESULTS / f"{self.stamp}-{self.label}.json"
        path.write_text(json.dumps(self.result, indent=2, default=str))
        report.print_summary(self.result)
        print(f"\nresults: {path.relative_to(ROOT)}")
        return 0 if all(check["ok"] for check in self.result["checks"]) else 1

    def _buyers_needed(self) -> int:
        args = self.args
        if args.contention:
            attempts = int(args.contention_attempts)
            return attempts - int(attempts * float(args.contention_duplicate_share))
        return int(args.buyers)

    async def _replay(self, base_url: str, engine: Any, buyers: list[provision.Buyer]) -> Ledger:
        args = self.args
        driver = Driver(
            base_url,
            self.recorder,
            connections=args.connections,
            timeout=args.timeout,
            max_retries=args.max_retries,
        )
        setup_buyer, buyers = buyers[0], buyers[1:]
        try:
            plain, limited = await configure_all(driver, setup_buyer.token)
            self.recorder.steps.pop("setup", None)
            seconds = self._expected_seconds()
            sampler = ResourceSampler(
                engine,
                self.server.processes if self.server else list,
                postmaster_pid=self.cluster.postmaster_pid() if self.cluster else None,
            )
            statements = top_statements.prepare(engine)
            spy = self._profiler(seconds)
            log_offset = self._log_size()
            sampler.start()
            self.result["replay_started_wall"] = time.time()
            started = driver.now() + 0.2
            crash = asyncio.create_task(self._crash(started + seconds / 2)) if args.crash else None
            lag = asyncio.create_task(self._watch_loop_lag())
            if args.contention:
                ledger = await self._contend(driver, limited, buyers)
            else:
                plan = Plan(
                    buyers=len(buyers),
                    rate=args.rate,
                    configure_share=args.configure_share,
                    retry_share=args.retry_share,
                    limited_share=args.limited_share,
                    lock_share=args.lock_share,
                    cancel_share=args.cancel_share,
                    webhooks=args.webhooks,
                    duplicate_webhook_share=args.duplicate_webhook_share,
                )
                launch = Launch(driver, plan, buyers, plain, limited)
                if args.webhooks == "driver":
                    launch.signer = WebhookSigner(Settings())
                print(f"replaying {plan.buyers} buyers at {plan.rate}/s ({plan.seconds:.0f} s)")
                await launch.run(started)
                ledger = launch.ledger
                self.result["replay_mismatches"] = launch.replay_mismatches
            self.result["replay_seconds"] = round(driver.now() - started, 2)
            lag.cancel()
            if crash is not None:
                self.result["crash"] = await crash
            sampler.stop()
            self.result["resources"] = sampler.report()
            if statements["available"]:  # before the drain and the verification's queries
                statements = top_statements.collect(engine)
            self.result["pg_stat_statements"] = statements
            if spy is not None:
                spy[0].wait(timeout=seconds + 60)
                self.result["profile"] = profile.summarise(spy[1]) if spy[1].exists() else None
            if self.server is not None:
                self.result["server_latencies"] = report.server_latencies(
                    self.server.log_path, log_offset
                )
            return ledger
        finally:
            await driver.close()

    async def _watch_loop_lag(self, every: float = 0.02) -> None:
        """How late the driver's own event loop wakes up (step ``driver_loop_lag``): every
        latency the driver measures includes it, so a shed answer's time at the client is
        the server's only where this is small."""
        loop = asyncio.get_running_loop()
        while True:
            planned = loop.time() + every
            await asyncio.sleep(every)
            self.recorder.add_latency("driver_loop_lag", max(0.0, loop.time() - planned))

    def _expected_seconds(self) -> float:
        if self.args.contention:
            return max(5.0, float(self.args.contention_attempts) / 500)
        return float(self.args.buyers / self.args.rate)

    def _profiler(self, seconds: float) -> Any:
        if not self.args.profile or self.server is None or self.server.process is None:
            return None
        output = RESULTS / f"{self.stamp}-{self.label}-pyspy.txt"
        spied = profile.start(self.server.process.pid, int(seconds) + 1, output)
        return None if spied is None else (spied, output)

    def _log_size(self) -> int:
        if self.server is None or not self.server.log_path.exists():
            return 0
        return self.server.log_path.stat().st_size

    async def _crash(self, moment: float) -> dict[str, Any]:
        assert self.server is not None, "--crash needs --start"
        await asyncio.sleep(max(0.0, moment - asyncio.get_running_loop().time()))
        killed_at = time.time()
        victim = await asyncio.to_thread(self.server.kill_one_worker)
        print(f"  killed server process {victim} with SIGKILL")
        await asyncio.to_thread(self.server.wait_ready)
        return {
            "killed_pid": victim,
            "killed_at": killed_at,
            "back_after_s": round(time.time() - killed_at, 2),
        }

    async def _contend(self, driver: Driver, limited: Any, buyers: list[provision.Buyer]) -> Ledger:
        args = self.args
        if limited is None:
            raise SystemExit("the limited edition could not be configured")
        planned = plan_attempts(buyers, args.contention_attempts, args.contention_duplicate_share)
        print(
            f"contention: {len(planned)} attempts by {args.contention_clients} clients, cap {args.contention_cap}"
        )
        outcome = await run_contention(driver, limited, planned, args.contention_clients)
        self.result["contention"] = outcome.analyse(args.contention_cap)
        ledger = Ledger()
        for seen in outcome.seen:
            if seen.order_id:
                ledger.reserved[seen.order_id] = seen.attempt.buyer.id
                ledger.limited_reserved.add(seen.order_id)
                ledger.keys.setdefault((seen.attempt.buyer.id, seen.attempt.key), set()).add(
                    seen.order_id
                )
        return ledger

    # ------------------------------------------------------------------ afterwards
    def _afterwards(self, engine: Any, ledger: Ledger, buyer_ids: list[str]) -> None:
        args = self.args
        drained = verify.drain(engine, ledger, args.drain_seconds)
        self.result["drain_seconds"] = round(drained, 1)
        times = verify.timings(engine, ledger)
        for latency in times["webhook_latencies"]:
            self.recorder.add_latency("confirmation", latency)
        self.result["steps"] = self.recorder.report()
        since = self.result.get("replay_started_wall")
        replay_seconds = float(self.result.get("replay_seconds") or 0)
        reserved_ok = sum(
            n for label, n in self.recorder.steps["reserve"].outcomes.items() if label[:1] == "2"
        )
        self.result["headline"] = {
            "offered buyers/s": None if args.contention else args.rate,
            "reservations acknowledged": len(ledger.reserved),
            "reservations acknowledged/s": round(reserved_ok / replay_seconds, 1)
            if replay_seconds
            else None,
            "paid reservations/s (from start)": stats.rate(times["paid_at"], since),
            "paid reservations/s while offered": stats.rate_within(
                times["paid_at"], since, self._expected_seconds()
            ),
            "paid reservations": len(times["paid_at"]),
            "locks/s (first to last lock)": stats.rate(times["locked_at"]),
            "locks": len(times["locked_at"]),
            "errors other than 409/429/503": self.recorder.unexpected_errors(),
            "ceiling commits/s": (self.result.get("ceiling") or {}).get("commits_per_second"),
        }
        if args.contention:
            analysis = self.result["contention"]
            attempts = sum(self.recorder.steps["contend"].outcomes.values())
            self.result["headline"] = {
                "attempts (duplicates)": f"{analysis['attempts']} ({analysis['duplicates']})",
                "answered attempts/s": round(attempts / replay_seconds, 1)
                if replay_seconds
                else None,
                "confirmed orders / cap": f"{analysis['confirmed_orders']} / {analysis['cap']}",
                "refusals": analysis["refusals"],
                "false sold-out answers": analysis["false_sold_out"],
                "errors other than 409/429/503": self.recorder.unexpected_errors(),
                "ceiling commits/s": self.result["headline"]["ceiling commits/s"],
            }
        paid_rate = self.result["headline"].get("paid reservations/s (from start)")
        top = self.result["headline"].get("ceiling commits/s")
        if paid_rate and top:
            # two significant digits: a share of a ceiling far above the rate is not 0.0
            self.result["headline"]["paid/s as share of ceiling"] = float(f"{paid_rate / top:.2g}")
        commits = self.result.get("resources", {}).get("postgres_counters", {}).get("xact_commit")
        if commits and times["paid_at"]:
            self.result["headline"]["transactions per paid reservation (all)"] = round(
                commits / len(times["paid_at"]), 1
            )
        cpu = self.result.get("resources", {}).get("cpu_seconds", {})
        if cpu and ledger.reserved:
            self.result["headline"]["cpu ms per acknowledged reservation"] = {
                name: round(1000 * seconds / len(ledger.reserved), 1)
                for name, seconds in cpu.items()
            }
        checks = verify.verify(
            engine,
            self.database_url,
            ledger,
            buyer_ids,
            replay_mismatches=int(self.result.get("replay_mismatches", 0)),
        )
        if args.contention:
            analysis = self.result["contention"]
            checks.append(
                verify.Check(
                    "contention: exactly the cap confirmed, no false sold-out",
                    analysis["exactly_cap_confirmed"] and analysis["false_sold_out"] == 0,
                    f"{analysis['confirmed_orders']} confirmed of cap {analysis['cap']}; "
                    f"false sold-out answers: {analysis['false_sold_out']}",
                )
            )
        self.result["checks"] = [check.as_dict() for check in checks]


def main(argv: list[str] | None = None) -> int:
    return Run(parse(argv)).run()


if __name__ == "__main__":
    sys.exit(main())
