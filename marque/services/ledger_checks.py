"""Is the money right? ``check_ledger`` holds the books to their invariants; ``reconcile``
compares one UTC day of our postings with the provider's settlement report and stores the
result for the finance console."""

from __future__ import annotations

from datetime import date, datetime

from marque.domain.ledger_invariants import Breach
from marque.domain.reconciliation import LineKind, ProviderLine, ReconciliationRun, reconcile
from marque.services.context import AppContext
from marque.services.payment_ports import SettlementKind, utc_day
from marque.services.payments import provider_for


def check_ledger(ctx: AppContext) -> list[Breach]:
    with ctx.uow(readonly=True) as uow:
        return uow.ledger.breaches()


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """The day's postings reconcile against the provider's report of the same interval."""
    return utc_day(day)


def reconcile_day(
    ctx: AppContext, day: date, provider_name: str | None = None
) -> ReconciliationRun:
    """Compare the day's captured payments and settled refunds with the provider's report.

    The provider is called outside any transaction; the run is stored afterwards.
    Raises ProviderUnavailable when the report cannot be fetched (nothing is stored).
    """
    name = provider_name or ctx.settings.payment_provider
    provider = provider_for(ctx, name)
    report = provider.settlement_report(day)
    theirs = [
        ProviderLine(
            LineKind.PAYMENT if line.kind is SettlementKind.PAYMENT else LineKind.REFUND,
            line.merchant_reference,
            line.reference,
            line.amount,
        )
        for line in report
    ]
    start, end = day_bounds(day)
    with ctx.uow(readonly=True) as uow:
        ours = uow.ledger.book_lines(start, end)
    matched, mismatches = reconcile(ours, theirs)
    run = ReconciliationRun(
        day=day, provider=name, ran_at=ctx.clock(), matched=matched, mismatches=tuple(mismatches)
    )
    with ctx.uow() as uow:
        run_id = uow.reconciliations.add(run)
        uow.commit()
    return ReconciliationRun(
        id=run_id,
        day=run.day,
        provider=run.provider,
        ran_at=run.ran_at,
        matched=run.matched,
        mismatches=run.mismatches,
    )


def reconciliations(ctx: AppContext, day: date | None, limit: int = 20) -> list[ReconciliationRun]:
    with ctx.uow(readonly=True) as uow:
        return uow.reconciliations.latest(day, limit)


__all__ = ["check_ledger", "day_bounds", "reconcile_day", "reconciliations"]
