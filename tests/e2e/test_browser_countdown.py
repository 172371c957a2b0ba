"""Before sales open, Chromium counts down to the opening time on the catalogue and the
configurator, in both languages, and the configurator's Reserve button is off until the
countdown reaches the opening; without JavaScript the opening time alone is there and the
button is off all the same.

A server of its own on a fresh SQLite database, with an edition that opens in two days.
Screenshots go to test-artifacts/screenshots/; the browser is Debian's Chromium, as in
test_browser_flow.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import conftest
import pytest
from chromium import SCREENSHOTS
from conftest import Database, LiveServer, start_server
from launch_catalogue import Edition, add_edition
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import create_engine

from marque.adapters.db import migrate as migrations
from marque.bootstrap import bootstrap
from marque.services.demo_catalog import seed_demo_catalog

pytestmark = pytest.mark.e2e


def shoot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


@pytest.fixture(scope="module")
def opening_soon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, Edition]]:
    own = Database("sqlite", f"sqlite:///{tmp_path_factory.mktemp('countdown') / 'm.db'}")
    engine = create_engine(own.url)
    migrations.upgrade(engine)
    engine.dispose()
    container = bootstrap(conftest.test_settings(own.url))
    seed_demo_catalog(container.uow(), container.clock())
    now = datetime.now(UTC)
    edition = add_edition(
        container, cap=10, on_sale_at=now + timedelta(days=2), effective_from=now - timedelta(1)
    )
    container.close()
    server = start_server(own, tmp_path_factory.mktemp("countdown-server"))
    yield server, edition
    server.stop()


@pytest.mark.parametrize(
    ("lang", "counting"),
    [
        ("en", r"Opens in 1 d 23 h \d+ min \d+ s"),
        ("zh-CN", r"距开售还有 1 天 23 小时 \d+ 分 \d+ 秒"),
    ],
)
def test_the_pages_count_down_to_the_opening_time(
    browser: Browser, opening_soon: tuple[LiveServer, Edition], lang: str, counting: str
) -> None:
    server, edition = opening_soon
    context = browser.new_context(locale=lang, extra_http_headers={"Accept-Language": lang})
    page = context.new_page()

    page.goto(f"{server.base_url}/models/{edition.model_code}?lang={lang}")
    first = page.get_by_test_id("countdown").first
    expect(first).to_have_text(re.compile(counting))
    shown = first.inner_text()
    expect(first).not_to_have_text(shown, timeout=3000)  # it ticks
    expect(page.get_by_test_id("reserve")).to_be_disabled()
    note = page.locator('[data-testid="reserve-closed"][data-trim="standard"]')
    expect(note).to_be_visible()
    expect(note.get_by_test_id("countdown")).to_have_text(re.compile(counting))
    shoot(page, f"countdown-configurator-{lang}")

    page.goto(f"{server.base_url}/?lang={lang}")
    card = page.locator(f'[data-model="{edition.model_code}"]')
    expect(card.get_by_test_id("countdown")).to_have_text(re.compile(counting))
    context.close()


def test_without_javascript_the_opening_time_is_still_there(
    browser: Browser, opening_soon: tuple[LiveServer, Edition]
) -> None:
    server, edition = opening_soon
    context = browser.new_context(java_script_enabled=False, locale="en")
    page = context.new_page()

    page.goto(f"{server.base_url}/models/{edition.model_code}?lang=en")

    opening = page.get_by_test_id("opening").first
    expect(opening).to_contain_text(re.compile(r"Reservations open \d{4}-\d\d-\d\d \d\d:\d\d UTC"))
    expect(page.get_by_test_id("countdown").first).to_have_text("")
    expect(page.get_by_test_id("reserve")).to_be_disabled()
    note = page.locator('[data-testid="reserve-closed"]:visible')
    expect(note).to_have_count(1)
    expect(note).to_contain_text("Standard cannot be reserved yet")
    expect(note).to_contain_text(re.compile(r"Reservations open \d{4}-\d\d-\d\d \d\d:\d\d UTC"))
    context.close()


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_the_reserve_button_turns_on_when_the_countdown_reaches_the_opening(
    browser: Browser, opening_soon: tuple[LiveServer, Edition], lang: str
) -> None:
    server, edition = opening_soon
    context = browser.new_context(locale=lang, extra_http_headers={"Accept-Language": lang})
    page = context.new_page()
    page.clock.install(time=datetime.now(UTC))  # the page's clock, moved on below

    page.goto(f"{server.base_url}/models/{edition.model_code}?lang={lang}")
    reserve = page.get_by_test_id("reserve")
    note = page.locator('[data-testid="reserve-closed"][data-trim="standard"]')
    expect(reserve).to_be_disabled()
    expect(note).to_be_visible()
    page.locator('input[name="trim"][value="founders"]').check()
    founders = page.locator('[data-testid="reserve-closed"][data-trim="founders"]')
    expect(founders).to_be_visible()
    expect(note).to_be_hidden()
    expect(reserve).to_be_disabled()

    page.clock.fast_forward("48:01:00")  # past the opening, two days after the fixture's now

    expect(reserve).to_be_enabled()
    expect(founders).to_be_hidden()
    expect(note).to_be_hidden()
    shoot(page, f"countdown-opened-{lang}")
    context.close()
