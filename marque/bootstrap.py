"""The composition root: the one place that builds settings, engine, unit of work and adapters."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine

from marque.adapters.clock import system_clock
from marque.adapters.db.engine import make_engine, watch_catalogue_writes
from marque.adapters.db.unit_of_work import SqlUnitOfWork, shared_transaction
from marque.adapters.notify.sms import SandboxSmsSender
from marque.adapters.payments.sandbox import SandboxPaymentProvider
from marque.config import Settings
from marque.services.catalog_cache import CatalogCache
from marque.services.payment_ports import PaymentProvider
from marque.services.ports import SmsSender
from marque.services.token_cache import TokenCache


@dataclass
class Container:
    settings: Settings
    engine: Engine
    clock: Callable[[], datetime]
    sms: SmsSender
    payment_providers: Mapping[str, PaymentProvider] = field(default_factory=dict)
    extras: dict[str, object] = field(default_factory=dict)
    catalog_cache: CatalogCache = field(default_factory=CatalogCache)
    token_cache: TokenCache = field(default_factory=TokenCache)

    @property
    def payments(self) -> PaymentProvider:
        """The provider new payments go to (``MARQUE_PAYMENT_PROVIDER``)."""
        name = self.settings.payment_provider
        try:
            return self.payment_providers[name]
        except KeyError:
            raise RuntimeError(f"payment provider {name!r} is not configured") from None

    def uow(self, *, readonly: bool = False) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine, readonly=readonly)

    def shared_transaction(self) -> AbstractContextManager[SqlUnitOfWork]:
        """One transaction that every ``uow()`` opened inside the block joins (see
        adapters/db/unit_of_work.py); it commits only by ``commit()`` on what it yields."""
        return shared_transaction(self.engine)

    def close(self) -> None:
        self.engine.dispose()


def bootstrap(
    settings: Settings | None = None,
    *,
    clock: Callable[[], datetime] | None = None,
    sms: SmsSender | None = None,
) -> Container:
    settings = settings or Settings()
    engine = make_engine(settings)
    clock = clock or system_clock
    cache = CatalogCache(settings.catalog_cache_seconds)
    # A catalogue write committed by this process is seen by its next request at once.
    watch_catalogue_writes(engine, cache.invalidate)
    return Container(
        settings=settings,
        engine=engine,
        clock=clock,
        sms=sms or SandboxSmsSender(engine),
        payment_providers={"sandbox": SandboxPaymentProvider(engine, settings, clock=clock)},
        catalog_cache=cache,
        token_cache=TokenCache(settings.auth_cache_seconds),
    )
