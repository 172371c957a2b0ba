"""The `marque` command: serve, migrate, seed the demo catalogue, create staff accounts."""

from __future__ import annotations

import logging
import os
from typing import Annotated

import typer
from rich.console import Console
from sqlalchemy import make_url

from marque.adapters.db import migrate as migrations
from marque.bootstrap import bootstrap
from marque.config import Settings
from marque.domain.errors import MarqueError
from marque.domain.identity import Role
from marque.entrypoints import money_cli, sales_cli
from marque.entrypoints.api.observability import configure_logging

app = typer.Typer(
    help="marque: direct-to-consumer EV sales and after-sales. "
    "Settings come from MARQUE_* environment variables (docs/operations.md).",
    no_args_is_help=True,
    add_completion=False,
)
console = Console(stderr=True)
log = logging.getLogger("marque.cli")


def _settings() -> Settings:
    try:
        settings = Settings()
    except ValueError as exc:
        console.print(f"[red]Invalid settings:[/red] {exc}")
        raise typer.Exit(2) from exc
    configure_logging(settings.log_level, settings.log_json)
    return settings


def _say(settings: Settings, message: str, **fields: str) -> None:
    """Tell the operator: one JSON log line when logs are JSON, else plain console lines."""
    if settings.log_json:
        log.info(message, extra={f"ctx_{key}": value for key, value in fields.items()})
        return
    console.print(message)
    for key, value in fields.items():
        console.print(f"  {key + ':':<10}{value}")


@app.command()
def migrate(
    revision: Annotated[str, typer.Argument(help="Target revision; 'head' is the newest")] = "head",
    down: Annotated[bool, typer.Option("--down", help="Downgrade to REVISION instead")] = False,
) -> None:
    """Bring the database schema to REVISION (default: the newest) with Alembic."""
    container = bootstrap(_settings())
    try:
        if down:
            migrations.downgrade(container.engine, revision)
        else:
            migrations.upgrade(container.engine, revision)
        revision = migrations.current_revision(container.engine) or "base"
        _say(container.settings, f"schema at {revision}")
    finally:
        container.close()


@app.command("seed-demo")
def seed_demo() -> None:
    """Load the demo catalogue (a fictional brand's sedan and SUV) once; later runs change nothing."""
    from marque.services.demo_catalog import seed_demo_catalog

    container = bootstrap(_settings())
    try:
        created = seed_demo_catalog(container.uow(), container.clock())
        _say(
            container.settings,
            "demo catalogue loaded" if created else "demo catalogue already present",
        )
    finally:
        container.close()


@app.command("create-staff")
def create_staff(
    username: Annotated[str, typer.Argument(help="Sign-in name, e.g. alice")],
    role: Annotated[
        list[Role], typer.Option("--role", "-r", help="A role to grant; repeat for several")
    ],
    password: Annotated[
        str,
        typer.Option(
            prompt=True,
            hide_input=True,
            confirmation_prompt=True,
            envvar="MARQUE_STAFF_PASSWORD",
            help="At least 10 characters; prompted for when not given",
        ),
    ],
    name: Annotated[str, typer.Option(help="Display name shown in the console")] = "",
) -> None:
    """Create a staff account with one or more roles (sales, delivery, service_advisor,
    technician, finance, admin), or reset its password and roles if it exists."""
    from marque.services.auth import create_staff as create_staff_account

    container = bootstrap(_settings())
    try:
        create_staff_account(
            container.uow(),
            username=username,
            password=password,
            roles=frozenset(role),
            display_name=name or username,
            now=container.clock(),
        )
        console.print(f"staff account {username!r} ready with roles: {', '.join(sorted(role))}")
    except MarqueError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    finally:
        container.close()


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (default MARQUE_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default MARQUE_PORT)")] = None,
    workers: Annotated[
        int, typer.Option(help="Server processes (use PostgreSQL for more than 1)")
    ] = 1,
    setup: Annotated[
        bool, typer.Option("--setup/--no-setup", help="Migrate and seed the demo catalogue first")
    ] = False,
) -> None:
    """Serve the API (/api/v1, /docs) and the pages (/) with uvicorn."""
    import uvicorn

    settings = _settings()
    if setup:
        migrate()
        seed_demo()
    host = host or settings.host
    port = port or settings.port
    os.environ["MARQUE_HOST"] = host
    os.environ["MARQUE_PORT"] = str(port)
    base = settings.public_url.rstrip("/") or f"http://{host}:{port}"
    _say(
        settings,
        f"marque on {make_url(settings.database_url).render_as_string(hide_password=True)}",
        pages=f"{base}/",
        staff=f"{base}/staff",
        api_docs=f"{base}/docs",
        openapi=f"{base}/openapi.json",
        sandbox="on" if settings.sandbox else "off",
    )
    uvicorn.run(
        "marque.entrypoints.asgi:create",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=None,
        access_log=False,
        proxy_headers=False,
    )


# The money core's commands live in money_cli.py: `ledger check`, `reconcile`, `worker`.
app.add_typer(money_cli.ledger_app, name="ledger")
app.add_typer(sales_cli.sales_app, name="sales")
app.command()(money_cli.reconcile)
app.command()(money_cli.worker)

bench_app = typer.Typer(
    help="Benchmarks; they live in the source checkout's bench/ folder (not installed).",
    no_args_is_help=True,
)
app.add_typer(bench_app, name="bench")


@bench_app.command(
    "launch",
    context_settings={
        "allow_extra_args": True,
        "ignore_unknown_options": True,
        "help_option_names": [],
    },
)
def bench_launch(ctx: typer.Context) -> None:
    """Replay a launch-night surge (PostgreSQL, or SQLite with --sqlite) and verify nothing
    was lost or doubled.
    Every option goes to bench/launch.py: `marque bench launch --help` lists them."""
    import importlib
    import sys
    from pathlib import Path

    checkout = Path(__file__).resolve().parents[2]
    if not (checkout / "bench" / "launch.py").is_file():
        console.print("[red]bench/launch.py is not here: run it from a source checkout[/red]")
        raise typer.Exit(2)
    if str(checkout) not in sys.path:
        sys.path.insert(0, str(checkout))
    launch = importlib.import_module("bench.launch")
    raise typer.Exit(int(launch.main(list(ctx.args))))


if __name__ == "__main__":
    app()
