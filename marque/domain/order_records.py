"""Records of the machinery around the money core: outbox messages, idempotency keys,
webhook receipts. Plain data the repositories hand to the services."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


@dataclass(frozen=True)
class OutboxMessage:
    id: int
    topic: str
    payload: dict[str, Any]
    attempts: int
    created_at: datetime


@dataclass(frozen=True)
class IdempotencyRecord:
    actor: str
    key: str
    method: str
    path: str
    request_hash: str
    created_at: datetime
    #: None while the first request is still being answered.
    status: int | None = None
    response: Any = None

    @property
    def completed(self) -> bool:
        return self.status is not None


class WebhookOutcome(StrEnum):
    APPLIED = "applied"  # changed our records
    IGNORED = "ignored"  # nothing to change (already in that state, or an older event)
    MISMATCH = "mismatch"  # amount or currency differ: recorded, not applied
    REFUNDED = "refunded"  # money taken for an order that no longer wanted it: sent back
    UNKNOWN = "unknown"  # names a payment or refund marque never created


@dataclass(frozen=True)
class WebhookReceipt:
    provider: str
    event_id: str
    event_type: str
    outcome: WebhookOutcome
    detail: str
    received_at: datetime


__all__ = ["IdempotencyRecord", "OutboxMessage", "WebhookOutcome", "WebhookReceipt"]
