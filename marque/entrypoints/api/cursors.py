"""Opaque cursors for keyset pagination: the (created_at, id) of the last item seen."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime

from marque.domain.errors import N_, ValidationFailed, Violation

CURSOR_INVALID = "request.cursor_invalid"
MESSAGE = N_("The cursor is not one this API handed out; start again without it.")


def encode(created_at: datetime, item_id: str) -> str:
    text = json.dumps([created_at.isoformat(), item_id], separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode(cursor: str | None) -> tuple[datetime, str] | None:
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        when, item_id = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        moment = datetime.fromisoformat(when)
        if moment.tzinfo is None or not isinstance(item_id, str) or len(item_id) > 40:
            raise ValueError("not ours")
    except (ValueError, TypeError, binascii.Error, UnicodeError):
        raise ValidationFailed(
            [Violation(CURSOR_INVALID, MESSAGE, {}, "/query/cursor")], MESSAGE, code=CURSOR_INVALID
        ) from None
    return moment, item_id
