"""The per-process cache of signed-in callers: bounded in time, never past the token's expiry,
dropped on sign-out, and never holding staff (a deactivation must stop them at once)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from marque.domain.identity import Actor, ActorKind, Role
from marque.services.token_cache import TokenCache

NOW = datetime(2026, 11, 26, 1, 0, tzinfo=UTC)
BUYER = Actor(ActorKind.CUSTOMER, id="C-1")


def test_a_buyer_is_reused_until_the_token_expires() -> None:
    cache = TokenCache(ttl_seconds=60)
    cache.put("bearer", "h1", BUYER, token_expires_at=NOW + timedelta(seconds=10))

    assert cache.get("bearer", "h1", NOW) == BUYER
    assert cache.get("session", "h1", NOW) is None  # another kind of token
    assert cache.get("bearer", "h1", NOW + timedelta(seconds=10)) is None
    assert cache.get("bearer", "h1", NOW) is None  # the expired entry was dropped


def test_entries_age_out_and_sign_out_drops_them() -> None:
    aged = TokenCache(ttl_seconds=1e-9)
    aged.put("bearer", "h1", BUYER, token_expires_at=NOW + timedelta(days=1))
    assert aged.get("bearer", "h1", NOW) is None

    cache = TokenCache(ttl_seconds=60)
    cache.put("bearer", "h1", BUYER, token_expires_at=NOW + timedelta(days=1))
    cache.drop("bearer", "h1")
    assert cache.get("bearer", "h1", NOW) is None


def test_staff_and_a_disabled_cache_hold_nothing() -> None:
    staff = Actor(ActorKind.STAFF, id="S-1", roles=frozenset({Role.FINANCE}))
    cache = TokenCache(ttl_seconds=60)
    cache.put("bearer", "h1", staff, token_expires_at=NOW + timedelta(days=1))
    assert cache.get("bearer", "h1", NOW) is None

    off = TokenCache(ttl_seconds=0)
    off.put("bearer", "h2", BUYER, token_expires_at=NOW + timedelta(days=1))
    assert off.get("bearer", "h2", NOW) is None


def test_a_full_cache_forgets_its_oldest_entries() -> None:
    cache = TokenCache(ttl_seconds=60, max_entries=10)
    for n in range(11):
        cache.put("bearer", f"h{n}", BUYER, token_expires_at=NOW + timedelta(days=1))

    assert cache.get("bearer", "h0", NOW) is None
    assert cache.get("bearer", "h10", NOW) == BUYER
