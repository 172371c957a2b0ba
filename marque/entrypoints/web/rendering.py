"""The Jinja2 environment and the one function that turns a template into a page response.

Templates translate with the i18n extension in *newstyle* mode: ``{{ _("Hello %(name)s",
name=x) }}`` escapes ``x`` and fills the placeholder. The catalogue used for a page is the
request's own ``Translator`` (set by the request-context middleware from ``?lang=``, the
``marque_lang`` cookie or ``Accept-Language``), handed to the template as ``translator``;
the gettext callables installed below read it from the template context, so one shared
environment serves both languages at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context
from jinja2.runtime import Context

from marque.domain.identity import ANONYMOUS, Actor
from marque.domain.money import MINOR_UNITS, SYMBOLS, Money
from marque.entrypoints.api.observability import LOCALE_COOKIE
from marque.entrypoints.web import csrf
from marque.entrypoints.web.session import current_actor, settings_of
from marque.i18n import LOCALES, Translator, normalise

TEMPLATES_DIR: Final = Path(__file__).parent / "templates"
STATIC_DIR: Final = Path(__file__).parent / "static"
LANG_COOKIE_MAX_AGE: Final = 365 * 24 * 3600

#: Pages load only their own scripts and styles and are never framed.
SECURITY_HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}

#: What each locale is called in its own language, for the language switch.
LANGUAGE_NAMES: Final = {"zh-CN": "中文", "en": "English"}


@pass_context
def _context_gettext(context: Context, message: str) -> str:
    translator = context.get("translator")
    return translator(message) if isinstance(translator, Translator) else message


@pass_context
def _context_ngettext(context: Context, singular: str, plural: str, n: int) -> str:
    translator = context.get("translator")
    chosen = singular if n == 1 else plural
    return translator(chosen) if isinstance(translator, Translator) else chosen


def format_money(value: Money | dict[str, Any] | None) -> str:
    """``¥249,900`` for whole amounts, ``¥249,900.50`` otherwise; accepts API-shaped dicts."""
    if value is None:
        return ""
    money = (
        value if isinstance(value, Money) else Money(int(value["amount"]), str(value["currency"]))
    )
    per = MINOR_UNITS[money.currency]
    sign = "-" if money.amount < 0 else ""
    major, minor = divmod(abs(money.amount), per)
    symbol = SYMBOLS[money.currency]
    if minor == 0:
        return f"{sign}{symbol}{major:,}"
    return f"{sign}{symbol}{major:,}.{minor:02d}"


def format_number(value: int | None) -> str:
    """``5000`` -> ``5,000`` (both languages group digits by three with a comma)."""
    return "" if value is None else f"{value:,}"


def build_environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_callables(  # type: ignore[attr-defined]
        _context_gettext, _context_ngettext, newstyle=True
    )
    env.filters["money"] = format_money
    env.filters["number"] = format_number
    return env


def translator_of(request: Request) -> Translator:
    translator = getattr(request.state, "translator", None)
    if isinstance(translator, Translator):
        return translator
    return Translator(settings_of(request).default_locale)


def html_lang(locale: str) -> str:
    return "zh-CN" if locale == "zh-CN" else "en"


def language_links(request: Request, path: str | None) -> list[dict[str, Any]]:
    """Links that reload ``path`` (default: this page) in each language, keeping the query."""
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
    current = translator_of(request).locale
    links = []
    for locale in LOCALES:
        query = (
            urlencode([*params, ("lang", locale)])
            if path is None
            else urlencode([("lang", locale)])
        )
        links.append(
            {
                "locale": locale,
                "name": LANGUAGE_NAMES[locale],
                "href": f"{path or request.url.path}?{query}",
                "current": locale == current,
            }
        )
    return links


def render(
    request: Request,
    template: str,
    *,
    status: int = 200,
    lang_path: str | None = None,
    headers: dict[str, str] | None = None,
    actor: Actor | None = None,
    **context: Any,
) -> HTMLResponse:
    """Render ``template`` for this request in its language, with the layout's shared values.

    ``lang_path`` names the GET page that the language switch should reload when this
    response answers a POST (a form result page has no GET twin at its own address).
    """
    env: Environment = request.app.state.web_templates
    settings = settings_of(request)
    translator = translator_of(request)
    who = actor if actor is not None else current_actor(request)
    nonce = csrf.nonce_for_response(request)
    values: dict[str, Any] = {
        "request": request,
        "translator": translator,
        "locale": translator.locale,
        "html_lang": html_lang(translator.locale),
        "actor": who,
        "signed_in": who != ANONYMOUS,
        "csrf_field": csrf.FIELD,
        "csrf_token": csrf.form_token(settings.secret_key, nonce, csrf.session_of(request)),
        "sandbox": settings.sandbox,
        "languages": language_links(request, lang_path),
        "current_path": request.url.path,
        # Where sign-in returns to: this page, unless it answers a form POST.
        "return_path": request.url.path if request.method == "GET" else "/",
    }
    values.update(context)
    body = env.get_template(template).render(values)
    response = HTMLResponse(body, status_code=status, headers=headers)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Vary"] = "Accept-Language, Cookie"
    response.headers["Content-Language"] = translator.locale
    response.headers.update(SECURITY_HEADERS)
    apply_page_cookies(request, response, nonce)
    return response


def apply_page_cookies(request: Request, response: HTMLResponse | Any, nonce: str) -> None:
    """Set the CSRF cookie when it is new, and remember an explicit ``?lang=`` choice."""
    settings = settings_of(request)
    if request.cookies.get(csrf.COOKIE) != nonce:
        csrf.set_cookie(response, nonce, secure=settings.cookie_secure)
    chosen = request.query_params.get("lang")
    if chosen:
        response.set_cookie(
            LOCALE_COOKIE,
            normalise(chosen, settings.default_locale),
            max_age=LANG_COOKIE_MAX_AGE,
            path="/",
            samesite="lax",
            secure=settings.cookie_secure,
        )
