"""The composition root: the one place that builds settings, engine, unit of work and adapters."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine

from marque.adapters.clock import system_clock
from marque.adapters.db.engine import make_engine
from marque.adapters.db.unit_of_work import SqlUnitOfWork
from marque.adapters.notify.sms import SandboxSmsSender
from marque.config import Settings
from marque.services.ports import SmsSender


@dataclass
class Container:
    settings: Settings
    engine: Engine
    clock: Callable[[], datetime]
    sms: SmsSender
    extras: dict[str, object] = field(default_factory=dict)

    def uow(self, *, readonly: bool = False) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine, readonly=readonly)

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
    return Container(
        settings=settings,
        engine=engine,
        clock=clock or system_clock,
        sms=sms or SandboxSmsSender(engine),
    )
