"""Languages: negotiation and Babel catalogues.

Source strings are English and are the gettext msgids. Each locale folder holds one
``.po`` file per area (errors, catalog, auth, web, ...) so that areas can grow their
strings independently; they are merged into one catalogue per locale at start-up.
Both catalogues must be complete: tests/unit/test_i18n_catalogues.py fails on a
missing or empty translation.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any, Final

from babel.messages.pofile import read_po

LOCALES: Final = ("zh-CN", "en")
DEFAULT_LOCALE: Final = "zh-CN"
LOCALE_DIR: Final = Path(__file__).parent / "locales"


def folder_name(locale: str) -> str:
    return locale.replace("-", "_")


def negotiate(accept_language: str | None, default: str = DEFAULT_LOCALE) -> str:
    """Pick zh-CN or en from an Accept-Language header (q-values honoured)."""
    if not accept_language:
        return default
    choices: list[tuple[float, int, str]] = []
    for index, part in enumerate(accept_language.split(",")):
        piece = part.strip()
        if not piece:
            continue
        tag, _, params = piece.partition(";")
        quality = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                quality = float(params[2:])
            except ValueError:
                quality = 0.0
        choices.append((-quality, index, tag.strip().lower()))
    for _q, _i, tag in sorted(choices):
        if tag.startswith("zh"):
            return "zh-CN"
        if tag.startswith("en"):
            return "en"
        if tag == "*":
            return default
    return default


def normalise(locale: str | None, default: str = DEFAULT_LOCALE) -> str:
    """Accept 'zh', 'zh-CN', 'zh_CN', 'en', 'en-US' ...; anything else is the default."""
    if not locale:
        return default
    lowered = locale.strip().lower().replace("_", "-")
    if lowered.startswith("zh"):
        return "zh-CN"
    if lowered.startswith("en"):
        return "en"
    return default


@cache
def catalogue(locale: str) -> Mapping[str, str]:
    """msgid -> msgstr for one locale, merged from every .po file of that locale."""
    merged: dict[str, str] = {}
    folder = LOCALE_DIR / folder_name(locale) / "LC_MESSAGES"
    for po_file in sorted(folder.glob("*.po")):
        with po_file.open("rb") as handle:
            for message in read_po(handle, locale=folder_name(locale)):
                if message.id and isinstance(message.id, str) and message.string:
                    merged[message.id] = str(message.string)
    return merged


def gettext(locale: str, message: str, **params: Any) -> str:
    """Translate ``message`` into ``locale`` and fill ``{placeholders}``.

    A message missing from the catalogue falls back to English (tests make sure none is).
    """
    text = catalogue(locale).get(message, message)
    if not params:
        return text
    try:
        return text.format(**params)
    except (KeyError, IndexError, ValueError):
        return text


class Translator:
    """A locale bound to gettext; what entry points hand to templates and renderers."""

    def __init__(self, locale: str) -> None:
        self.locale = normalise(locale)

    def __call__(self, message: str, **params: Any) -> str:
        return gettext(self.locale, message, **params)

    def ngettext(self, singular: str, plural: str, n: int, **params: Any) -> str:
        return self(singular if n == 1 else plural, n=n, **params)

    def pick(self, zh: str, en: str) -> str:
        """Choose between bilingual data fields (names stored in both languages)."""
        return zh if self.locale == "zh-CN" else en
