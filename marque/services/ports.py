"""Outbound ports the use cases call; adapters implement them."""

from __future__ import annotations

from typing import Protocol


class SmsSender(Protocol):
    """Sends one text message to a mainland mobile number (11 digits, no +86)."""

    def send(self, phone: str, text: str, *, purpose: str) -> None: ...
