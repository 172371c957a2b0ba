"""What the catalogue and the configurator show before sales open: the opening time in the
reader's time zone, and what the countdown script (static/countdown.js) needs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from marque.domain.launch import iso
from marque.i18n import Translator
from marque.services.notifications import format_time


def opening_view(opens_at: datetime | None, now: datetime, _: Translator) -> dict[str, Any] | None:
    """None once on sale; else the time as ISO (for the script) and as text (for people)."""
    if opens_at is None or opens_at <= now:
        return None
    return {"iso": iso(opens_at), "text": format_time(opens_at, _)}
