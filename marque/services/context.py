"""What a use case may use: settings, the clock, a unit of work, and outbound ports.

``marque.bootstrap.Container`` satisfies this protocol; tests may pass their own.
Services depend on this protocol, never on bootstrap or on an adapter.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from marque.config import Settings
from marque.services.ports import SmsSender
from marque.services.unit_of_work import UnitOfWork


class AppContext(Protocol):
    settings: Settings
    clock: Callable[[], datetime]
    sms: SmsSender

    def uow(self, *, readonly: bool = False) -> UnitOfWork: ...
