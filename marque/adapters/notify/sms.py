"""SMS senders behind the ``SmsSender`` port.

- ``SandboxSmsSender`` keeps every message in ``sandbox_sms_messages`` (its own short
  transaction, so every server process sees it) where ``GET /api/v1/sandbox/sms`` reads it
  back while sandbox mode is on. It is the default.
- ``ConsoleSmsSender`` only logs the message: for a developer's terminal.

A real provider would be one more class with the same ``send``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy import Engine, insert

from marque.adapters.clock import system_clock
from marque.adapters.db.prepared import Prepared, bound
from marque.adapters.db.tables.auth import sandbox_sms_messages
from marque.services.ports import TextMessage

log = logging.getLogger("marque.sms")

_CODE_IN_TEXT = re.compile(r"(?<![0-9])([0-9]{6})(?![0-9])")


def code_in(text: str) -> str | None:
    """The first stand-alone six-digit number of a message, the way a phone's autofill finds it."""
    match = _CODE_IN_TEXT.search(text)
    return match.group(1) if match else None


# Built once: a launch sends a notice per payment and per lock, and building the INSERT per
# message made storing one cost 395 µs of CPU instead of 284.
_STORE = Prepared(
    insert(sandbox_sms_messages).values(**bound("phone", "text", "code", "purpose", "sent_at"))
)


class SandboxSmsSender:
    def __init__(self, engine: Engine, *, clock: Callable[[], datetime] = system_clock) -> None:
        self._engine = engine
        self._clock = clock

    def send(self, phone: str, text: str, *, purpose: str) -> None:
        with self._engine.begin() as conn:
            _STORE.run(conn, _row(TextMessage(phone, text, purpose), self._clock()))
        log.info("sandbox SMS stored", extra={"ctx_phone_tail": phone[-4:], "ctx_purpose": purpose})

    def send_many(self, messages: Sequence[TextMessage]) -> list[Exception | None]:
        """All in one transaction: each stored, or none (each then fails with its error)."""
        if not messages:
            return []
        now = self._clock()
        try:
            with self._engine.begin() as conn:
                for message in messages:
                    _STORE.run(conn, _row(message, now))
        except Exception as exc:  # the gateway's whole call failed: every message with it
            return [exc] * len(messages)
        log.info("sandbox SMS stored", extra={"ctx_count": len(messages)})
        return [None] * len(messages)


def _row(message: TextMessage, sent_at: datetime) -> dict[str, object]:
    return {
        "b_phone": message.phone,
        "b_text": message.text,
        "b_code": code_in(message.text),
        "b_purpose": message.purpose,
        "b_sent_at": sent_at,
    }


class ConsoleSmsSender:
    def send(self, phone: str, text: str, *, purpose: str) -> None:
        log.info("SMS to %s (%s): %s", phone, purpose, text)

    def send_many(self, messages: Sequence[TextMessage]) -> list[Exception | None]:
        for message in messages:
            self.send(message.phone, message.text, purpose=message.purpose)
        return [None] * len(messages)
