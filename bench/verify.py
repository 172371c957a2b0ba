"""After the replay: wait for the webhooks to land, then prove nothing was lost or doubled.

Read straight from the database (marque's own table definitions), for the run's buyers:
- no limited edition holds more live orders than its cap;
- every acknowledged reservation exists; every acknowledged payment, lock and cancel shows;
- one order per (buyer, Idempotency-Key), and a replay answered with the same order;
- at most one captured payment per order, one sandbox charge per payment;
- each captured payment posted to the ledger exactly once;
- queue numbers never repeat within a configuration;
- ``marque ledger check`` passes.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, and_, func, select

from bench.journey import Ledger
from bench.server import marque_env, run_marque
from marque.adapters.db.tables.catalog import trims
from marque.adapters.db.tables.orders import (
    ledger_postings,
    orders,
    payments,
    webhook_receipts,
)
from marque.adapters.db.tables.sandbox_payments import sandbox_payments

LIVE = ("pending_payment", "reserved", "locked", "allocated", "ready", "delivered")
PAID = ("reserved", "locked", "allocated", "ready", "delivered", "cancelled")
CHUNK = 5000


@dataclass
class Check:
    name: str
    ok: bool
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "detail": self.detail}


def chunks(values: Iterable[str]) -> Iterator[list[str]]:
    batch: list[str] = []
    for value in values:
        batch.append(value)
        if len(batch) == CHUNK:
            yield batch
            batch = []
    if batch:
        yield batch


def order_rows(engine: Engine, order_ids: Iterable[str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    columns = (orders.c.id, orders.c.status, orders.c.paid_at, orders.c.locked_at)
    with engine.connect() as conn:
        for batch in chunks(order_ids):
            for row in conn.execute(select(*columns).where(orders.c.id.in_(batch))):
                found[row.id] = row
    return found


def drain(engine: Engine, ledger: Ledger, seconds: float) -> float:
    """Wait until every acknowledged payment's webhook has been applied (or give up)."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        rows = order_rows(engine, ledger.paid)
        if all(row.paid_at is not None for row in rows.values()) and len(rows) == len(ledger.paid):
            break
        time.sleep(0.5)
    return time.monotonic() - started


def timings(engine: Engine, ledger: Ledger) -> dict[str, Any]:
    """Paid and locked times, and the confirmation latency: from the provider recording the
    payment as succeeded to marque applying its webhook (the receipt's time: delivery plus
    handling, both stamped by this machine's clock)."""
    rows = order_rows(engine, ledger.paid)
    confirmation: list[float] = []
    confirmed_at: list[datetime] = []
    with engine.connect() as conn:
        for batch in chunks(ledger.paid):
            query = (
                select(
                    sandbox_payments.c.succeeded_at,
                    func.min(webhook_receipts.c.received_at).label("received_at"),
                )
                .select_from(
                    payments.join(
                        sandbox_payments, sandbox_payments.c.merchant_reference == payments.c.id
                    ).join(webhook_receipts, webhook_receipts.c.merchant_reference == payments.c.id)
                )
                .where(
                    payments.c.order_id.in_(batch),
                    webhook_receipts.c.event_type == "payment.succeeded",
                    sandbox_payments.c.succeeded_at.is_not(None),
                )
                .group_by(payments.c.id, sandbox_payments.c.succeeded_at)
            )
            for found in conn.execute(query):
                confirmation.append((found.received_at - found.succeeded_at).total_seconds())
                confirmed_at.append(found.received_at)
    locked_at: list[datetime] = []
    for order_id in ledger.paid:
        row = rows.get(order_id)
        if row is None or row.paid_at is None:
            continue
        if row.locked_at is not None and row.locked_at > row.paid_at:
            locked_at.append(row.locked_at)
    # "paid" = marque applied the payment's webhook (durably), not the provider's own time.
    return {"webhook_latencies": confirmation, "paid_at": confirmed_at, "locked_at": locked_at}


def _live_over_cap(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        caps = conn.execute(
            select(trims.c.model_code, trims.c.code, trims.c.unit_cap).where(
                trims.c.limited_edition.is_(True)
            )
        ).all()
        over = []
        for model, trim, cap in caps:
            live = conn.execute(
                select(func.count()).where(
                    orders.c.model_code == model,
                    orders.c.trim_code == trim,
                    orders.c.status.in_(LIVE),
                )
            ).scalar_one()
            if cap is not None and live > cap:
                over.append(f"{model}/{trim}: {live} live orders, cap {cap}")
    return over


def _grouped(engine: Engine, statement: Any) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(statement).all())


