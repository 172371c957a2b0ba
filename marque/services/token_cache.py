"""A per-process cache of signed-in callers, so that a request does not pay a transaction
(the token and its account: two statements) just to learn who is calling.

An entry says which actor a token hash stood for and until when the token is valid; it is
reused for at most ``ttl_seconds`` (``MARQUE_AUTH_CACHE_SECONDS``, 0 turns it off) and never
past the token's own expiry. Signing out in this process drops the entry at once; another
server process may accept the revoked token until its entry is ``ttl_seconds`` old. That
window is the price of the saved transaction (docs/decisions.md) and is why staff tokens,
which a deactivation must stop, are not cached.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime

from marque.domain.identity import Actor


@dataclass(frozen=True)
class _Entry:
    actor: Actor
    token_expires_at: datetime
    fresh_until: float  # time.monotonic()


class TokenCache:
    def __init__(self, ttl_seconds: float = 0.0, max_entries: int = 200_000) -> None:
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self._entries: dict[tuple[str, str], _Entry] = {}
        self._lock = threading.Lock()

    def get(self, kind: str, token_hash: str, now: datetime) -> Actor | None:
        entry = self._entries.get((kind, token_hash))
        if entry is None:
            return None
        if entry.fresh_until <= time.monotonic() or entry.token_expires_at <= now:
            self.drop(kind, token_hash)
            return None
        return entry.actor

    def put(self, kind: str, token_hash: str, actor: Actor, token_expires_at: datetime) -> None:
        if self.ttl_seconds <= 0 or not actor.is_customer:
            return
        entry = _Entry(actor, token_expires_at, time.monotonic() + self.ttl_seconds)
        with self._lock:
            if len(self._entries) >= self.max_entries:
                # Oldest first (dicts keep insertion order): a launch's buyers come and go.
                for stale in list(self._entries)[: self.max_entries // 10 or 1]:
                    del self._entries[stale]
            self._entries[(kind, token_hash)] = entry

    def drop(self, kind: str, token_hash: str) -> None:
        with self._lock:
            self._entries.pop((kind, token_hash), None)


__all__ = ["TokenCache"]
