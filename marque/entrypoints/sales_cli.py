"""`marque sales open`, `marque sales status` and `marque sales queue-check` (registered by
cli.py): when each model and trim goes on sale, how its limited edition stands, and whether
the queue tallies agree with the orders.

Running server processes see a change within ``MARQUE_CATALOG_CACHE_SECONDS``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from rich.console import Console

from marque.bootstrap import Container, bootstrap
from marque.config import Settings
from marque.domain.errors import MarqueError
from marque.domain.identity import SYSTEM
from marque.domain.launch import iso
from marque.entrypoints.api.observability import configure_logging
from marque.services import queue, sales
from marque.services.sales import SalesStatus

sales_app = typer.Typer(
    help="Sales opening: when each model and trim can be reserved.", no_args_is_help=True
)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False)


def _container() -> Container:
    try:
        settings = Settings()
    except ValueError as exc:
        err.print(f"Invalid settings: {exc}")
        raise typer.Exit(2) from exc
    configure_logging(settings.log_level, settings.log_json)
    return bootstrap(settings)


def _moment(text: str) -> datetime | None:
    """``now`` (None) or an ISO 8601 time with a zone."""
    if text.strip().lower() == "now":
        return None
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise typer.BadParameter(f"{text!r} is not an ISO 8601 time or 'now'") from exc
    if moment.tzinfo is None:
        raise typer.BadParameter(f"{text!r} has no time zone; add Z or +08:00")
    return moment


def _print(status: SalesStatus) -> None:
    for trim in status.trims:
        when = iso(trim.opens_at) if trim.opens_at else "-"
        line = f"{status.model_code}/{trim.code}: {'ON SALE' if trim.on_sale else 'closed'}"
        line += f", opens {when}"
        if trim.stock is not None:
            stock = trim.stock
            line += (
                f", units: {stock.sold} sold, {stock.held} held, {stock.free} free of {stock.cap}"
            )
        out.print(line)


@sales_app.command("open")
def open_sales(
    model: Annotated[str, typer.Option("--model", help="Model code, e.g. arc")],
    at: Annotated[
        str, typer.Option("--at", help="ISO 8601 time with a zone (2026-12-01T14:00:00Z), or now")
    ],
    trim: Annotated[
        str | None, typer.Option("--trim", help="Only this trim (default: the model and all)")
    ] = None,
) -> None:
    """Set when MODEL (with all its trims) or one trim goes on sale; before that, reserving
    answers 409 sales.not_open and the pages count down."""
    moment = _moment(at)
    container = _container()
    try:
        status = sales.open_sales(container, SYSTEM, model, trim_code=trim, at=moment)
    except MarqueError as exc:
        err.print(str(exc))
        raise typer.Exit(1) from exc
    finally:
        container.close()
    _print(status)


@sales_app.command("status")
def sales_status(
    model: Annotated[str, typer.Option("--model", help="Model code, e.g. arc")],
) -> None:
    """Each trim's opening time, whether it is on sale now, and limited-edition units."""
    container = _container()
    try:
        status = sales.sales_status(container, SYSTEM, model)
    except MarqueError as exc:
        err.print(str(exc))
        raise typer.Exit(1) from exc
    finally:
        container.close()
    _print(status)


@sales_app.command("queue-check")
def queue_check(
    fix: Annotated[
        bool, typer.Option("--fix", help="Rewrite the tallies that disagree from a count")
    ] = False,
) -> None:
    """Compare each queue tally (locked orders still waiting, per configuration and shard)
    and queue bucket (the same by lock time; paid orders not locked yet by number block)
    with a count of the orders. Exit status 1 when one disagrees and --fix was not given."""
    container = _container()
    try:
        wrong = queue.recount_tallies(container) if fix else queue.tally_mismatches(container)
    finally:
        container.close()
    for mismatch in wrong:
        out.print(
            f"{mismatch.configuration_code} shard {mismatch.shard}"
            + ("" if mismatch.scale is None else f" {mismatch.scale} {mismatch.bucket}")
            + f": tally {mismatch.tallied}, "
            f"orders {mismatch.counted}" + (" (fixed)" if fix else "")
        )
    if not wrong:
        out.print("queue tallies ok: every tally matches the orders")
    elif not fix:
        raise typer.Exit(1)
