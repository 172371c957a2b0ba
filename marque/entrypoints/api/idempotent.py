"""Running a money-moving route at most once per Idempotency-Key (see services/idempotency.py).

``run_once_per_key`` wraps the route's work: a replay gets the stored first answer (status
and body, marked with ``Idempotent-Replayed: true``); an expected error (4xx) is stored and
replayed like a success; an unexpected one (5xx) rolls back the claim with the work, so a
retry may run.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from marque.bootstrap import Container
from marque.domain.errors import MarqueError
from marque.domain.identity import Actor
from marque.entrypoints.api.problems import PROBLEM_JSON, render_error
from marque.services import idempotency
from marque.services.unit_of_work import UnitOfWork

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias=idempotency.HEADER,
        description=(
            "Required. A unique value per intended operation (e.g. a UUID), 1-128 of "
            "`A-Za-z0-9._:~-`. A retry with the same key and body returns the first answer; "
            "the same key with another body is 409 `idempotency.key_reused`. Kept 24 h or more."
        ),
    ),
]

REPLAYED = "Idempotent-Replayed"


def _stored(answer: idempotency.StoredAnswer) -> JSONResponse:
    media_type = PROBLEM_JSON if answer.status >= 400 else "application/json"
    return JSONResponse(
        answer.body,
        status_code=answer.status,
        media_type=media_type,
        headers={REPLAYED: "true"},
    )


@dataclass(frozen=True)
class CallOut:
    """What a keyed route must do *after* its transaction (ask a remote payment provider),
    and the answer to build from that in a second short transaction, which also stores it.
    Meanwhile a retry with the same key gets 409 ``idempotency.in_progress``."""

    remote: Callable[[], Any]
    answer: Callable[[Any], tuple[int, BaseModel]]


Outcome = tuple[int, BaseModel] | CallOut


def run_once_per_key(
    request: Request,
    container: Container,
    actor: Actor,
    key: str | None,
    body: BaseModel | None,
    work: Callable[[], Outcome],
    *,
    before_key_check: Callable[[], None] | None = None,
) -> JSONResponse:
    """Run ``work`` once for (actor, key, method, path, body); replay its answer afterwards.

    The key's claim, the work and the stored answer commit together, in one transaction
    that every unit of work of the use case joins: a crash leaves neither a claim nor half
    the work, and the hot routes pay for one commit, not three. ``work`` may return a
    ``CallOut`` for a remote call that must not run inside that transaction.

    ``before_key_check`` runs first when the key is missing or malformed, so that e.g. a
    caller who may not see the resource still gets 404 rather than a key problem.
    """
    try:
        checked = idempotency.check_key(key)
    except MarqueError:
        if before_key_check is not None:
            before_key_check()
        raise
    payload: Any = body.model_dump(mode="json") if body is not None else None
    claim = {
        "actor": actor.ref,
        "key": checked,
        "method": request.method,
        "path": request.url.path,
        "request_hash": idempotency.fingerprint(request.method, request.url.path, payload),
    }
    try:
        with container.shared_transaction() as uow:
            stored = idempotency.claim(uow, **claim, now=container.clock())
            if stored is not None:
                uow.end_unchanged()  # a replay writes nothing
                return _stored(stored)
            outcome = work()
            if not isinstance(outcome, CallOut):
                return _answer(container, uow, actor, checked, *outcome)
            uow.commit()  # the claim and the work; the answer comes after the call out
    except MarqueError as exc:
        if not exc.expose or exc.status >= 500:
            raise  # rolled back, claim included: a retry may run
        return _refusal(request, container, claim, exc)
    try:
        fetched = outcome.remote()
        with container.shared_transaction() as uow:
            return _answer(container, uow, actor, checked, *outcome.answer(fetched))
    except BaseException:
        idempotency.abandon(container, actor=actor.ref, key=checked)
        raise


def _answer(
    container: Container, uow: UnitOfWork, actor: Actor, key: str, status: int, result: BaseModel
) -> JSONResponse:
    document = result.model_dump(mode="json")
    _store(container, uow, actor.ref, key, status, document)
    return JSONResponse(document, status_code=status)


def _store(
    container: Container, uow: UnitOfWork, actor_ref: str, key: str, status: int, body: Any
) -> None:
    idempotency.complete(
        uow, actor=actor_ref, key=key, status=status, body=body, now=container.clock()
    )
    uow.commit()


def _refusal(
    request: Request, container: Container, claim: dict[str, Any], exc: MarqueError
) -> JSONResponse:
    """An expected refusal (4xx): the work was rolled back; store the refusal under the key,
    unless a concurrent request with the same key got there first (then answer as it did)."""
    response = render_error(request, exc)
    assert isinstance(response, JSONResponse)
    if exc.code in _KEY_CONFLICTS:
        return response  # about the key itself: nothing to store
    with container.shared_transaction() as uow:
        stored = idempotency.claim(uow, **claim, now=container.clock())
        if stored is not None:
            uow.end_unchanged()
            return _stored(stored)
        body = json.loads(bytes(response.body))
        _store(container, uow, claim["actor"], claim["key"], response.status_code, body)
    return response


_KEY_CONFLICTS = frozenset(
    {idempotency.IdempotencyErrorCode.KEY_REUSED, idempotency.IdempotencyErrorCode.IN_PROGRESS}
)


__all__ = ["REPLAYED", "CallOut", "IdempotencyKey", "Outcome", "run_once_per_key"]
