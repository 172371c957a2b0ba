"""Shared fixtures: databases on both engines, a bootstrapped container, a real server.

Every test that touches a database runs on SQLite and, when MARQUE_TEST_DATABASE_URL is
set (CI sets it), on PostgreSQL too: the ``engine_name`` fixture is parametrised over both.
Each engine gets a fresh database per test session, migrated with Alembic; tests isolate
themselves with random references rather than shared rollbacks, so a real server process
can see what a test wrote.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, make_url, text

from marque.adapters.db import migrate as migrations
from marque.bootstrap import Container, bootstrap
from marque.config import Settings

#: The browser tests' ``browser`` fixture (Debian's Chromium).
pytest_plugins = ["chromium"]

PG_URL = os.environ.get("MARQUE_TEST_DATABASE_URL")
ENGINES = ["sqlite", "postgresql"]
ROOT = Path(__file__).resolve().parent.parent


def pytest_configure(config: pytest.Config) -> None:
    os.environ.setdefault("MARQUE_LOG_JSON", "false")


@dataclass
class Database:
    name: str  # "sqlite" or "postgresql"
    url: str


def _fresh_postgres(base_url: str) -> tuple[str, str]:
    """Create a new, empty PostgreSQL database next to ``base_url``; return its URL and name."""
    url = make_url(base_url)
    name = f"marque_t_{secrets.token_hex(4)}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False), name


def _drop_postgres(base_url: str, name: str) -> None:
    admin = create_engine(make_url(base_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session", params=ENGINES)
def database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Database]:
    """An empty database on one engine (not migrated)."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("sqlite") / "marque.db"
        yield Database("sqlite", f"sqlite:///{path}")
        return
    if not PG_URL:
        pytest.skip("PostgreSQL tests need MARQUE_TEST_DATABASE_URL (CI sets it)")
    url, name = _fresh_postgres(PG_URL)
    yield Database("postgresql", url)
    _drop_postgres(PG_URL, name)


@pytest.fixture
def empty_database(
    request: pytest.FixtureRequest, tmp_path: Path, database: Database
) -> Iterator[Database]:
    """A brand-new empty database on the same engine as ``database``, for migration tests."""
    if database.name == "sqlite":
        yield Database("sqlite", f"sqlite:///{tmp_path / 'empty.db'}")
        return
    assert PG_URL
    url, name = _fresh_postgres(PG_URL)
    yield Database("postgresql", url)
    _drop_postgres(PG_URL, name)


def test_settings(url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "env": "test",
        "database_url": url,
        "sandbox": True,
        "log_json": False,
        "default_locale": "en",
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def migrate_and_seed(url: str) -> None:
    """Bring an empty database to the newest schema and give it the demo catalogue."""
    from marque.services.demo_catalog import seed_demo_catalog

    engine = create_engine(url)
    migrations.upgrade(engine)
    engine.dispose()
    container = bootstrap(test_settings(url))
    seed_demo_catalog(container.uow(), container.clock())
    container.close()


@contextmanager
def own_seeded_database(database: Database, folder: Path) -> Iterator[Database]:
    """A fresh database on the engine of ``database``, migrated and with the demo catalogue,
    for tests whose servers and editions must not share the session's; dropped at the end."""
    name = None
    if database.name == "sqlite":
        own = Database("sqlite", f"sqlite:///{folder / 'own.db'}")
    else:
        assert PG_URL
        url, name = _fresh_postgres(PG_URL)
        own = Database("postgresql", url)
    try:
        migrate_and_seed(own.url)
        yield own
    finally:
        if name is not None:
            assert PG_URL
            _drop_postgres(PG_URL, name)


@pytest.fixture(scope="session")
def migrated(database: Database) -> Database:
    engine = create_engine(database.url)
    migrations.upgrade(engine)
    engine.dispose()
    return database


@pytest.fixture(scope="session")
def seeded(migrated: Database) -> Database:
    """A migrated database with the demo catalogue loaded."""
    from marque.services.demo_catalog import seed_demo_catalog

    container = bootstrap(test_settings(migrated.url))
    seed_demo_catalog(container.uow(), container.clock())
    container.close()
    return migrated


@pytest.fixture
def container(seeded: Database) -> Iterator[Container]:
    """A container on a migrated, seeded database of the current engine."""
    built = bootstrap(test_settings(seeded.url))
    yield built
    built.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    base_url: str
    database: Database
    process: subprocess.Popen[bytes]
    log_path: Path

    def client(self, **kwargs: object) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=30, **kwargs)  # type: ignore[arg-type]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()


