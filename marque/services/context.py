"""What a use case may use: settings, the clock, a unit of work, and outbound ports.

``marque.bootstrap.Container`` satisfies this protocol; tests may pass their own.
Services depend on this protocol, never on bootstrap or on an adapter.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Protocol

from marque.config import Settings
from marque.services.catalog_cache import CatalogCache
from marque.services.payment_ports import PaymentProvider
from marque.services.ports import SmsSender
from marque.services.token_cache import TokenCache
from marque.services.unit_of_work import UnitOfWork


class AppContext(Protocol):
    settings: Settings
    sms: SmsSender
    #: Providers by name (the webhook path names one); ``payments`` is the default one.
    payment_providers: Mapping[str, PaymentProvider]

    @property
    def payments(self) -> PaymentProvider: ...

    # A read-only member: mypy does not match a dataclass field of callable type
    # against a settable protocol attribute.
    @property
    def clock(self) -> Callable[[], datetime]: ...

    def uow(self, *, readonly: bool = False) -> UnitOfWork: ...

    #: This process's cache of catalogue data (models, price books, terms, configurations).
    @property
    def catalog_cache(self) -> CatalogCache: ...

    #: This process's cache of signed-in callers (services/token_cache.py).
    @property
    def token_cache(self) -> TokenCache: ...
