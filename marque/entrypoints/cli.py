"""The `marque` command: serve, migrate, seed the demo catalogue, create staff accounts."""

from __future__ import annotations

import os
from typing import Annotated

import typer
from rich.console import Console

from marque.adapters.db import migrate as migrations
from marque.bootstrap import bootstrap
from marque.config import Settings
from marque.domain.errors import MarqueError
from marque.domain.identity import Role

app = typer.Typer(
    help="marque: direct-to-consumer EV sales and after-sales. "
    "Settings come from MARQUE_* environment variables (docs/operations.md).",
    no_args_is_help=True,
    add_completion=False,
)
console = Console(stderr=True)


def _settings() -> Settings:
    try:
        return Settings()
    except ValueError as exc:
        console.print(f"[red]Invalid settings:[/red] {exc}")
        raise typer.Exit(2) from exc


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
        console.print(f"schema at {migrations.current_revision(container.engine) or 'base'}")
    finally:
        container.close()


@app.command("seed-demo")
def seed_demo() -> None:
    """Load the demo catalogue (a fictional brand's sedan and SUV) once; later runs change nothing."""
    from marque.services.demo_catalog import seed_demo_catalog

    container = bootstrap(_settings())
    try:
        created = seed_demo_catalog(container.uow(), container.clock())
        console.print("demo catalogue loaded" if created else "demo catalogue already present")
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
            prompt=True, hide_input=True, confirmation_prompt=True, envvar="MARQUE_STAFF_PASSWORD",
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
    workers: Annotated[int, typer.Option(help="Server processes (use PostgreSQL for more than 1)")] = 1,
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
    console.print(f"[bold]marque[/bold] on {settings.database_url}")
    console.print(f"  pages:    {base}/")
    console.print(f"  staff:    {base}/staff")
    console.print(f"  API docs: {base}/docs")
    console.print(f"  OpenAPI:  {base}/openapi.json")
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


if __name__ == "__main__":
    app()
