"""Where a route's blocking work runs: on the server's event loop, or in the thread pool.

A request's work is synchronous (SQLAlchemy on psycopg or sqlite3). FastAPI hands a plain
``def`` route to a worker thread and back: about 0.12 ms of CPU in isolation, and under load
the loop and the workers fight over the GIL. The launch's routes are ``async def`` and run
their work through ``run_blocking``, on the loop itself (``MARQUE_ROUTES_ON_EVENT_LOOP``,
the default): measured, a third less server CPU per paid reservation at two workers
(docs/decisions.md, "The launch's routes run on the event loop").

On the loop a process works on one such request at a time, and nothing else of that loop
(shedding, the health probe) runs until it ends: the work must be short and must not wait
on anything outside the machine. Work that asks a payment provider that is out of process
(``calls_provider`` with a provider whose ``in_process`` is false) runs in the pool.

Before its work a request yields to the loop once. Without that, an admitted request ran
to its end before the next one was even read, so the back-pressure middleware never saw
more than one in flight and never shed: under a 3x overload every request waited its turn
(p99 43 s). With it, the requests read in one turn of the loop are all admitted or shed
first, and the admitted ones then work one after another: the in-flight limit bounds the
work queued on the loop again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from starlette.concurrency import run_in_threadpool

from marque.bootstrap import Container

T = TypeVar("T")


async def run_blocking(
    container: Container, work: Callable[[], T], *, calls_provider: bool = False
) -> T:
    """``work()``, on the loop where the settings allow it, else in the thread pool."""
    if container.settings.routes_on_event_loop and (
        not calls_provider or container.payments.in_process
    ):
        await asyncio.sleep(0)  # let the loop read and admit (or shed) what has come in
        return work()
    return await run_in_threadpool(work)
