"""The sandbox provider's webhook dispatcher, run inside each server process in sandbox mode.

``running_in_server(container)`` is entered from the FastAPI lifespan: while sandbox mode is
on and the "sandbox" provider is the sandbox adapter, a daemon thread calls
``deliver_due`` about every 200 ms. Tests call ``deliver_due`` (or
``SandboxPaymentProvider.deliver_due``) directly to deliver at once, or
``POST /api/v1/sandbox/webhooks/deliver`` on a running server.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

from marque.adapters.payments.sandbox import SandboxPaymentProvider
from marque.adapters.payments.sandbox_webhooks import Post, deliver_due
from marque.bootstrap import Container

log = logging.getLogger("marque.workers.sandbox_webhooks")

POLL_SECONDS: Final = 0.2


class WebhookPump:
    """A daemon thread that delivers due sandbox webhooks until stopped."""

    def __init__(
        self,
        provider: SandboxPaymentProvider,
        *,
        interval: float = POLL_SECONDS,
        post: Post | None = None,
    ) -> None:
        self._provider = provider
        self._interval = interval
        self._post = post
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sandbox-webhooks", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                deliver_due(self._provider, post=self._post)
            except Exception:  # the database may be briefly away; try again next round
                log.exception("sandbox webhook delivery round failed")


def sandbox_provider_of(container: Container) -> SandboxPaymentProvider | None:
    """The sandbox adapter when sandbox mode is on and it is registered, else None."""
    if not container.settings.sandbox:
        return None
    provider = container.payment_providers.get("sandbox")
    return provider if isinstance(provider, SandboxPaymentProvider) else None


@contextmanager
def running_in_server(container: Container) -> Iterator[None]:
    provider = sandbox_provider_of(container)
    if provider is None:
        yield
        return
    pump = WebhookPump(provider)
    pump.start()
    try:
        yield
    finally:
        pump.stop()


__all__ = ["POLL_SECONDS", "WebhookPump", "running_in_server", "sandbox_provider_of"]
