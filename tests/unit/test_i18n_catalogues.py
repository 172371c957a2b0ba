"""Both catalogues are complete: every user-facing string has a zh-CN and an en translation.

Msgids are extracted with Babel exactly as `pybabel extract` would: Python files under
marque/ with the keywords ``_``, ``N_``, ``gettext`` and ``ngettext``, and the Jinja templates
with Jinja's own Babel extractor. A string missing from either locale, a placeholder that a
translation dropped or renamed, or two area files disagreeing on one msgid fails here.

Bilingual data names travel as a pair of params (``option_en`` / ``option_zh``): the English
msgid names the ``*_en`` one and the Chinese msgstr the ``*_zh`` one, so a placeholder's
language suffix is ignored when msgid and msgstr are compared.
"""

from __future__ import annotations

import re
import string
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po

from marque.i18n import LOCALE_DIR, LOCALES, catalogue, folder_name

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "marque"
TEMPLATES = PACKAGE / "entrypoints" / "web" / "templates"
KEYWORDS: dict[str, object] = {"_": None, "N_": None, "gettext": None, "ngettext": (1, 2)}
PERCENT_PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")
WORD = re.compile(r"[A-Za-z]{2,}")
LANGUAGE_SUFFIX = re.compile(r"_(en|zh)$")


@dataclass(frozen=True)
class Found:
    msgid: str
    where: str


def _python_files() -> Iterator[Path]:
    for path in sorted(PACKAGE.rglob("*.py")):
        if "migrations" not in path.parts:
            yield path


def extracted_messages() -> list[Found]:
    found: list[Found] = []
    for path in _python_files():
        for lineno, message, _comments, _context in extract_from_file(
            "python", str(path), keywords=KEYWORDS
        ):
            for msgid in message if isinstance(message, tuple) else (message,):
                if msgid:
                    found.append(Found(msgid, f"{path.relative_to(ROOT)}:{lineno}"))
    for path in sorted(TEMPLATES.rglob("*.html")) if TEMPLATES.exists() else []:
        for lineno, message, _comments, _context in extract_from_file(
            "jinja2.ext:babel_extract",
            str(path),
            keywords=KEYWORDS,
            options={"extensions": "jinja2.ext.i18n", "trimmed": "true"},
        ):
            for msgid in message if isinstance(message, tuple) else (message,):
                if msgid:
                    found.append(Found(msgid, f"{path.relative_to(ROOT)}:{lineno}"))
    return found


def placeholders(text: str) -> set[str]:
    """Names of ``{name}`` and ``%(name)s`` placeholders, without a ``_en``/``_zh`` suffix."""
    names = set(PERCENT_PLACEHOLDER.findall(text))
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError:
        return names | {"<unbalanced braces>"}
    names |= {field for _literal, field, _spec, _conv in parsed if field is not None}
    return {LANGUAGE_SUFFIX.sub("_*", name) for name in names}


@dataclass(frozen=True)
class PoEntry:
    file: Path
    msgid: str
    msgstr: str
    fuzzy: bool


def po_entries(locale: str) -> list[PoEntry]:
    entries: list[PoEntry] = []
    folder = LOCALE_DIR / folder_name(locale) / "LC_MESSAGES"
    for po_file in sorted(folder.glob("*.po")):
        with po_file.open("rb") as handle:
            parsed = read_po(handle, locale=folder_name(locale))
        for message in parsed:
            if not message.id:
                continue
            ids = message.id if isinstance(message.id, tuple) else (message.id,)
            strings = message.string if isinstance(message.string, tuple) else (message.string,)
            for msgid, msgstr in zip(ids, strings, strict=False):
                entries.append(PoEntry(po_file, str(msgid), str(msgstr or ""), message.fuzzy))
    return entries


def test_extraction_finds_the_shared_error_messages() -> None:
    msgids = {found.msgid for found in extracted_messages()}

    assert "Please sign in to continue." in msgids
    assert "There is nothing at this address." in msgids
    assert "Cannot combine amounts in {left} and {right}." in msgids


@pytest.mark.parametrize("locale", LOCALES)
def test_every_extracted_msgid_has_a_translation(locale: str) -> None:
    translations = catalogue(locale)
    missing: dict[str, list[str]] = defaultdict(list)
    for found in extracted_messages():
        if not translations.get(found.msgid, "").strip():
            missing[found.msgid].append(found.where)

    report = "\n".join(
        f"  {msgid!r}  ({', '.join(where)})" for msgid, where in sorted(missing.items())
    )
    assert not missing, (
        f"{len(missing)} msgid(s) have no {locale} translation; add them to the area's .po file "
        f"in marque/locales/{folder_name(locale)}/LC_MESSAGES/:\n{report}"
    )


@pytest.mark.parametrize("locale", LOCALES)
def test_translations_keep_the_placeholders_of_their_msgid(locale: str) -> None:
    broken = [
        f"  {entry.file.name}: {entry.msgid!r} -> {entry.msgstr!r}"
        for entry in po_entries(locale)
        if entry.msgstr and placeholders(entry.msgid) != placeholders(entry.msgstr)
    ]

    assert not broken, "placeholders differ between msgid and msgstr:\n" + "\n".join(broken)


@pytest.mark.parametrize("locale", LOCALES)
def test_no_translation_is_fuzzy_or_empty(locale: str) -> None:
    unfinished = [
        f"  {entry.file.name}: {entry.msgid!r}"
        for entry in po_entries(locale)
        if entry.fuzzy or not entry.msgstr.strip()
    ]

    assert not unfinished, "fuzzy or empty translations:\n" + "\n".join(unfinished)


@pytest.mark.parametrize("locale", LOCALES)
def test_area_files_agree_on_each_msgid(locale: str) -> None:
    translations: dict[str, set[str]] = defaultdict(set)
    files: dict[str, set[str]] = defaultdict(set)
    for entry in po_entries(locale):
        translations[entry.msgid].add(entry.msgstr)
        files[entry.msgid].add(entry.file.name)

    conflicts = [
        f"  {msgid!r}: {sorted(values)} in {sorted(files[msgid])}"
        for msgid, values in sorted(translations.items())
        if len(values) > 1
    ]

    assert not conflicts, "one msgid, different translations in different files:\n" + "\n".join(
        conflicts
    )


def test_chinese_translations_are_not_copies_of_the_english() -> None:
    copies = [
        f"  {entry.file.name}: {entry.msgid!r}"
        for entry in po_entries("zh-CN")
        if entry.msgstr == entry.msgid and WORD.search(_without_placeholders(entry.msgid))
    ]

    assert not copies, "zh_CN msgstr repeats the English msgid:\n" + "\n".join(copies)


def _without_placeholders(text: str) -> str:
    return PERCENT_PLACEHOLDER.sub("", re.sub(r"\{[^{}]*\}", "", text))
