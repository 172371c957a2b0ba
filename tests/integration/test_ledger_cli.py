"""`marque ledger check` and `marque reconcile --date D` as an operator runs them, on a day of
real orders, then on the same day with deliberately broken records inserted behind the
application's back. Each engine gets a database of its own: the broken rows must not reach
the other tests' shared database."""

from __future__ import annotations

import dataclasses
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from conftest import Database
from money_world import World
from sqlalchemy import insert

from marque.adapters.db.tables.orders import ledger_entries, ledger_postings
from marque.adapters.payments.sandbox import SandboxPaymentProvider
from marque.domain.money import Money
from marque.domain.order_entities import Refund
from marque.domain.refunds import RefundStatus
from marque.services import cancellations, refunds
from marque.services.orders import Reservation
from marque.services.payment_ports import ProviderRefund

#: A day before the real clock's today, so the provider's report already holds its refunds.
DAY = datetime(2026, 10, 15, 9, tzinfo=UTC)


@pytest.fixture
def world(empty_database: Database) -> Iterator[World]:
    built = World.on_own_database(empty_database, DAY)
    yield built
    built.close()


def a_day_of_business(world: World) -> dict[str, str]:
    """Two paid orders, one of them cancelled and refunded; returns ids to break later."""
    kept = world.reserve(world.buyer())
    world.pay(kept.payment)
    world.clock.advance(hours=1)
    buyer = world.buyer()
    left = world.reserve(buyer)
    world.pay(left.payment)
    cancellations.cancel(world.container, buyer, left.order.id)
    refunds.run_once(world.container)
    world.deliver(left.payment.provider_reference)
    with world.container.uow(readonly=True) as uow:
        [refund] = uow.refunds.for_order(left.order.id)
    return {"order": kept.order.id, "payment": kept.payment.id, "refund": refund.id}


def insert_posting(
    world: World,
    reference: str,
    kind: str,
    order_id: str,
    source_id: str,
    amounts: list[tuple[str, int]],
) -> None:
    """A posting written straight into the tables, the way a bug or a bad manual fix would."""
    with world.container.engine.begin() as conn:
        posting_id = conn.execute(
            insert(ledger_postings)
            .values(
                reference=reference,
                kind=kind,
                order_id=order_id,
                source_id=source_id,
                at=world.clock(),
                created_at=world.clock(),
            )
            .returning(ledger_postings.c.id)
        ).scalar_one()
        conn.execute(
            insert(ledger_entries),
            [
                {
                    "posting_id": posting_id,
                    "account": account,
                    "order_id": order_id if account != "provider_clearing" else None,
                    "amount": amount,
                    "currency": "CNY",
                }
                for account, amount in amounts
            ],
        )


def test_a_clean_day_passes_both_checks(world: World) -> None:
    a_day_of_business(world)

    check = world.marque("ledger", "check")
    reconcile = world.marque("reconcile", "--date", "2026-10-15")

    assert check.returncode == 0, check.stdout + check.stderr
    assert "ledger ok" in check.stdout
    assert reconcile.returncode == 0, reconcile.stdout + reconcile.stderr
    assert "3 matched, 0 mismatch(es)" in reconcile.stdout


