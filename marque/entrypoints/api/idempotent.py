"""Running a money-moving route at most once per Idempotency-Key (see services/idempotency.py).

``run_once_per_key`` wraps the route's work: a replay gets the stored first answer (status
and body, marked with ``Idempotent-Replayed: true``); an expected error (4xx) is stored and
replayed like a success; an unexpected one (5xx) releases the key so a retry may run.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from marque.bootstrap import Container
from marque.domain.errors import MarqueError
from marque.domain.identity import Actor
from marque.entrypoints.api.problems import PROBLEM_JSON, render_error
from marque.services import idempotency

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


def run_once_per_key(
    request: Request,
    container: Container,
    actor: Actor,
    key: str | None,
    body: BaseModel | None,
    work: Callable[[], tuple[int, BaseModel]],
    *,
    before_key_check: Callable[[], None] | None = None,
) -> JSONResponse:
    """Run ``work`` once for (actor, key, method, path, body); replay its answer afterwards.

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
    request_hash = idempotency.fingerprint(request.method, request.url.path, payload)
    scope = {"actor": actor.ref, "key": checked}
    answer = idempotency.begin(
        container,
        method=request.method,
        path=request.url.path,
        request_hash=request_hash,
        **scope,
    )
    if answer is not None:
        return _stored(answer)
    try:
        status, result = work()
    except MarqueError as exc:
        if not exc.expose or exc.status >= 500:
            idempotency.abandon(container, **scope)
            raise
        response = render_error(request, exc)
        assert isinstance(response, JSONResponse)
        idempotency.finish(
            container, status=response.status_code, body=json.loads(bytes(response.body)), **scope
        )
        return response
    except BaseException:
        idempotency.abandon(container, **scope)
        raise
    document = result.model_dump(mode="json")
    idempotency.finish(container, status=status, body=document, **scope)
    return JSONResponse(document, status_code=status)


__all__ = ["REPLAYED", "IdempotencyKey", "run_once_per_key"]
