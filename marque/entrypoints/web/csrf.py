"""CSRF protection for page forms: a signed double-submit token.

Every page response makes sure the browser holds a random ``marque_csrf`` cookie (the
nonce). Each form carries a hidden ``csrf_token`` field: an HMAC, keyed with
``settings.secret_key``, over that nonce and the page session token (empty when nobody is
signed in). A POST is accepted only when the field equals the HMAC recomputed from the
cookies it arrived with, compared in constant time. Another site can make a browser send
our cookies but cannot read them, so it cannot produce the field; binding the session
means a token taken from one session is useless in another, and signing in rotates the
nonce.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from typing import Annotated, Any, Final

from fastapi import Form, Request, Response

from marque.domain.errors import N_, ErrorCode, Forbidden
from marque.entrypoints.web.session import SESSION_COOKIE, settings_of

COOKIE: Final = "marque_csrf"
FIELD: Final = "csrf_token"
_NONCE_SHAPE: Final = re.compile(r"^[A-Za-z0-9_-]{32,64}$")

CSRF_MESSAGE: Final = N_(
    "This form is out of date or did not come from this site, so nothing was done. "
    "Go back, reload the page and try again."
)


def new_nonce() -> str:
    return secrets.token_urlsafe(32)


def session_of(request: Request) -> str:
    return request.cookies.get(SESSION_COOKIE, "")


def form_token(secret_key: str, nonce: str, session: str) -> str:
    message = f"marque-csrf\x00{nonce}\x00{session}".encode()
    return hmac.new(secret_key.encode(), message, hashlib.sha256).hexdigest()


def nonce_for_response(request: Request) -> str:
    """The nonce this response's forms are signed with: the browser's, or a fresh one."""
    chosen: Any = getattr(request.state, "csrf_nonce", None)
    if isinstance(chosen, str):
        return chosen
    existing = request.cookies.get(COOKIE, "")
    nonce = existing if _NONCE_SHAPE.match(existing) else new_nonce()
    request.state.csrf_nonce = nonce
    return nonce


def rotate(request: Request) -> str:
    """Start a fresh nonce (after sign-in or sign-out) for the response being built."""
    nonce = new_nonce()
    request.state.csrf_nonce = nonce
    return nonce


def set_cookie(response: Response, nonce: str, *, secure: bool) -> None:
    response.set_cookie(COOKIE, nonce, path="/", httponly=True, samesite="lax", secure=secure)


def is_valid(request: Request, submitted: str) -> bool:
    nonce = request.cookies.get(COOKIE, "")
    if not submitted or not _NONCE_SHAPE.match(nonce):
        return False
    expected = form_token(settings_of(request).secret_key, nonce, session_of(request))
    return hmac.compare_digest(expected.encode(), submitted.encode())


def require_token(request: Request, csrf_token: Annotated[str, Form()] = "") -> None:
    """Dependency for every page form POST: a missing or wrong token is a 403 page."""
    if not is_valid(request, csrf_token):
        raise Forbidden(CSRF_MESSAGE, code=ErrorCode.CSRF_FAILED)
