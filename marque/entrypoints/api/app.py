"""The FastAPI application: API under /api/v1, pages at /, ops endpoints at the root."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import ExitStack, asynccontextmanager

from fastapi import FastAPI
from fastapi.routing import APIRoute

from marque import __version__
from marque.bootstrap import Container
from marque.entrypoints.api.backpressure import BackpressureMiddleware, default_max_in_flight
from marque.entrypoints.api.blocking import LoopRoutes
from marque.entrypoints.api.observability import Metrics, RequestContextMiddleware
from marque.entrypoints.api.problems import install_problem_handlers
from marque.entrypoints.api.routers import (
    auth,
    catalog,
    finance,
    health,
    orders,
    payments,
    sales,
    sandbox,
    sandbox_payments,
)
from marque.entrypoints.workers import jobs, sandbox_webhooks


def _operation_id(route: APIRoute) -> str:
    tag = route.tags[0] if route.tags else "default"
    return f"{tag}-{route.name}"


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Background work that lives as long as the server: one ``enter_context`` per worker."""
    container: Container = app.state.container
    with ExitStack() as background:
        background.enter_context(sandbox_webhooks.running_in_server(container))
        background.enter_context(jobs.running_in_server(container))
        yield


def create_app(container: Container) -> FastAPI:
    app = FastAPI(
        title="marque",
        version=__version__,
        summary="Direct-to-consumer sales and after-sales for an electric-vehicle maker",
        description=(
            "Errors are RFC 9457 problem+json with a stable `code`. "
            "Send `Accept-Language: zh-CN` or `en`. Money is `{amount, currency}` in minor units. "
            "Under overload any request may get 503 `overload.shed` with `Retry-After` and a "
            "`Marque-Retry-Ticket` header: repeat it after that many seconds with the ticket in "
            "a `Marque-Retry-Ticket` header (and the same `Idempotency-Key`) to keep its place."
        ),
        generate_unique_id_function=_operation_id,
        lifespan=_lifespan,
    )
    app.state.container = container
    app.state.metrics = Metrics()
    install_problem_handlers(app)
    # A request is matched against the routes in this order, one by one: the launch's
    # steps first (the webhook, one route, before the buyer's ten). No two routers share a path.
    api = (
        ("/api/v1", payments.router),
        ("/api/v1", orders.router),
        ("/api/v1", sandbox_payments.router),
        ("", health.router),
        ("/api/v1", catalog.router),
        ("/api/v1", auth.router),
        ("/api/v1", sandbox.router),
        ("/api/v1", finance.router),
        ("/api/v1", sales.router),
    )
    for prefix, router in api:
        app.include_router(router, prefix=prefix)

    from marque.entrypoints.web import pages
    from marque.entrypoints.web.waiting_page import WaitingPage

    pages.install(app)
    settings = container.settings
    # Inside the request context (ids, language, access log), outside everything else.
    app.add_middleware(
        BackpressureMiddleware,
        max_in_flight=settings.max_in_flight
        or default_max_in_flight(
            settings.db_pool_size, routes_on_event_loop=settings.routes_on_event_loop
        ),
        max_wait_seconds=settings.max_in_flight_wait_seconds,
        ahead_wait_seconds=settings.overload_ahead_wait_seconds,
        follow_ups_waiting_per_slot=settings.overload_follow_ups_waiting_per_slot,
        retry_after_seconds=settings.overload_retry_after_seconds,
        retry_after_max_seconds=settings.overload_retry_after_max_seconds,
        default_locale=settings.default_locale,
        ticket_secret=settings.secret_key,
        waiting_page=WaitingPage(app.state.web_templates),
        cookie_secure=settings.cookie_secure,
        registry=app.state.metrics.registry,
        on_the_loop=(
            LoopRoutes(api, lambda: container.payment_providers)
            if settings.routes_on_event_loop
            else None
        ),
        max_in_flight_in_pool=settings.max_in_flight_in_pool
        or default_max_in_flight(settings.db_pool_size),
    )
    app.add_middleware(
        RequestContextMiddleware,
        metrics=app.state.metrics,
        default_locale=container.settings.default_locale,
    )
    return app
