"""Friendly HTML error pages for page routes, in the caller's language with the other beside it.

``problems.render_error`` hands every ``MarqueError`` raised on a page address to
``render_error_page`` (installed as ``app.state.html_error_renderer``); the status and the
stable ``code`` are the same as the API's problem+json would carry.
"""

from __future__ import annotations

import logging

from fastapi import Request, Response
from fastapi.responses import HTMLResponse

from marque.domain.errors import MarqueError, RateLimited, Unavailable, ValidationFailed
from marque.domain.identity import ANONYMOUS, Actor
from marque.entrypoints.web.rendering import html_lang, render, translator_of
from marque.entrypoints.web.session import current_actor
from marque.i18n import Translator

log = logging.getLogger("marque.web")


def _safe_actor(request: Request) -> Actor:
    # An error page must render even when the database is the thing that failed.
    try:
        return current_actor(request)
    except Exception:  # any failure here means "show the page anonymously"
        return ANONYMOUS


def render_error_page(request: Request, exc: MarqueError) -> Response:
    shown = exc if exc.expose else MarqueError()
    if not exc.expose:
        log.error("internal error on a page", exc_info=exc)
    translator = translator_of(request)
    other = Translator("en" if translator.locale == "zh-CN" else "zh-CN")
    headers = {}
    if isinstance(exc, RateLimited | Unavailable):
        headers["Retry-After"] = str(exc.retry_after)
    violations = []
    if isinstance(shown, ValidationFailed):
        violations = [translator(v.message, **v.params) for v in shown.violations]
    try:
        return render(
            request,
            "error.html",
            status=shown.status,
            headers=headers,
            actor=_safe_actor(request),
            lang_path=None if request.method == "GET" else "/",
            title=translator(shown.title),
            detail=translator(shown.message, **shown.params),
            violations=violations,
            other={
                "lang": html_lang(other.locale),
                "title": other(shown.title),
                "detail": other(shown.message, **shown.params),
            },
            status_code=shown.status,
            code=shown.code,
            request_id=getattr(request.state, "request_id", None),
        )
    except Exception:  # the template itself failed: still answer with the right status
        log.exception("error page could not be rendered")
        text = f"<!doctype html><title>{shown.status}</title><h1>{shown.status}</h1><p>{shown.code}</p>"
        return HTMLResponse(text, status_code=shown.status, headers=headers)
