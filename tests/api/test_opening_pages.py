"""Before a trim's opening time the pages offer no working Reserve button: the configurator
and the reserve page say when reservations open (server-rendered, so without JavaScript
too) and a reserve form sent anyway gets ``sales.not_open``. After the opening the button
is there as before. Both languages, both engines.

The module has a database and a server of its own: its editions are on sale (or about to
be) and must not show in the shared catalogue.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import conftest
import httpx
import pytest
from conftest import Database, LiveServer, start_server
from launch_catalogue import Edition, add_edition
from order_pages_support import browser, form_fields, signed_in_buyer, text_of

from marque.bootstrap import bootstrap

BEIJING = timedelta(hours=8)


@dataclass(frozen=True)
class Stage:
    server: LiveServer
    opens_at: datetime
    later: Edition  # the whole model opens at ``opens_at``
    mixed: Edition  # ``standard`` is on sale; ``founders`` opens at ``opens_at``


@pytest.fixture(scope="module")
def stage(database: Database, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stage]:
    with conftest.own_seeded_database(database, tmp_path_factory.mktemp("opening")) as own:
        container = bootstrap(conftest.test_settings(own.url))
        now = datetime.now(UTC).replace(second=0, microsecond=0)
        opens_at = now + timedelta(days=2)
        since = now - timedelta(days=1)
        later = add_edition(container, cap=5, on_sale_at=opens_at, effective_from=since)
        mixed = add_edition(container, cap=5, founders_on_sale_at=opens_at, effective_from=since)
        container.close()
        server = start_server(own, tmp_path_factory.mktemp("opening-server"))
        yield Stage(server, opens_at, later, mixed)
        server.stop()


def opening_text(opens_at: datetime, lang: str) -> str:
    if lang == "zh-CN":
        return f"预订将于 北京时间 {(opens_at + BEIJING):%Y-%m-%d %H:%M} 开放。"
    return f"Reservations open {opens_at:%Y-%m-%d %H:%M} UTC."


NOT_YET = {
    "en": "{trim} cannot be reserved yet; you can already configure it and see its price.",
    "zh-CN": "{trim} 尚未开放预订；现在已可选配并查看价格。",
}
FOUNDERS = {"en": "Founders", "zh-CN": "创始版"}


def button(page: httpx.Response, test_id: str) -> str:
    """The opening tag of the button with ``data-testid=test_id``."""
    found = re.search(rf'<button[^>]*data-testid="{test_id}"[^>]*>', page.text)
    assert found, f"no {test_id} button"
    return found.group(0)


def shown_notes(page: httpx.Response) -> list[str]:
    """The trims whose "not open yet" note is visible (not ``hidden``)."""
    return re.findall(r'data-testid="reserve-closed" data-trim="([a-z-]+)">', page.text)


def all_notes(page: httpx.Response) -> list[str]:
    return re.findall(r'data-testid="reserve-closed" data-trim="([a-z-]+)"', page.text)


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_before_the_opening_the_configurator_says_when_and_its_reserve_button_is_off(
    stage: Stage, lang: str
) -> None:
    with browser(stage.server, lang) as visitor:
        page = visitor.get(f"/models/{stage.later.model_code}", params={"lang": lang})

    assert page.status_code == 200
    reserve = button(page, "reserve")
    assert " disabled" in reserve
    assert 'aria-describedby="reserve-closed-standard"' in reserve
    assert shown_notes(page) == ["standard"], "the chosen trim's note, and only that one"
    note = text_of(page).split('id="reserve-closed-standard"', 1)[1].split("</div>", 1)[0]
    assert NOT_YET[lang].format(trim="标准版" if lang == "zh-CN" else "Standard") in note
    assert opening_text(stage.opens_at, lang) in note
    assert 'data-testid="countdown"' in note, "countdown.js counts down here"


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_a_trim_on_sale_keeps_its_reserve_button_and_one_still_to_open_does_not(
    stage: Stage, lang: str
) -> None:
    model = stage.mixed.model_code
    with browser(stage.server, lang) as visitor:
        on_sale = visitor.get(f"/models/{model}", params={"trim": "standard", "lang": lang})
        founders = visitor.get(
            f"/models/{model}",
            params={"trim": "founders", "opt_paint": "paint-aurora-green", "lang": lang},
        )

    assert " disabled" not in button(on_sale, "reserve")
    assert "aria-describedby" not in button(on_sale, "reserve")
    assert shown_notes(on_sale) == []
    assert all_notes(on_sale) == ["founders"], "ready, hidden, for a switch of trim"
    assert " disabled" in button(founders, "reserve")
    assert shown_notes(founders) == ["founders"]
    assert NOT_YET[lang].format(trim=FOUNDERS[lang]) in text_of(founders)
    assert opening_text(stage.opens_at, lang) in text_of(founders)


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_a_reserve_form_sent_before_the_opening_is_refused_with_sales_not_open(
    stage: Stage, lang: str
) -> None:
    model = stage.mixed.model_code
    with signed_in_buyer(stage.server, lang) as buyer:
        choice = buyer.get(
            f"/models/{model}/reserve",
            params={"trim": "founders", "opt_paint": "paint-aurora-green"},
        )
        page = buyer.get(choice.headers["location"])
        refused = buyer.post("/orders", data={**form_fields(page, "/orders"), "accept_terms": "y"})
        mine = buyer.get("/orders")

    assert page.status_code == 200
    assert " disabled" in button(page, "reserve-submit")
    assert NOT_YET[lang].format(trim=FOUNDERS[lang]) in text_of(page)
    assert opening_text(stage.opens_at, lang) in text_of(page)
    assert refused.status_code == 409
    opens = stage.opens_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    said = {
        "en": f"open at {opens} (UTC); you can reserve from then on.",
        "zh-CN": f"将于 {opens}（UTC）开售，届时即可预订。",
    }
    assert said[lang] in text_of(refused)
    assert 'id="form-error"' in refused.text
    assert " disabled" in button(refused, "reserve-submit"), "still not open"
    assert 'data-order="' not in mine.text, "nothing was reserved"


def test_after_the_opening_the_reserve_page_has_its_working_button(stage: Stage) -> None:
    with signed_in_buyer(stage.server, "zh-CN") as buyer:
        choice = buyer.get(f"/models/{stage.mixed.model_code}/reserve", params={"trim": "standard"})
        page = buyer.get(choice.headers["location"])

    assert page.status_code == 200
    assert " disabled" not in button(page, "reserve-submit")
    assert 'data-testid="reserve-closed"' not in page.text
    assert "预订将于" not in text_of(page)
