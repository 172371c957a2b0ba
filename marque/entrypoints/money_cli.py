"""`marque ledger check`, `marque reconcile --date D` and `marque worker` (registered by cli.py).

The checks print one line per problem and exit 1 when there is any, 0 when the books are
right, 2 when they could not run (bad settings, provider unreachable).
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, date, datetime, timedelta
from typing import Annotated

import typer
from rich.console import Console

from marque.bootstrap import Container, bootstrap
from marque.config import Settings
from marque.domain.errors import MarqueError
from marque.entrypoints.api.observability import configure_logging
from marque.entrypoints.workers import jobs
from marque.services import ledger_checks
from marque.services.payment_ports import ProviderUnavailable

ledger_app = typer.Typer(
    help="The double-entry ledger: check its invariants.", no_args_is_help=True
)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False)
log = logging.getLogger("marque.cli")


def _container() -> Container:
    try:
        settings = Settings()
    except ValueError as exc:
        err.print(f"Invalid settings: {exc}")
        raise typer.Exit(2) from exc
    configure_logging(settings.log_level, settings.log_json)
    return bootstrap(settings)


@ledger_app.command("check")
def ledger_check() -> None:
    """Check every ledger invariant: postings balance; per order held = received - refunded
    - applied - forfeited >= 0; each captured payment has exactly one posting; no refund is
    requested or paid twice. Lists each breach and exits 1 if there is any."""
    container = _container()
    try:
        breaches = ledger_checks.check_ledger(container)
    finally:
        container.close()
    for breach in breaches:
        out.print(f"BREACH {breach.describe()}")
    if breaches:
        out.print(f"{len(breaches)} breach(es) of the ledger invariants")
        raise typer.Exit(1)
    out.print("ledger ok: every invariant holds")


def _yesterday() -> date:
    return (datetime.now(UTC) - timedelta(days=1)).date()


def reconcile(
    day: Annotated[
        datetime | None,
        typer.Option(
            "--date", formats=["%Y-%m-%d"], help="UTC day to reconcile (default: yesterday)"
        ),
    ] = None,
    provider: Annotated[
        str | None, typer.Option(help="Provider name (default: MARQUE_PAYMENT_PROVIDER)")
    ] = None,
) -> None:
    """Compare one day's captured payments and settled refunds with the provider's
    settlement report; list every mismatch (missing, extra, amount differs), store the
    result for the finance console, and exit 1 if there is any."""
    the_day = day.date() if day else _yesterday()
    container = _container()
    try:
        run = ledger_checks.reconcile_day(container, the_day, provider)
    except ProviderUnavailable as exc:
        err.print(f"the provider's settlement report could not be read: {exc}")
        raise typer.Exit(2) from exc
    except MarqueError as exc:
        err.print(str(exc))
        raise typer.Exit(2) from exc
    finally:
        container.close()
    for mismatch in run.mismatches:
        out.print(f"MISMATCH {mismatch.describe()}")
    summary = f"{run.day} {run.provider}: {run.matched} matched, {len(run.mismatches)} mismatch(es)"
    out.print(summary)
    if run.mismatches:
        raise typer.Exit(1)


def worker(
    once: Annotated[bool, typer.Option("--once", help="Run every job one time and exit")] = False,
) -> None:
    """Run the background jobs: expire unpaid reservations, lock reminders and automatic
    locks, refund sending and retries, buyer notifications, idempotency-key clean-up."""
    container = _container()
    try:
        counts = jobs.loop(container, once=once)
    except KeyboardInterrupt:
        counts = {}
    finally:
        container.close()
    if once:
        out.print(" ".join(f"{name}={n}" for name, n in counts.items()))
        if any(n < 0 for n in counts.values()):
            sys.exit(1)


__all__ = ["ledger_app", "reconcile", "worker"]
