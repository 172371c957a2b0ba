"""Sign-in pages: customers by phone and SMS code, staff by password, sign-out, staff console.

Every POST here carries the CSRF token (``csrf.require_token``). A failed sign-in step
re-renders its form with the reason and the error's own status (401, 422, 429), so the
buyer stays on the page; anything unexpected becomes the HTML error page.
"""

from __future__ import annotations

from typing import Annotated, Any, Final
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from marque.domain.errors import N_, MarqueError, RateLimited, ValidationFailed
from marque.domain.identity import Role
from marque.entrypoints.web import csrf
from marque.entrypoints.web.rendering import apply_page_cookies, render, translator_of
from marque.entrypoints.web.session import (
    clear_session_cookie,
    client_ip,
    container_of,
    current_actor,
    set_session_cookie,
)
from marque.services import auth as auth_service
from marque.services.auth import IssuedToken

router = APIRouter(include_in_schema=False)

ROLE_NAMES: Final[dict[Role, str]] = {
    Role.SALES: N_("Sales"),
    Role.DELIVERY: N_("Delivery"),
    Role.SERVICE_ADVISOR: N_("Service advisor"),
    Role.TECHNICIAN: N_("Technician"),
    Role.FINANCE: N_("Finance"),
    Role.ADMIN: N_("Administrator"),
}

CsrfChecked = Depends(csrf.require_token)


def safe_next(target: str | None, default: str = "/") -> str:
    """Only a path on this site (``/models/X``), never ``//evil`` or an absolute URL."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


def error_messages(request: Request, exc: MarqueError) -> list[str]:
    _ = translator_of(request)
    if isinstance(exc, ValidationFailed) and exc.violations:
        return [_(v.message, **v.params) for v in exc.violations]
    return [_(exc.message, **exc.params)]


def _form_error(request: Request, exc: MarqueError, template: str, **context: Any) -> Response:
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RateLimited) else None
    return render(
        request,
        template,
        status=exc.status,
        headers=headers,
        errors=error_messages(request, exc),
        **context,
    )


def _signed_in_redirect(request: Request, issued: IssuedToken, target: str) -> Response:
    container = container_of(request)
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(
        response,
        issued.token,
        issued.expires_at,
        now=container.clock(),
        secure=container.settings.cookie_secure,
    )
    # A new session gets a new CSRF nonce: a token seen before sign-in is worth nothing after.
    csrf.set_cookie(response, csrf.rotate(request), secure=container.settings.cookie_secure)
    return response


def _sandbox_url(phone: str) -> str:
    return f"/api/v1/sandbox/sms?phone={quote(phone)}"


# ---------------------------------------------------------------------------- customers


@router.get("/signin", response_class=HTMLResponse)
def signin_page(request: Request, next: str = "/") -> Response:
    return render(request, "signin.html", step="phone", phone="", next=safe_next(next), errors=[])


@router.post("/signin/code", response_class=HTMLResponse, dependencies=[CsrfChecked])
def send_code(
    request: Request,
    phone: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
    resend: Annotated[str, Form()] = "",
) -> Response:
    container = container_of(request)
    target = safe_next(next)
    try:
        sent = auth_service.request_sms_code(
            container, phone, client_ip(request), translator_of(request).locale
        )
    except RateLimited as exc:
        if resend:  # too soon for another code: the one already sent still works
            return _form_error(
                request,
                exc,
                "signin.html",
                lang_path="/signin",
                step="code",
                sent=False,
                phone=phone,
                sandbox_url=_sandbox_url(phone),
                next=target,
            )
        return _form_error(
            request, exc, "signin.html", lang_path="/signin", step="phone", phone=phone, next=target
        )
    except ValidationFailed as exc:
        return _form_error(
            request, exc, "signin.html", lang_path="/signin", step="phone", phone=phone, next=target
        )
    return render(
        request,
        "signin.html",
        lang_path="/signin",
        step="code",
        sent=True,
        phone=sent.phone,
        phone_masked=sent.phone_masked,
        minutes=max(1, round(sent.expires_in / 60)),
        sandbox_url=_sandbox_url(sent.phone),
        next=target,
        errors=[],
    )


@router.post("/signin", response_class=HTMLResponse, dependencies=[CsrfChecked])
def sign_in(
    request: Request,
    phone: Annotated[str, Form()] = "",
    code: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    container = container_of(request)
    target = safe_next(next)
    try:
        issued = auth_service.login_with_sms(
            container, phone, code.strip(), client_ip(request), kind="session"
        )
    except ValidationFailed as exc:  # the phone itself is malformed: start again
        return _form_error(
            request, exc, "signin.html", lang_path="/signin", step="phone", phone=phone, next=target
        )
    except MarqueError as exc:
        if not exc.expose or exc.status not in (401, 429):
            raise
        return _form_error(
            request,
            exc,
            "signin.html",
            lang_path="/signin",
            step="code",
            sent=False,
            phone=phone,
            sandbox_url=_sandbox_url(phone),
            next=target,
        )
    return _signed_in_redirect(request, issued, target)


# ---------------------------------------------------------------------------- staff


@router.get("/staff/signin", response_class=HTMLResponse)
def staff_signin_page(request: Request) -> Response:
    return render(request, "staff_signin.html", username="", errors=[])


@router.post("/staff/signin", response_class=HTMLResponse, dependencies=[CsrfChecked])
def staff_sign_in(
    request: Request,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
) -> Response:
    container = container_of(request)
    try:
        issued = auth_service.login_staff(
            container, username, password, client_ip(request), kind="session"
        )
    except MarqueError as exc:
        if not exc.expose or exc.status not in (401, 422, 429):
            raise
        return _form_error(
            request, exc, "staff_signin.html", lang_path="/staff/signin", username=username
        )
    return _signed_in_redirect(request, issued, "/staff")


@router.get("/staff", response_class=HTMLResponse)
def staff_console(request: Request) -> Response:
    actor = current_actor(request)
    if not actor.is_staff:
        response = RedirectResponse("/staff/signin", status_code=303)
        apply_page_cookies(request, response, csrf.nonce_for_response(request))
        return response
    _ = translator_of(request)
    roles = [
        {"code": str(role), "name": _(ROLE_NAMES[role])}
        for role in sorted(actor.roles, key=list(Role).index)
    ]
    return render(request, "staff_console.html", roles=roles)


# ---------------------------------------------------------------------------- sign-out


@router.post("/signout", dependencies=[CsrfChecked])
def sign_out(request: Request) -> Response:
    container = container_of(request)
    token = request.cookies.get(auth_service.SESSION_COOKIE)
    if token:
        auth_service.revoke_token(container, token)
    response = RedirectResponse("/", status_code=303)
    clear_session_cookie(response, secure=container.settings.cookie_secure)
    csrf.set_cookie(response, csrf.rotate(request), secure=container.settings.cookie_secure)
    return response