def verify(
    engine: Engine,
    database_url: str,
    ledger: Ledger,
    buyer_ids: Sequence[str],
    *,
    replay_mismatches: int = 0,
) -> list[Check]:
    checks: list[Check] = []
    over = _live_over_cap(engine)
    checks.append(Check("no limited edition over its cap", not over, "; ".join(over) or "ok"))

    rows = order_rows(engine, ledger.reserved)
    missing = [order_id for order_id in ledger.reserved if order_id not in rows]
    unpaid = [o for o in ledger.paid if o in rows and rows[o].status not in PAID]
    unlocked = [o for o in ledger.locked if o in rows and rows[o].locked_at is None]
    uncancelled = [o for o in ledger.cancelled if o in rows and rows[o].status != "cancelled"]
    lost = len(missing) + len(unpaid) + len(unlocked) + len(uncancelled)
    checks.append(
        Check(
            "every acknowledged reservation present (and its payment, lock, cancel)",
            lost == 0,
            f"{len(ledger.reserved)} reserved, {len(ledger.paid)} paid, {len(ledger.locked)} "
            f"locked, {len(ledger.cancelled)} cancelled acknowledged; missing {len(missing)}, "
            f"payment not applied {len(unpaid)}, lock not kept {len(unlocked)}, "
            f"cancel not kept {len(uncancelled)}",
        )
    )

    split = sum(1 for ids in ledger.keys.values() if len(ids) > 1) + replay_mismatches
    doubled = 0
    for batch in chunks(buyer_ids):
        doubled += len(
            _grouped(
                engine,
                select(orders.c.customer_id, orders.c.idempotency_key)
                .where(orders.c.customer_id.in_(batch), orders.c.idempotency_key.is_not(None))
                .group_by(orders.c.customer_id, orders.c.idempotency_key)
                .having(func.count() > 1),
            )
        )
    checks.append(
        Check(
            "no duplicate order per Idempotency-Key",
            split == 0 and doubled == 0,
            f"keys answered with two orders: {split}; keys holding two orders: {doubled}",
        )
    )

    twice_captured = 0
    twice_charged = 0
    not_posted_once = 0
    for batch in chunks(ledger.reserved):
        twice_captured += len(
            _grouped(
                engine,
                select(payments.c.order_id)
                .where(payments.c.order_id.in_(batch), payments.c.status == "succeeded")
                .group_by(payments.c.order_id)
                .having(func.count() > 1),
            )
        )
        twice_charged += len(
            _grouped(
                engine,
                select(sandbox_payments.c.merchant_reference)
                .join(payments, payments.c.id == sandbox_payments.c.merchant_reference)
                .where(payments.c.order_id.in_(batch), sandbox_payments.c.status == "succeeded")
                .group_by(sandbox_payments.c.merchant_reference)
                .having(func.count() > 1),
            )
        )
        postings = (
            select(payments.c.id, func.count(ledger_postings.c.id).label("n"))
            .select_from(
                payments.outerjoin(
                    ledger_postings,
                    and_(
                        ledger_postings.c.source_id == payments.c.id,
                        ledger_postings.c.kind == "payment_captured",
                    ),
                )
            )
            .where(payments.c.order_id.in_(batch), payments.c.captured_at.is_not(None))
            .group_by(payments.c.id)
        )
        not_posted_once += sum(1 for row in _grouped(engine, postings) if row.n != 1)
    checks.append(
        Check(
            "no duplicate charge per order",
            twice_captured == 0 and twice_charged == 0,
            f"orders with two captured payments: {twice_captured}; "
            f"payments charged twice by the provider: {twice_charged}",
        )
    )
    checks.append(
        Check(
            "each captured payment posted exactly once",
            not_posted_once == 0,
            f"captured payments without exactly one posting: {not_posted_once}",
        )
    )

    repeated = _grouped(
        engine,
        select(orders.c.configuration_code, orders.c.queue_number)
        .where(orders.c.queue_number.is_not(None))
        .group_by(orders.c.configuration_code, orders.c.queue_number)
        .having(func.count() > 1),
    )
    with engine.connect() as conn:
        numbered = conn.execute(
            select(func.count()).where(orders.c.queue_number.is_not(None))
        ).scalar_one()
    checks.append(
        Check(
            "queue numbers never repeat within a configuration",
            not repeated,
            f"{numbered} orders numbered; repeated numbers: {len(repeated)}",
        )
    )

    env = marque_env(database_url, MARQUE_LOG_JSON="false")
    done = run_marque("ledger", "check", env=env)
    last = (done.stdout.strip().splitlines() or ["(no output)"])[-1]
    checks.append(Check("marque ledger check passes", done.returncode == 0, last))
    checks.append(_queue_tallies(env))
    return checks


def _queue_tallies(env: dict[str, str]) -> Check:
    """The served revision's own `marque sales queue-check`: the tallies its trigger kept
    through the run (many processes, a SIGKILL) equal a count of the orders."""
    name = "queue tallies match the orders (marque sales queue-check)"
    done = run_marque("sales", "queue-check", env=env)
    if done.returncode == 2 and "No such command" in done.stderr:
        return Check(name, True, "skipped: the served revision has no queue tallies")
    lines = done.stdout.strip().splitlines() or ["(no output)"]
    return Check(name, done.returncode == 0, "; ".join(lines[-3:]))
