"""The page a browser gets when its request is shed: "you are in line", in the caller's
language with the other beside it. The waiting room's ticket rides in a cookie and the page
asks again by itself when the ticket is due (``entrypoints/api/waiting_room.py``), so a
buyer on the pages keeps a place in line as an app does.

Rendered once per language and wait, then served from memory: it is answered while the
process is too busy for anything else, without the database or the buyer's session.
"""

from __future__ import annotations

from jinja2 import Environment

from marque.domain.errors import N_
from marque.entrypoints.web.rendering import html_lang
from marque.i18n import Translator

#: The page's text, also shown in the other language (so it is marked here for the catalogue).
DETAIL = N_(
    "Many buyers are here at once. This page asks again by itself in %(seconds)s seconds, "
    "and your place in line is kept: please keep it open."
)
TITLE = N_("You are in line")


class WaitingPage:
    def __init__(self, env: Environment) -> None:
        self._template = env.get_template("waiting.html")
        self._rendered: dict[tuple[str, int], bytes] = {}

    def __call__(self, locale: str, retry_after: int) -> bytes:
        key = (locale, retry_after)
        page = self._rendered.get(key)
        if page is None:
            other = Translator("en" if locale == "zh-CN" else "zh-CN")
            page = self._template.render(
                translator=Translator(locale),
                html_lang=html_lang(locale),
                retry_after=retry_after,
                title=TITLE,
                detail=DETAIL,
                other={
                    "lang": html_lang(other.locale),
                    "title": other(TITLE),
                    "detail": other(DETAIL) % {"seconds": retry_after},
                },
            ).encode()
            self._rendered[key] = page
        return page


__all__ = ["WaitingPage"]
