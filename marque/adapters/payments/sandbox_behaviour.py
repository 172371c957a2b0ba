"""How the sandbox provider misbehaves when asked to: deterministic rules, never chance.

Each rate setting (``MARQUE_SANDBOX_*_RATE``, 0 to 1) picks an exact share of occurrences
by counting them, starting with the first: a rate of 1/2 picks the 1st, 3rd, 5th ...;
1/3 the 1st, 4th, 7th ...; 1 every one; 0 none. Counters belong to one provider instance (one per server process), so a
test that builds its own provider knows exactly which call is picked.

- duplicate: the event is delivered twice (same ``event_id``);
- reorder: the event's deliveries are held back ``sandbox_webhook_reorder_hold_seconds``
  so that a later event of the same payment overtakes them;
- refund failure: the refund settles as failed;
- unavailable: the call raises ``ProviderUnavailable``. Picked calls alternate between
  failing *before* doing anything (an HTTP 500) and failing *after* the work was done
  (a timeout whose answer was lost), the case idempotency keys exist for.
"""

from __future__ import annotations

import math
import threading
from datetime import datetime, timedelta
from fractions import Fraction

from marque.adapters.payments.sandbox_webhooks import DeliveryPlan
from marque.config import Settings
from marque.services.payment_ports import ProviderUnavailable


class EveryNth:
    """Picks ``rate`` of the occurrences, evenly spread and reproducible."""

    def __init__(self, rate: float) -> None:
        if not 0 <= rate <= 1:
            raise ValueError(f"a rate is between 0 and 1, got {rate}")
        self._rate = Fraction(rate).limit_denominator(1000)
        self._count = 0
        self._lock = threading.Lock()

    def pick(self) -> bool:
        if self._rate == 0:
            return False
        with self._lock:
            self._count += 1
            count = self._count
        return math.ceil(count * self._rate) > math.ceil((count - 1) * self._rate)


class SandboxBehaviour:
    """The configured misbehaviour of one sandbox provider instance."""

    def __init__(self, settings: Settings) -> None:
        self._delay = timedelta(seconds=settings.sandbox_webhook_delay_seconds)
        self._hold = timedelta(seconds=settings.sandbox_webhook_reorder_hold_seconds)
        self.refund_delay = timedelta(seconds=settings.sandbox_refund_delay_seconds)
        self._duplicate = EveryNth(settings.sandbox_webhook_duplicate_rate)
        self._reorder = EveryNth(settings.sandbox_webhook_reorder_rate)
        self._refund_failure = EveryNth(settings.sandbox_refund_failure_rate)
        self._unavailable = EveryNth(settings.sandbox_unavailable_rate)
        self._outages = 0
        self._lock = threading.Lock()

    def plan(self, occurred_at: datetime) -> DeliveryPlan:
        """When an event that happens at ``occurred_at`` is first delivered, and how often."""
        due = occurred_at + self._delay
        if self._reorder.pick():
            due += self._hold
        return DeliveryPlan(due_at=due, copies=2 if self._duplicate.pick() else 1)

    def refund_fails(self) -> bool:
        return self._refund_failure.pick()

    def outage(self) -> bool:
        """Raise now (a 500), or return True when the answer must be lost after the work."""
        if not self._unavailable.pick():
            return False
        with self._lock:
            self._outages += 1
            before = self._outages % 2 == 1
        if before:
            raise ProviderUnavailable(retry_after=1)
        return True


__all__ = ["EveryNth", "SandboxBehaviour"]
