"""Outbound ports the use cases call; adapters implement them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class TextMessage:
    phone: str
    text: str
    purpose: str


class SmsSender(Protocol):
    """Sends text messages to mainland mobile numbers (11 digits, no +86)."""

    def send(self, phone: str, text: str, *, purpose: str) -> None: ...

    def send_many(self, messages: Sequence[TextMessage]) -> list[Exception | None]:
        """Send each message (a gateway's batch call); for each, None once sent, or the
        error that kept it from being sent. The outbox relay sends its notices this way:
        a launch writes one per payment and one per lock."""
        ...
