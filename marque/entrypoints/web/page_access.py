"""Who may open the order and finance pages, and where everyone else is sent.

- Buyer pages: a signed-in customer; nobody signed in is sent to ``/signin?next=<this page>``;
  staff get the 403 page (their console is elsewhere).
- Finance pages: staff with the finance role (admins hold every role); nobody signed in is
  sent to the staff sign-in; customers and other staff get the 403 page.
"""

from __future__ import annotations

from typing import Final
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from marque.domain.errors import N_, Forbidden
from marque.domain.identity import Actor, Role
from marque.entrypoints.web import csrf
from marque.entrypoints.web.rendering import apply_page_cookies
from marque.entrypoints.web.session import current_actor

FINANCE_ROLES: Final = frozenset({Role.FINANCE})

BUYERS_ONLY: Final = N_(
    "These pages are for buyers. Sign out and sign in with your mobile number to see your orders."
)
FINANCE_ONLY: Final = N_("The finance console is for staff with the finance role.")


def redirect(request: Request, target: str) -> Response:
    """A 303 to ``target`` that still sets this request's CSRF and language cookies."""
    response = RedirectResponse(target, status_code=303)
    apply_page_cookies(request, response, csrf.nonce_for_response(request))
    return response


def signin_redirect(request: Request, back_to: str | None = None) -> Response:
    """To the sign-in page, which returns to ``back_to`` (default: this page)."""
    if back_to is None:
        query = request.url.query
        back_to = request.url.path + (f"?{query}" if query else "")
    return redirect(request, f"/signin?{urlencode({'next': back_to})}")


def buyer(request: Request) -> Actor | None:
    """The signed-in buyer, None when nobody is signed in; staff get the 403 page."""
    actor = current_actor(request)
    if actor.is_customer:
        return actor
    if actor.is_staff:
        raise Forbidden(BUYERS_ONLY)
    return None


def finance_staff(request: Request) -> Actor | None:
    """Finance staff (or an admin), None when nobody is signed in; others get the 403 page."""
    actor = current_actor(request)
    if actor.is_staff and actor.has_any(FINANCE_ROLES):
        return actor
    if actor.is_staff or actor.is_customer:
        raise Forbidden(FINANCE_ONLY)
    return None


def is_finance(actor: Actor) -> bool:
    return actor.is_staff and actor.has_any(FINANCE_ROLES)


__all__ = [
    "FINANCE_ROLES",
    "buyer",
    "finance_staff",
    "is_finance",
    "redirect",
    "signin_redirect",
]