def start_server(
    database: Database, log_dir: Path, *, ready_path: str = "/readyz", **env_overrides: str
) -> LiveServer:
    """A `marque serve` process on ``database``, once ``ready_path`` answers 200 (``/healthz``
    for a server whose database is meant to be out of reach)."""
    port = free_port()
    env = dict(os.environ)
    env.update(
        {
            "MARQUE_ENV": "test",
            "MARQUE_DATABASE_URL": database.url,
            "MARQUE_SANDBOX": "true",
            "MARQUE_HOST": "127.0.0.1",
            "MARQUE_PORT": str(port),
            "MARQUE_LOG_JSON": "true",
            "MARQUE_DEFAULT_LOCALE": "en",
        }
    )
    env.update(env_overrides)
    log_path = log_dir / f"server-{database.name}-{port}.log"
    log_file = log_path.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "marque.entrypoints.cli", "serve", "--port", str(port)],
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early: {log_path.read_text(errors='replace')}")
        try:
            if httpx.get(f"{base_url}{ready_path}", timeout=2).status_code == 200:
                return LiveServer(base_url, database, process, log_path)
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"server did not become ready: {log_path.read_text(errors='replace')}")


@pytest.fixture(scope="session")
def live_server(seeded: Database, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A real `marque serve` process over HTTP on the current engine's seeded database."""
    server = start_server(seeded, tmp_path_factory.mktemp("server"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def one_slot_server(
    seeded: Database, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """A real server that works on one request at a time on its event loop and one in its
    thread pool, never lets one wait (in any lane),
    and tells a shed request to come back in 2 s at the soonest."""
    running = start_server(
        seeded,
        tmp_path_factory.mktemp("one-slot"),
        MARQUE_MAX_IN_FLIGHT="1",
        MARQUE_MAX_IN_FLIGHT_IN_POOL="1",
        MARQUE_MAX_IN_FLIGHT_WAIT_SECONDS="0",
        MARQUE_OVERLOAD_AHEAD_WAIT_SECONDS="0",
        MARQUE_OVERLOAD_FOLLOW_UPS_WAITING_PER_SLOT="0",
        MARQUE_OVERLOAD_RETRY_AFTER_SECONDS="2",
    )
    yield running
    running.stop()


def in_flight(client: httpx.Client) -> float:
    """The server's ``marque_http_requests_in_flight`` gauge."""
    for line in client.get("/metrics").text.splitlines():
        if line.startswith("marque_http_requests_in_flight "):
            return float(line.split()[1])
    raise AssertionError("no in-flight gauge in /metrics")


def wait_for_in_flight(client: httpx.Client, wanted: float) -> None:
    """Poll until the server reports ``wanted`` requests in flight (it picks a held request up,
    and lets go of a dropped one, by itself)."""
    for _ in range(600):
        if in_flight(client) == wanted:
            return
        time.sleep(0.05)
    raise AssertionError(f"never {wanted} in flight")


@contextmanager
def only_slot_held(server: LiveServer) -> Iterator[None]:
    """Hold a one-slot server's only slots, the event loop's and the thread pool's, each with
    a request whose body is still on its way; on exit drop them and wait until the server
    has let go."""
    host, port = server.base_url.removeprefix("http://").split(":")
    held = (
        b"POST /api/v1/configurations HTTP/1.1\r\n",  # works on the event loop
        b"POST /api/v1/auth/sms-code HTTP/1.1\r\n",  # works in the thread pool
    )
    with server.client() as client:
        holders = [socket.create_connection((host, int(port))) for _ in held]
        try:
            for holder, request_line in zip(holders, held, strict=True):
                holder.sendall(
                    request_line + b"Host: x\r\n"
                    b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"
                )
            wait_for_in_flight(client, len(held))
            yield
        finally:
            for holder in holders:
                holder.close()
        wait_for_in_flight(client, 0)


def reservation_of(configured: httpx.Response) -> dict[str, Any]:
    """The body that reserves the configuration ``POST /api/v1/configurations`` answered,
    under the deposit terms in force for it, accepted."""
    assert configured.status_code in (200, 201), configured.text
    terms = configured.json()["deposit_terms"]
    return {
        "configuration_code": configured.json()["code"],
        "terms_code": terms["code"],
        "terms_version": terms["version"],
        "terms_hash": terms["content_hash"],
        "accept_terms": True,
    }


def random_phone() -> str:
    """A valid-looking mainland mobile number no other test uses."""
    return "139" + "".join(secrets.choice("0123456789") for _ in range(8))
