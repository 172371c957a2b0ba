"""FastAPI dependencies as ``Annotated`` aliases: the container, the language, the actor.

They are ``async def`` because FastAPI runs a plain ``def`` dependency in the thread pool: a
hand-off per dependency per request (four on a buyer's route) costs more CPU than the
dependency itself. Only a caller this process has not seen recently costs a statement, and
that one lookup runs through ``run_blocking`` (``get_actor``). The buyer's dependencies read
the container off the application rather than depending on ``get_container``: one solved
dependency fewer per request."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request

from marque.bootstrap import Container
from marque.domain.credentials import TokenKind
from marque.domain.errors import Forbidden, Unauthenticated
from marque.domain.identity import ANONYMOUS, Actor, Role
from marque.entrypoints.api.blocking import run_blocking
from marque.i18n import Translator
from marque.services import auth as auth_service


async def get_container(request: Request) -> Container:
    container = request.app.state.container
    assert isinstance(container, Container)
    return container


async def get_translator(request: Request) -> Translator:
    translator = getattr(request.state, "translator", None)
    if isinstance(translator, Translator):
        return translator
    return Translator(request.app.state.container.settings.default_locale)


ContainerDep = Annotated[Container, Depends(get_container)]
TranslatorDep = Annotated[Translator, Depends(get_translator)]


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


async def get_actor(request: Request) -> Actor:
    """The caller: from a bearer token, else from the page session cookie, else anonymous.

    A token that is present but unknown, expired or revoked is an error, never anonymous.
    """
    cached = getattr(request.state, "actor", None)
    if isinstance(cached, Actor):
        return cached
    container: Container = request.app.state.container
    token = bearer_token(request)
    session = request.cookies.get(auth_service.SESSION_COOKIE)
    actor: Actor | None
    if token is not None:
        actor = auth_service.cached_actor(container, token)
        if actor is None:
            actor = await run_blocking(lambda: auth_service.authenticate_token(container, token))
    elif session:
        actor = auth_service.cached_actor(container, session, kind=TokenKind.SESSION)
        if actor is None:
            actor = await run_blocking(lambda: _from_cookie(container, request))
    else:
        actor = ANONYMOUS
    request.state.actor = actor
    return actor


def _from_cookie(container: Container, request: Request) -> Actor:
    return auth_service.actor_from_session_cookie(container, request.cookies) or ANONYMOUS


ActorDep = Annotated[Actor, Depends(get_actor)]


async def require_customer(request: Request) -> Actor:
    # Calls get_actor itself rather than depending on it: each dependency FastAPI solves
    # costs about thirty Python calls per request, and this one is on every buyer's step.
    actor = await get_actor(request)
    if actor.is_customer:
        return actor
    if actor.is_staff:
        raise Forbidden()
    raise Unauthenticated()


def require_staff(*roles: Role) -> Callable[[Actor], Coroutine[Any, Any, Actor]]:
    """A dependency admitting staff holding any of ``roles`` (any staff when none given)."""

    wanted = frozenset(roles)

    async def dependency(actor: ActorDep) -> Actor:
        if not actor.is_staff:
            if actor.is_customer:
                raise Forbidden()
            raise Unauthenticated()
        if wanted and not actor.has_any(wanted):
            raise Forbidden()
        return actor

    return dependency


CustomerDep = Annotated[Actor, Depends(require_customer)]
StaffDep = Annotated[Actor, Depends(require_staff())]