def test_broken_records_are_found_by_both_checks(world: World) -> None:
    ids = a_day_of_business(world)
    # 1. the captured payment posted a second time under another reference
    insert_posting(
        world,
        f"payment:{ids['payment']}:captured-again",
        "payment_captured",
        ids["order"],
        ids["payment"],
        [("provider_clearing", 500_000), ("customer_deposits", -500_000)],
    )
    # 2. the settled refund paid out a second time
    insert_posting(
        world,
        f"refund:{ids['refund']}:settled-again",
        "refund_settled",
        ids["order"],
        ids["refund"],
        [("refunds_payable", 500_000), ("provider_clearing", -500_000)],
    )
    # 3. a posting that does not balance
    insert_posting(
        world,
        "manual-fix-1",
        "applied_to_price",
        ids["order"],
        ids["order"],
        [("customer_deposits", 1_500_000), ("revenue", -1_000_000)],
    )
    # 4. money the provider took that our books never saw
    ghost = world.provider.create_payment(
        merchant_reference="P-GHOST",
        amount=Money(100, "CNY"),
        description="",
        idempotency_key="ghost",
    )
    world.provider.complete_payment(ghost.reference, succeeded=True)

    check = world.marque("ledger", "check")
    reconcile = world.marque("reconcile", "--date", "2026-10-15")

    assert check.returncode == 1, check.stdout + check.stderr
    report = check.stdout
    assert "BREACH posting_balanced: manual-fix-1" in report
    assert f"BREACH one_posting_per_capture: {ids['payment']}" in report
    assert f"BREACH refund_paid_once: {ids['refund']}" in report
    assert f"BREACH held_not_negative: {ids['order']}" in report
    assert reconcile.returncode == 1, reconcile.stdout + reconcile.stderr
    mismatches = reconcile.stdout
    assert f"MISMATCH amount_differs: payment {ids['payment']}" in mismatches
    assert f"MISMATCH amount_differs: refund {ids['refund']}" in mismatches
    assert "MISMATCH missing: payment P-GHOST" in mismatches
    with world.container.uow(readonly=True) as uow:
        stored = uow.reconciliations.latest(DAY.date(), 1)[0]
    assert not stored.ok
    assert {m.merchant_reference for m in stored.mismatches} >= {
        ids["payment"],
        ids["refund"],
        "P-GHOST",
    }


def test_reconcile_with_an_unknown_provider_exits_with_2(world: World) -> None:
    result = world.marque("reconcile", "--date", "2026-10-15", "--provider", "nowhere")

    assert result.returncode == 2
    assert "nowhere" in result.stderr


# ---------------------------------------------------------------------------- midnight

#: The refunds below are sent just before this day ends, and heard of five minutes into the
#: next (both days before the real clock's today, so the provider's report holds them).
LATE_DAY, NEXT_DAY = "2026-10-20", "2026-10-21"
PROVIDER_SETTLES = datetime(2026, 10, 20, 23, 59, tzinfo=UTC)
WORKER_HEARS = datetime(2026, 10, 21, 0, 5, tzinfo=UTC)


class SilentOnTime(SandboxPaymentProvider):
    """A provider whose refund answers do not say when the refund settled (the contract
    allows it: ``settled_at`` may be None), so the worker can only date it by its own clock."""

    def refund(self, **request: Any) -> ProviderRefund:
        return dataclasses.replace(super().refund(**request), settled_at=None)


def cancelled_late(world: World) -> Reservation:
    """An order paid at 23:50 and cancelled at once: its refund waits for the worker."""
    world.clock.now = PROVIDER_SETTLES.replace(minute=50)
    buyer = world.buyer()
    reservation = world.reserve(buyer)
    world.pay(reservation.payment)
    cancellations.cancel(world.container, buyer, reservation.order.id)
    return reservation


def refund_of(world: World, reservation: Reservation) -> Refund:
    with world.container.uow(readonly=True) as uow:
        [refund] = uow.refunds.for_order(reservation.order.id)
    return refund


def refund_heard_of_after_midnight(world: World, *, provider_says_when: bool) -> Refund:
    """A refund the provider makes at 23:59 whose answer is lost; the worker's retry at 00:05
    the next day learns that it succeeded (its webhook comes after that and changes nothing)."""
    reservation = cancelled_late(world)
    # 23:58 a 500 before any work; 23:59 the provider refunds at once and the answer is lost
    world.misbehave(sandbox_unavailable_rate=1.0)
    world.clock.now = PROVIDER_SETTLES.replace(minute=58)
    refunds.run_once(world.container)
    world.clock.now = PROVIDER_SETTLES
    refunds.run_once(world.container)
    assert refund_of(world, reservation).status is RefundStatus.RETRYING
    provider = world.misbehave()
    if not provider_says_when:
        provider = SilentOnTime(world.container.engine, world.container.settings, clock=world.clock)
        world.container.payment_providers = {"sandbox": provider}
    world.clock.now = WORKER_HEARS
    assert refunds.run_once(world.container) == 1
    assert refund_of(world, reservation).status is RefundStatus.SUCCEEDED
    payment_reference = reservation.payment.provider_reference
    assert payment_reference is not None
    world.deliver(payment_reference)
    [at_provider] = provider.inspect(payment_reference).refunds
    assert at_provider.settles_at == PROVIDER_SETTLES
    return refund_of(world, reservation)


