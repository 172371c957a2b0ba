"""Idempotency keys: a replayed request gets the first answer, never a second effect.

A key belongs to one caller (``actor``). The first request with a key claims it (its
fingerprint: method, path and body), runs, and stores its answer (status and JSON body,
error answers included). Later requests with the same key:

- same fingerprint, answer stored: the stored answer, unchanged;
- same fingerprint, first request still running: the claim commits with the work and the
  answer (entrypoints/api/idempotent.py), so the second request waits for the first one's
  transaction and gets its answer; only between the two transactions of a route that calls
  a provider (``CallOut``) does it get 409 ``idempotency.in_progress`` (retry shortly). An
  unfinished claim older than ``LEASE`` (its process died) is taken over, which is safe
  because every use case refuses to act twice by itself;
- another fingerprint: 409 ``idempotency.key_reused``.

Keys are kept ``idempotency_key_ttl_hours`` (at least 24) and then purged by the worker.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Final

from marque.domain.errors import N_, Conflict, MarqueError, ValidationFailed, Violation
from marque.domain.order_records import IdempotencyRecord
from marque.services.context import AppContext
from marque.services.unit_of_work import UnitOfWork

HEADER: Final = "Idempotency-Key"
LEASE: Final = timedelta(seconds=60)
KEY_PATTERN: Final = re.compile(r"[A-Za-z0-9._:~\-]{1,128}")


class IdempotencyErrorCode(StrEnum):
    KEY_REQUIRED = "idempotency.key_required"
    KEY_INVALID = "idempotency.key_invalid"
    KEY_REUSED = "idempotency.key_reused"
    IN_PROGRESS = "idempotency.in_progress"


class KeyRequired(MarqueError):
    status = 400
    default_code = IdempotencyErrorCode.KEY_REQUIRED
    title = N_("Idempotency-Key required")
    default_message = N_(
        "This request moves money or creates an order: send an Idempotency-Key header (a "
        "unique value such as a UUID) so that a retry cannot do it twice."
    )
    expose = True


def invalid_key() -> ValidationFailed:
    message = N_("The Idempotency-Key must be 1 to 128 letters, digits or the characters . _ : ~ -")
    return ValidationFailed(
        [Violation(IdempotencyErrorCode.KEY_INVALID, message, {}, "/headers/Idempotency-Key")],
        message,
        code=IdempotencyErrorCode.KEY_INVALID,
    )


def key_reused(key: str) -> Conflict:
    return Conflict(
        N_(
            "Idempotency-Key {key} was already used for a different request; use a new key "
            "for a new request."
        ),
        code=IdempotencyErrorCode.KEY_REUSED,
        key=key,
    )


def in_progress(key: str) -> Conflict:
    return Conflict(
        N_("The first request with Idempotency-Key {key} is still running; retry shortly."),
        code=IdempotencyErrorCode.IN_PROGRESS,
        key=key,
    )


@dataclass(frozen=True)
class StoredAnswer:
    status: int
    body: Any


def fingerprint(method: str, path: str, body: Any) -> str:
    text = json.dumps(
        {"method": method.upper(), "path": path, "body": body},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def check_key(key: str | None) -> str:
    if key is None or key == "":
        raise KeyRequired()
    if not KEY_PATTERN.fullmatch(key):
        raise invalid_key()
    return key


def claim(
    uow: UnitOfWork,
    *,
    actor: str,
    key: str,
    method: str,
    path: str,
    request_hash: str,
    now: datetime,
) -> StoredAnswer | None:
    """Claim ``key`` in ``uow``'s transaction (None: go ahead, the claim commits with the
    work) or return the stored first answer. Raises key_reused or in_progress.

    On PostgreSQL a second request with the same key, arriving while the first one's
    transaction is open, waits on the key's unique index and then sees the stored answer."""
    record = IdempotencyRecord(actor[:64], key, method.upper()[:8], path, request_hash, now)
    if uow.idempotency.claim(record):
        return None
    existing = uow.idempotency.get(record.actor, key)
    if existing is None:  # purged between the two statements: claim again
        if uow.idempotency.claim(record):
            return None
        raise in_progress(key)
    if existing.request_hash != request_hash:
        raise key_reused(key)
    if existing.completed:
        assert existing.status is not None
        return StoredAnswer(existing.status, existing.response)
    if uow.idempotency.restart(record.actor, key, now=now, lease_started_before=now - LEASE):
        return None
    raise in_progress(key)


def complete(
    uow: UnitOfWork, *, actor: str, key: str, status: int, body: Any, now: datetime
) -> None:
    """Store the answer in ``uow``'s transaction, beside the work it answers for."""
    uow.idempotency.complete(actor[:64], key, status=status, response=body, now=now)


def begin(
    ctx: AppContext, *, actor: str, key: str, method: str, path: str, request_hash: str
) -> StoredAnswer | None:
    """Claim ``key`` in a transaction of its own (see ``claim``)."""
    with ctx.uow() as uow:
        answer = claim(
            uow,
            actor=actor,
            key=key,
            method=method,
            path=path,
            request_hash=request_hash,
            now=ctx.clock(),
        )
        if answer is None:
            uow.commit()
        return answer


def finish(ctx: AppContext, *, actor: str, key: str, status: int, body: Any) -> None:
    with ctx.uow() as uow:
        complete(uow, actor=actor, key=key, status=status, body=body, now=ctx.clock())
        uow.commit()


def abandon(ctx: AppContext, *, actor: str, key: str) -> None:
    """Forget a claim whose request failed unexpectedly, so that a retry may run it."""
    with ctx.uow() as uow:
        uow.idempotency.release(actor[:64], key)
        uow.commit()


def purge_expired(ctx: AppContext) -> int:
    """The worker's job: forget keys older than their time to live."""
    cutoff = ctx.clock() - timedelta(hours=max(24, ctx.settings.idempotency_key_ttl_hours))
    with ctx.uow() as uow:
        purged = uow.idempotency.purge(cutoff)
        uow.commit()
    return purged


__all__ = [
    "HEADER",
    "IdempotencyErrorCode",
    "KeyRequired",
    "StoredAnswer",
    "abandon",
    "begin",
    "check_key",
    "claim",
    "complete",
    "finish",
    "fingerprint",
    "purge_expired",
]
