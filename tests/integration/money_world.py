"""A small world for money-core tests: a container on the seeded test database with a frozen
clock, the real sandbox provider, buyers, configurations, and webhook delivery that runs the
real signature check and the real webhook handler in-process.

Each test builds its own World on a random day far in the future, so tests sharing the
session database never see each other's days, buyers or orders.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from conftest import ROOT, Database, migrate_and_seed, random_phone, test_settings

from marque.adapters.clock import FrozenClock
from marque.adapters.payments.sandbox import SandboxPaymentProvider
from marque.adapters.payments.sandbox_webhooks import deliver_due
from marque.bootstrap import Container, bootstrap
from marque.domain.auth import new_reference
from marque.domain.credentials import CustomerAccount
from marque.domain.errors import MarqueError
from marque.domain.identity import Actor, ActorKind
from marque.domain.order_entities import Order, Payment
from marque.services import catalog as catalog_service
from marque.services import orders, payments
from marque.services.orders import Reservation, ReserveRequest

ARC_STANDARD = ("arc", "standard", ["paint-graphite"])
ARC_LONG_RANGE = ("arc", "long-range", ["paint-pearl-white"])
ARC_FOUNDERS = ("arc", "founders", ["paint-aurora-green"])


def random_day() -> datetime:
    """Noon of a random day in 2031-2060: a day no other test uses."""
    return datetime(2031, 1, 1, 12, tzinfo=UTC) + timedelta(days=secrets.randbelow(365 * 30))


@dataclass
class Delivery:
    status: int
    body: bytes


@dataclass
class World:
    container: Container
    clock: FrozenClock
    deliveries: list[Delivery] = field(default_factory=list)

    @classmethod
    def build(cls, database: Database, **overrides: Any) -> World:
        clock = FrozenClock(random_day())
        container = bootstrap(test_settings(database.url, **overrides), clock=clock)
        return cls(container, clock)

    @classmethod
    def on_own_database(cls, database: Database, at: datetime) -> World:
        """A World on an empty database of its own (for tests that break records on
        purpose): migrated, the demo catalogue seeded, the clock frozen at ``at``."""
        migrate_and_seed(database.url)
        clock = FrozenClock(at)
        return cls(bootstrap(test_settings(database.url), clock=clock), clock)

    def close(self) -> None:
        self.container.close()

    def marque(self, *args: str) -> subprocess.CompletedProcess[str]:
        """``marque ARGS`` as an operator runs it, on this World's database."""
        env = dict(os.environ)
        env.update(
            {
                "MARQUE_DATABASE_URL": self.container.settings.database_url,
                "MARQUE_ENV": "test",
                "MARQUE_LOG_JSON": "false",
                "COLUMNS": "200",
            }
        )
        return subprocess.run(
            [sys.executable, "-m", "marque.entrypoints.cli", *args],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    @property
    def provider(self) -> SandboxPaymentProvider:
        provider = self.container.payment_providers["sandbox"]
        assert isinstance(provider, SandboxPaymentProvider)
        return provider

    def misbehave(self, **overrides: Any) -> SandboxPaymentProvider:
        """From now on the sandbox behaves as configured (e.g. sandbox_unavailable_rate=1):
        a fresh provider instance on the same sandbox tables, as after a redeploy."""
        settings = self.container.settings.model_copy(update=overrides)
        provider = SandboxPaymentProvider(self.container.engine, settings, clock=self.clock)
        self.container.payment_providers = {"sandbox": provider}
        return provider

    # -- people and things ---------------------------------------------------------------
    def buyer(self, locale: str = "en") -> Actor:
        account = CustomerAccount(new_reference("C-"), random_phone(), self.clock())
        with self.container.uow() as uow:
            uow.auth.add_customer(account)
            uow.commit()
        return Actor(ActorKind.CUSTOMER, id=account.id, display_name=locale)

    def configuration(self, choice: tuple[str, str, list[str]] = ARC_STANDARD) -> str:
        model, trim, options = choice
        return catalog_service.configure(self.container, model, trim, options).configuration.code

    def request(
        self, code: str, *, key: str | None = None, locale: str = "en", **changes: Any
    ) -> ReserveRequest:
        priced = orders.price_now(self.container, code, self.clock())
        terms = priced.terms
        values: dict[str, Any] = {
            "configuration_code": code,
            "terms_code": terms.code,
            "terms_version": terms.version,
            "terms_hash": terms.content_hash,
            "accept_terms": True,
            "locale": locale,
            "idempotency_key": key,
        }
        values.update(changes)
        return ReserveRequest(**values)

    def reserve(
        self,
        buyer: Actor,
        choice: tuple[str, str, list[str]] = ARC_STANDARD,
        *,
        key: str | None = None,
        locale: str = "en",
    ) -> Reservation:
        code = self.configuration(choice)
        return orders.reserve(self.container, buyer, self.request(code, key=key, locale=locale))

    # -- the provider's side -------------------------------------------------------------
    def receive(self, url: str, headers: Mapping[str, str], body: bytes) -> int:
        """What our webhook endpoint does, minus HTTP: verify, apply, answer a status."""
        try:
            payments.handle_webhook(self.container, "sandbox", headers, body)
            status = 200
        except MarqueError as exc:
            status = exc.status
        self.deliveries.append(Delivery(status, body))
        return status

    def deliver(self, payment_reference: str | None = None) -> int:
        return deliver_due(
            self.provider, now=self.clock(), post=self.receive, payment_reference=payment_reference
        )

    def pay(self, payment: Payment, *, deliver: bool = True) -> None:
        assert payment.provider_reference, "the reservation got no checkout"
        self.provider.complete_payment(payment.provider_reference, succeeded=True)
        if deliver:
            self.deliver(payment.provider_reference)

    def fail(self, payment: Payment, *, deliver: bool = True) -> None:
        assert payment.provider_reference
        self.provider.complete_payment(payment.provider_reference, succeeded=False)
        if deliver:
            self.deliver(payment.provider_reference)

    # -- reading back --------------------------------------------------------------------
    def order(self, order_id: str) -> Order:
        with self.container.uow(readonly=True) as uow:
            found = uow.orders.get(order_id)
        assert found is not None
        return found

    def payment(self, payment_id: str) -> Payment:
        with self.container.uow(readonly=True) as uow:
            found = uow.payments.get(payment_id)
        assert found is not None
        return found

    def held(self, order_id: str) -> int:
        with self.container.uow(readonly=True) as uow:
            return uow.ledger.held(order_id, "CNY").amount

    def postings(self, order_id: str) -> list[str]:
        with self.container.uow(readonly=True) as uow:
            return [str(p.kind) for p in uow.ledger.for_order(order_id)]
