"""The page session: who is signed in (from the ``marque_session`` cookie) and its cookie."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from fastapi import Request, Response

from marque.bootstrap import Container
from marque.config import Settings
from marque.domain.identity import ANONYMOUS, Actor
from marque.services import auth as auth_service

SESSION_COOKIE: Final = auth_service.SESSION_COOKIE


def container_of(request: Request) -> Container:
    container = request.app.state.container
    assert isinstance(container, Container)
    return container


def settings_of(request: Request) -> Settings:
    return container_of(request).settings


def current_actor(request: Request) -> Actor:
    """The signed-in customer or staff member of this page request, or ANONYMOUS.

    A stale or revoked session cookie simply means "not signed in" on pages.
    """
    cached: Any = getattr(request.state, "page_actor", None)
    if isinstance(cached, Actor):
        return cached
    actor = auth_service.actor_from_session_cookie(container_of(request), request.cookies)
    resolved = actor or ANONYMOUS
    request.state.page_actor = resolved
    return resolved


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def set_session_cookie(
    response: Response, token: str, expires_at: datetime, *, now: datetime, secure: bool
) -> None:
    max_age = max(0, int((expires_at - now).total_seconds()))
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="lax",
        secure=secure,
    )


def clear_session_cookie(response: Response, *, secure: bool) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=secure)
