"""What the money state machine stands on: a fresh database per example, a payment provider
that fails when told to, and the line from the sandbox's webhooks to our handler."""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from pathlib import Path

from conftest import PG_URL, Database, _drop_postgres, _fresh_postgres, test_settings
from sqlalchemy import Connection, create_engine, make_url, text
from sqlalchemy.pool import NullPool

from marque.adapters.db import migrate as migrations
from marque.adapters.db.sqlite_gate import GATE_SUFFIX
from marque.adapters.payments.sandbox import SandboxPaymentProvider
from marque.adapters.payments.signing import SIGNATURE_HEADER, signature_header
from marque.bootstrap import Container, bootstrap
from marque.domain.money import Money
from marque.services import catalog
from marque.services import payments as payment_service
from marque.services.demo_catalog import seed_demo_catalog
from marque.services.payment_ports import (
    ProviderPayment,
    ProviderRefund,
    ProviderUnavailable,
    SettlementLine,
    WebhookEvent,
)

#: What the runs did (printed by the test with pytest -s): shows the paths were exercised.
SEEN: Counter[str] = Counter()

# ------------------------------------------------------------------------ the database

#: Every example's clock starts here: copies of one template make runs repeatable.
START = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)


@dataclass
class MoneyDatabase:
    """A migrated, seeded template database; each example plays on a fresh copy of it, so
    shrinking replays a failure on exactly the world it first met, and ``marque ledger
    check`` sees nothing but the example's own money."""

    engine: str  # "sqlite" or "postgresql"
    template: str  # a file path (SQLite) or a database name (PostgreSQL)
    directory: Path
    #: Configuration codes by the shop's names for them, stored in the template.
    codes: dict[str, str]
    copies: int = 0

    def copy(self) -> Database:
        self.copies += 1
        if self.engine == "sqlite":
            path = self.directory / f"copy-{self.copies}.db"
            shutil.copyfile(self.template, path)
            return Database("sqlite", f"sqlite:///{path}")
        name = f"{self.template}_{self.copies}"
        with _admin() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"'))
            # Thousands of short commits; nothing here needs to survive a power cut.
            conn.execute(text(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
        assert PG_URL
        return Database("postgresql", make_url(PG_URL).set(database=name).render_as_string(False))

    def discard(self, copy: Database) -> None:
        if copy.name == "sqlite":
            path = Path(make_url(copy.url).database or "")
            for suffix in ("", "-wal", "-shm", GATE_SUFFIX):
                leftover = Path(f"{path}{suffix}")
                leftover.unlink(missing_ok=True)
        else:
            with _admin() as conn:
                name = make_url(copy.url).database
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextmanager
def _admin() -> Iterator[Connection]:
    assert PG_URL
    engine = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()


def create_money_database(
    engine: str, directory: Path, configurations: Mapping[str, tuple[str, str, list[str]]]
) -> MoneyDatabase:
    """The template: migrated, the demo catalogue seeded, ``configurations`` stored."""
    if engine == "sqlite":
        template = str(directory / "template.db")
        url = f"sqlite:///{template}"
    else:
        assert PG_URL
        url, template = _fresh_postgres(PG_URL)
    migrations.upgrade(create_engine(url, poolclass=NullPool))
    container = bootstrap(test_settings(url), clock=lambda: START)
    seed_demo_catalog(container.uow(), START)
    codes = {
        name: catalog.configure(container, model, trim, options).configuration.code
        for name, (model, trim, options) in configurations.items()
    }
    container.close()
    if engine == "sqlite":  # everything into the one file that is copied
        with closing(sqlite3.connect(template)) as conn:
            conn.execute("PRAGMA journal_mode=DELETE")
    return MoneyDatabase(engine, template, directory, codes)


def drop_money_database(db: MoneyDatabase) -> None:
    if db.engine == "postgresql" and PG_URL:
        _drop_postgres(PG_URL, db.template)


# ------------------------------------------------------------------------ the provider


class ProviderMode(StrEnum):
    HEALTHY = "healthy"
    #: Every call fails before the provider does anything (an HTTP 500).
    DOWN = "down"
    #: The provider does the work, then the answer is lost (a timeout).
    ANSWERS_LOST = "answers_lost"
    #: Refunds are accepted, then settle as failed (announced by webhook).
    REFUSES_REFUNDS = "refuses_refunds"


class FlakyProvider:
    """A ``PaymentProvider`` in front of the sandbox that misbehaves on command.

    ``refusing`` is a second sandbox instance on the same tables whose settings make every
    refund fail; refunds go there while the mode is REFUSES_REFUNDS. Webhook verification
    is local code in any real adapter, so ``parse_webhook`` never fails on command.
    """

    def __init__(self, sandbox: SandboxPaymentProvider, refusing: SandboxPaymentProvider) -> None:
        self.sandbox = sandbox
        self.refusing = refusing
        self.mode = ProviderMode.HEALTHY

    @property
    def name(self) -> str:
        return self.sandbox.name

    @property
    def in_process(self) -> bool:
        return False  # it stands for a remote provider: routes asking it use the thread pool

    def _before(self) -> None:
        if self.mode is ProviderMode.DOWN:
            raise ProviderUnavailable(retry_after=1)

    def _after(self) -> None:
        if self.mode is ProviderMode.ANSWERS_LOST:
            raise ProviderUnavailable(retry_after=1)

    def create_payment(
        self, *, merchant_reference: str, amount: Money, description: str, idempotency_key: str
    ) -> ProviderPayment:
        self._before()
        created = self.sandbox.create_payment(
            merchant_reference=merchant_reference,
            amount=amount,
            description=description,
            idempotency_key=idempotency_key,
        )
        self._after()
        return created

    def get_payment(self, reference: str) -> ProviderPayment:
        self._before()
        return self.sandbox.get_payment(reference)

    def refund(
        self,
        *,
        payment_reference: str,
        merchant_reference: str,
        amount: Money,
        idempotency_key: str,
    ) -> ProviderRefund:
        self._before()
        target = self.refusing if self.mode is ProviderMode.REFUSES_REFUNDS else self.sandbox
        answer = target.refund(
            payment_reference=payment_reference,
            merchant_reference=merchant_reference,
            amount=amount,
            idempotency_key=idempotency_key,
        )
        self._after()
        return answer

    def parse_webhook(self, headers: Mapping[str, str], body: bytes, now: datetime) -> WebhookEvent:
        return self.sandbox.parse_webhook(headers, body, now)

    def settlement_report(self, day: date) -> list[SettlementLine]:
        self._before()
        return self.sandbox.settlement_report(day)


class WebhookLine:
    """From the sandbox to our webhook handler, minus HTTP: the real signature check and
    the real handler. A genuine, fresh webhook must always be accepted; anything else is
    recorded as a receiver error (the dispatcher would only log it and try again)."""

    def __init__(self, ctx: Container, sandbox: SandboxPaymentProvider) -> None:
        self.ctx = ctx
        self.sandbox = sandbox
        self.held_back: list[bytes] = []  # bodies whose delivery we made fail
        self.seen: list[bytes] = []
        self.applied_captures: set[str] = set()  # our payment ids accepted as captured
        self.receiver_errors: list[str] = []

    def signed(self, body: bytes, at_offset: timedelta = timedelta(0)) -> dict[str, str]:
        at = self.ctx.clock() + at_offset
        return {SIGNATURE_HEADER: signature_header(self.sandbox.webhook_key, body, at)}

    def receive(self, url: str, headers: Mapping[str, str], body: bytes) -> int:
        self.seen.append(body)
        try:
            result = payment_service.handle_webhook(self.ctx, "sandbox", headers, body)
        except Exception as exc:
            self.receiver_errors.append(f"{exc!r} for {body.decode()}")
            return 500
        event = json.loads(body)
        again = " (again)" if result.duplicate else ""
        SEEN.update([f"webhook {event['type']}: {result.outcome}{again}"])
        if event["type"] == "payment.succeeded":
            self.applied_captures.add(event["merchant_reference"])
        return 200

    def deliver_due(self) -> None:
        self.sandbox.deliver_due(now=self.ctx.clock(), post=self.receive)

    def lose_due(self) -> None:
        """Our endpoint is unreachable: the sandbox will try again later; we keep a copy."""

        def unreachable(url: str, headers: Mapping[str, str], body: bytes) -> int:
            self.held_back.append(body)
            return 503

        self.sandbox.deliver_due(now=self.ctx.clock(), post=unreachable)

    def deliver_held_back(self, body: bytes) -> None:
        self.receive("", self.signed(body), body)


__all__ = [
    "SEEN",
    "FlakyProvider",
    "MoneyDatabase",
    "ProviderMode",
    "WebhookLine",
    "create_money_database",
    "drop_money_database",
]
