"""The middlewares' reading of the Cookie header."""

from __future__ import annotations

from marque.entrypoints.api.cookies import cookie_values


def test_only_the_named_cookies_are_returned() -> None:
    header = "marque_session=abc; marque_locale=en; other=x"
    assert cookie_values(header, {"marque_locale", "marque_session"}) == {
        "marque_session": "abc",
        "marque_locale": "en",
    }


def test_the_first_of_a_repeated_name_wins_and_empty_values_are_skipped() -> None:
    assert cookie_values("a=; a=1; a=2", {"a"}) == {"a": "1"}


def test_values_keep_their_equals_signs_and_spaces_around_parts_are_ignored() -> None:
    assert cookie_values("  t=17.ab==  ;b=2", {"t"}) == {"t": "17.ab=="}


def test_an_absent_or_empty_header_gives_nothing() -> None:
    assert cookie_values("", {"a"}) == {}
    assert cookie_values("b=1", {"a"}) == {}