def refund_settled_by_late_webhook(world: World, *, refund_delay_seconds: float) -> Refund:
    """The worker sends the refund at 23:59 (pending); the provider settles it
    ``refund_delay_seconds`` later; its webhook is delivered at 00:05."""
    reservation = cancelled_late(world)
    world.misbehave(sandbox_refund_delay_seconds=refund_delay_seconds)
    world.clock.now = PROVIDER_SETTLES
    assert refunds.run_once(world.container) == 1
    assert refund_of(world, reservation).status is RefundStatus.SENT
    world.clock.now = WORKER_HEARS
    world.deliver(reservation.payment.provider_reference)
    refund = refund_of(world, reservation)
    assert refund.status is RefundStatus.SUCCEEDED
    return refund


def posted_at(world: World, refund: Refund) -> datetime:
    with world.container.uow(readonly=True) as uow:
        postings = uow.ledger.for_order(refund.order_id)
    [settled] = [p for p in postings if p.reference == f"refund:{refund.id}:settled"]
    return settled.at


def reconcile_both_days(world: World) -> tuple[subprocess.CompletedProcess[str], ...]:
    return (
        world.marque("reconcile", "--date", LATE_DAY),
        world.marque("reconcile", "--date", NEXT_DAY),
    )


def test_a_refund_heard_of_after_midnight_is_booked_and_reconciled_on_the_providers_day(
    world: World,
) -> None:
    refund = refund_heard_of_after_midnight(world, provider_says_when=True)

    late_day, next_day = reconcile_both_days(world)

    assert posted_at(world, refund) == PROVIDER_SETTLES
    assert refund.succeeded_at == PROVIDER_SETTLES
    assert late_day.returncode == 0, late_day.stdout + late_day.stderr
    assert "2 matched, 0 mismatch(es)" in late_day.stdout  # the deposit and its refund
    assert next_day.returncode == 0, next_day.stdout + next_day.stderr
    assert "0 matched, 0 mismatch(es)" in next_day.stdout


def test_a_refund_webhook_heard_after_midnight_is_booked_on_the_providers_day(
    world: World,
) -> None:
    refund = refund_settled_by_late_webhook(world, refund_delay_seconds=0)

    late_day, next_day = reconcile_both_days(world)

    assert posted_at(world, refund) == PROVIDER_SETTLES
    assert late_day.returncode == 0, late_day.stdout + late_day.stderr
    assert "2 matched, 0 mismatch(es)" in late_day.stdout
    assert next_day.returncode == 0, next_day.stdout + next_day.stderr
    assert "0 matched, 0 mismatch(es)" in next_day.stdout


def test_a_refund_the_provider_settles_after_midnight_belongs_to_the_next_day(
    world: World,
) -> None:
    refund = refund_settled_by_late_webhook(world, refund_delay_seconds=120)  # 00:01

    late_day, next_day = reconcile_both_days(world)

    assert posted_at(world, refund) == datetime(2026, 10, 21, 0, 1, tzinfo=UTC)
    assert late_day.returncode == 0, late_day.stdout + late_day.stderr
    assert "1 matched, 0 mismatch(es)" in late_day.stdout  # the deposit only
    assert next_day.returncode == 0, next_day.stdout + next_day.stderr
    assert "1 matched, 0 mismatch(es)" in next_day.stdout  # the refund


def test_a_refund_booked_on_another_day_than_the_providers_is_a_mismatch_on_both_days(
    world: World,
) -> None:
    refund = refund_heard_of_after_midnight(world, provider_says_when=False)

    late_day, next_day = reconcile_both_days(world)

    assert posted_at(world, refund) == WORKER_HEARS  # nothing better to date it by
    assert late_day.returncode == 1, late_day.stdout + late_day.stderr
    assert f"MISMATCH missing: refund {refund.id}" in late_day.stdout
    assert "1 matched, 1 mismatch(es)" in late_day.stdout
    assert next_day.returncode == 1, next_day.stdout + next_day.stderr
    assert f"MISMATCH extra: refund {refund.id}" in next_day.stdout
    assert "0 matched, 1 mismatch(es)" in next_day.stdout
