"""Where a route's blocking work runs: on the server's event loop, or in the thread pool.

A request's work is synchronous (SQLAlchemy on psycopg or sqlite3). FastAPI hands a plain
``def`` route to a worker thread and back: about 0.12 ms of CPU in isolation, and under load
the loop and the workers fight over the GIL. The launch's routes are ``async def`` and run
their work through ``run_blocking``, on the loop itself (``MARQUE_ROUTES_ON_EVENT_LOOP``,
the default): measured, a third less server CPU per paid reservation at two workers
(docs/decisions.md, "The launch's routes run on the event loop").

On the loop a process works on one such request at a time, and nothing else of that loop
(shedding, the health probe) runs until it ends: the work must be short and must not wait
on anything outside the machine. A route whose work may ask a payment provider is marked
``asks_payment_provider``; it runs in the pool while any provider is out of process.

Where a request works is decided once, when it arrives (``LoopRoutes``), by the
back-pressure middleware, which counts it against the loop's budget or the pool's and tells
``run_blocking`` through a context variable: a page rendering in the pool never holds the
slot of the one request the loop works on, and a reservation waiting on a remote provider
never holds up the loop's queue (docs/decisions.md, "Two budgets").

Before its work a request on the loop yields to the loop once. Without that, an admitted
request ran to its end before the next one was even read, so the back-pressure middleware
never saw more than one in flight and never shed: under a 3x overload every request waited
its turn (p99 43 s). With it, the requests read in one turn of the loop are all admitted or
shed first, and the admitted ones then work one after another.
"""

from __future__ import annotations

import asyncio
import inspect
import re
from collections.abc import Callable, Iterable, Mapping
from contextvars import ContextVar
from typing import Final, TypeVar

from fastapi.routing import APIRoute, APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.routing import compile_path

from marque.services.payment_ports import PaymentProvider

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., object])

#: Set by the back-pressure middleware for each request it placed on the loop.
ON_THE_LOOP: Final[ContextVar[bool]] = ContextVar("marque_on_the_loop", default=False)
_ASKS_PROVIDER: Final = "__marque_asks_payment_provider__"


async def run_blocking(work: Callable[[], T]) -> T:
    """``work()``, on the loop if the request was placed there, else in the thread pool."""
    if ON_THE_LOOP.get():
        await asyncio.sleep(0)  # let the loop read and admit (or shed) what has come in
        return work()
    return await run_in_threadpool(work)


def asks_payment_provider(endpoint: F) -> F:
    """Mark a route whose work may call the payment provider: it works in the thread pool
    while a provider is out of process. Put it under the router's decorator."""
    setattr(endpoint, _ASKS_PROVIDER, True)
    return endpoint


class LoopRoutes:
    """Which requests work on the event loop: those of ``async def`` routes (their work goes
    through ``run_blocking``), except routes that may ask a payment provider while one is
    out of process. Everything else (pages, the staff console, unknown paths) works in the
    thread pool. Only the ``async def`` routes are kept (about ten regular expressions, the
    launch's first); a page goes through them all, a few microseconds."""

    def __init__(
        self,
        routers: Iterable[tuple[str, APIRouter]],
        providers: Callable[[], Mapping[str, PaymentProvider]],
    ) -> None:
        """``routers``: (prefix, router) as included in the application, in that order."""
        self._providers = providers
        self._routes: list[tuple[re.Pattern[str], frozenset[str], bool]] = [
            (
                compile_path(prefix + route.path)[0],
                frozenset(route.methods or ()),
                bool(getattr(route.endpoint, _ASKS_PROVIDER, False)),
            )
            for prefix, router in routers
            for route in router.routes
            if isinstance(route, APIRoute) and inspect.iscoroutinefunction(route.endpoint)
        ]

    def __call__(self, method: str, path: str) -> bool:
        for regex, methods, asks_provider in self._routes:
            if method in methods and regex.match(path):
                return not asks_provider or self._providers_in_process()
        return False

    def _providers_in_process(self) -> bool:
        # Read at each request: a deployment (or a test) may swap its providers.
        return all(provider.in_process for provider in self._providers().values())


__all__ = ["ON_THE_LOOP", "LoopRoutes", "asks_payment_provider", "run_blocking"]
