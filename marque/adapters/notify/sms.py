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
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Engine, insert

from marque.adapters.clock import system_clock
from marque.adapters.db.prepared import Prepared, bound
from marque.adapters.db.tables.auth import sandbox_sms_messages

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
            _STORE.run(
                conn,
                {
                    "b_phone": phone,
                    "b_text": text,
                    "b_code": code_in(text),
                    "b_purpose": purpose,
                    "b_sent_at": self._clock(),
                },
            )
        log.info("sandbox SMS stored", extra={"ctx_phone_tail": phone[-4:], "ctx_purpose": purpose})


class ConsoleSmsSender:
    def send(self, phone: str, text: str, *, purpose: str) -> None:
        log.info("SMS to %s (%s): %s", phone, purpose, text)
