"""Idempotency keys on a real database: first answer replayed, other bodies refused, a dead
first request taken over after its lease, keys kept at least 24 hours (both engines)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from conftest import Database
from money_world import World

from marque.config import Settings
from marque.domain.errors import Conflict, MarqueError, ValidationFailed
from marque.services import idempotency


@pytest.fixture
def world(seeded: Database) -> Iterator[World]:
    built = World.build(seeded)
    yield built
    built.close()


def start(world: World, key: str, body: object, actor: str = "customer:C-1") -> object:
    return idempotency.begin(
        world.container,
        actor=actor,
        key=key,
        method="POST",
        path="/api/v1/orders",
        request_hash=idempotency.fingerprint("POST", "/api/v1/orders", body),
    )


def test_a_replay_gets_the_first_answer(world: World) -> None:
    key = secrets.token_hex(8)
    assert start(world, key, {"a": 1}) is None
    idempotency.finish(
        world.container, actor="customer:C-1", key=key, status=201, body={"id": "O-1"}
    )

    replay = start(world, key, {"a": 1})

    assert replay == idempotency.StoredAnswer(201, {"id": "O-1"})


def test_the_same_key_with_another_body_is_refused(world: World) -> None:
    key = secrets.token_hex(8)
    start(world, key, {"a": 1})

    with pytest.raises(Conflict) as caught:
        start(world, key, {"a": 2})

    assert caught.value.code == "idempotency.key_reused"


def test_keys_belong_to_one_caller(world: World) -> None:
    key = secrets.token_hex(8)
    start(world, key, {"a": 1}, actor="customer:C-1")

    assert start(world, key, {"a": 2}, actor="customer:C-2") is None


def test_a_first_request_still_running_is_not_run_again(world: World) -> None:
    key = secrets.token_hex(8)
    start(world, key, {"a": 1})

    with pytest.raises(Conflict) as caught:
        start(world, key, {"a": 1})
    assert caught.value.code == "idempotency.in_progress"

    world.clock.advance(seconds=61)  # its process died: the lease is over
    assert start(world, key, {"a": 1}) is None


def test_an_abandoned_key_may_be_used_again(world: World) -> None:
    key = secrets.token_hex(8)
    start(world, key, {"a": 1})
    idempotency.abandon(world.container, actor="customer:C-1", key=key)

    assert start(world, key, {"a": 1}) is None


def test_keys_are_kept_a_day_at_least_then_purged(world: World) -> None:
    key = secrets.token_hex(8)
    start(world, key, {"a": 1})
    idempotency.finish(world.container, actor="customer:C-1", key=key, status=200, body={})

    world.clock.advance(hours=47)
    idempotency.purge_expired(world.container)
    assert start(world, key, {"a": 1}) == idempotency.StoredAnswer(200, {})

    world.clock.advance(hours=2)
    assert idempotency.purge_expired(world.container) >= 1
    assert start(world, key, {"a": 1}) is None


@pytest.mark.parametrize("bad", ["", "x" * 129, "has space", "ключ"])
def test_a_missing_or_malformed_key_is_refused(bad: str) -> None:
    with pytest.raises((ValidationFailed, MarqueError)) as caught:
        idempotency.check_key(bad)
    expected = "idempotency.key_required" if bad == "" else "idempotency.key_invalid"
    assert caught.value.code == expected


def test_the_ttl_setting_cannot_go_below_a_day() -> None:
    with pytest.raises(ValueError, match="greater than or equal to 24"):
        Settings(idempotency_key_ttl_hours=12)
