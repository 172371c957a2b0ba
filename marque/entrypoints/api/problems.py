"""Render every error as RFC 9457 problem+json, in the caller's language.

One handler is registered for ``MarqueError``; framework errors (validation, 404 routes,
405) are translated into the same shape so that a client never sees two error formats.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from marque.domain.errors import (
    N_,
    ErrorCode,
    MarqueError,
    RateLimited,
    Unavailable,
    ValidationFailed,
)
from marque.entrypoints.api.backpressure import OverloadCode
from marque.i18n import Translator

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger("marque.api")


def translator_for(request: Request) -> Translator:
    translator = getattr(request.state, "translator", None)
    if isinstance(translator, Translator):
        return translator
    return Translator(request.app.state.container.settings.default_locale)


def problem_response(
    request: Request,
    *,
    status: int,
    code: str,
    title: str,
    detail: str,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"https://marque.dev/problems/{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        "instance": request.url.path,
    }
    request_id = getattr(request.state, "request_id", None)
    if request_id:
        body["request_id"] = request_id
    if errors:
        body["errors"] = errors
    if extra:
        body.update(extra)
    response_headers = {"Content-Language": translator_for(request).locale}
    response_headers.update(headers or {})
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=response_headers)


def wants_html(request: Request) -> bool:
    """Pages get HTML error pages; the API and machine endpoints get problem+json."""
    path = request.url.path
    if path.startswith(("/api/", "/healthz", "/readyz", "/metrics", "/openapi", "/docs")):
        return False
    return getattr(request.app.state, "html_error_renderer", None) is not None


def render_error(request: Request, exc: MarqueError) -> Any:
    if wants_html(request):
        return request.app.state.html_error_renderer(request, exc)
    _ = translator_for(request)
    if not exc.expose:
        log.error("internal error", exc_info=exc)
        generic = MarqueError()
        return problem_response(
            request,
            status=500,
            code=generic.code,
            title=_(generic.title),
            detail=_(generic.message),
        )
    errors = None
    if isinstance(exc, ValidationFailed):
        errors = [
            {
                "code": violation.code,
                "message": _(violation.message, **violation.params),
                **({"pointer": violation.pointer} if violation.pointer else {}),
                **({"params": dict(violation.params)} if violation.params else {}),
            }
            for violation in exc.violations
        ]
    headers = {}
    if isinstance(exc, RateLimited | Unavailable):
        headers["Retry-After"] = str(exc.retry_after)
    extra = {k: v for k, v in exc.params.items() if isinstance(v, str | int | float | bool)}
    return problem_response(
        request,
        status=exc.status,
        code=exc.code,
        title=_(exc.title),
        detail=_(exc.message, **exc.params),
        errors=errors,
        headers=headers,
        extra={"params": extra} if extra else None,
    )


async def _marque_error(request: Request, exc: Exception) -> Any:
    assert isinstance(exc, MarqueError)
    return render_error(request, exc)


async def _request_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    _ = translator_for(request)
    errors = []
    for item in exc.errors():
        location = "/".join(str(part) for part in item.get("loc", ()))
        errors.append(
            {
                "code": f"request.{item.get('type', 'invalid')}",
                "message": _("{field}: {problem}", field=location, problem=_(item.get("msg", ""))),
                "pointer": "/" + location,
            }
        )
    return problem_response(
        request,
        status=422,
        code=ErrorCode.REQUEST_INVALID,
        title=_(N_("Invalid request")),
        detail=_(N_("The request is malformed: {count} problem(s)."), count=len(errors)),
        errors=errors,
    )


async def _http_exception(request: Request, exc: Exception) -> Any:
    assert isinstance(exc, StarletteHTTPException)
    if wants_html(request) and exc.status_code == 404:
        from marque.domain.errors import NotFound

        return request.app.state.html_error_renderer(request, NotFound())
    _ = translator_for(request)
    if exc.status_code == 404:
        code, title, detail = (
            ErrorCode.ROUTE_NOT_FOUND,
            N_("Not found"),
            N_("There is nothing at this address."),
        )
    elif exc.status_code == 405:
        code, title, detail = (
            ErrorCode.METHOD_NOT_ALLOWED,
            N_("Method not allowed"),
            N_("This address does not accept that method."),
        )
    else:
        code, title, detail = (
            ErrorCode.REQUEST_INVALID,
            N_("Invalid request"),
            N_("The request could not be processed."),
        )
    return problem_response(
        request,
        status=exc.status_code,
        code=code,
        title=_(title),
        detail=_(detail),
        headers=dict(exc.headers or {}),
    )


async def _database_busy(request: Request, exc: Exception) -> Any:
    """Every database connection of this process stayed busy for the pool's whole timeout:
    the process is overloaded, not broken. 503 with Retry-After, like a shed request."""
    log.warning("database pool exhausted", exc_info=exc)
    retry_after = request.app.state.container.settings.overload_retry_after_seconds
    return render_error(
        request, Unavailable(retry_after=retry_after, code=OverloadCode.DATABASE_BUSY)
    )


async def _unhandled(request: Request, exc: Exception) -> Any:
    log.error("unhandled error", exc_info=exc)
    return render_error(request, MarqueError())


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(MarqueError, _marque_error)
    app.add_exception_handler(RequestValidationError, _request_validation)
    app.add_exception_handler(StarletteHTTPException, _http_exception)
    app.add_exception_handler(PoolTimeout, _database_busy)
    app.add_exception_handler(Exception, _unhandled)
