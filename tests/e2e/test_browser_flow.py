"""A buyer in Debian's Chromium: catalogue, language switch, a founders edition, a refused
option with its reason, and sign-in with the sandbox SMS code, against a real server.

Playwright cannot download its own browser here, so it drives /usr/bin/chromium (the
Debian package). Without it the test is skipped, unless MARQUE_REQUIRE_BROWSER=1 (CI),
which turns the missing browser into a failure. Screenshots of each step in both
languages, on a phone and a desktop viewport, go to test-artifacts/screenshots/.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from chromium import DESKTOP, PHONE, SCREENSHOTS
from conftest import LiveServer, random_phone
from playwright.sync_api import Browser, Page, expect

pytestmark = pytest.mark.e2e


def shoot(page: Page, name: str, *, full_page: bool = True) -> None:
    """Save the page as seen on a phone and on a desktop, then return to the phone size."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(size)
        page.screenshot(path=str(SCREENSHOTS / f"{name}-{label}.png"), full_page=full_page)


class Catalogue:
    """What the test needs to know about the demo catalogue, read through the API."""

    def __init__(self, api: httpx.Client) -> None:
        self.api = api
        self.model, self.trim = self._limited_edition()
        self.code: str = self.model["code"]
        self.group_of = {
            o["code"]: g["code"] for g in self.model["option_groups"] for o in g["options"]
        }
        self.defaults = {
            g["default_option"] for g in self.model["option_groups"] if g["default_option"]
        }

    def _limited_edition(self) -> tuple[dict[str, Any], dict[str, Any]]:
        for item in self.api.get("/api/v1/models").json()["items"]:
            model = self.api.get(f"/api/v1/models/{item['code']}").json()
            for trim in model["trims"]:
                if trim["limited_edition"]:
                    return model, trim
        pytest.fail("the demo catalogue has no limited edition")

    def offered_on_trim(self, option: str) -> bool:
        return not any(
            r["kind"] == "only_with_trim"
            and r["option"] == option
            and self.trim["code"] not in r["targets"]
            for r in self.model["rules"]
        )

    def rule(self, kind: str) -> dict[str, Any]:
        """A rule of ``kind`` between options of two groups, all offered on the trim and
        none of them a default (so the test has to pick them)."""
        rules: list[dict[str, Any]] = self.model["rules"]
        for rule in rules:
            codes = [rule["option"], *rule["targets"]]
            if (
                rule["kind"] == kind
                and all(self.offered_on_trim(c) for c in codes)
                and not set(codes) & self.defaults
                and len({self.group_of[c] for c in codes}) > 1
            ):
                return rule
        pytest.fail(f"no {kind} rule the founders edition can show")

    def price(self, options: list[str]) -> httpx.Response:
        body = {"model": self.code, "trim": self.trim["code"], "options": options}
        return self.api.post("/api/v1/configurations", json=body)


def money(amount: dict[str, Any]) -> str:
    major, minor = divmod(amount["amount"], 100)
    return f"¥{major:,}" + (f".{minor:02d}" if minor else "")


def pick(page: Page, option: str) -> None:
    page.locator(f'input[value="{option}"]').check()


def test_buyer_configures_a_founders_edition_sees_a_refused_option_and_signs_in(
    browser: Browser, live_server: LiveServer
) -> None:
    with live_server.client(headers={"Accept-Language": "en"}) as api:
        catalogue = Catalogue(api)
        excludes = catalogue.rule("excludes")
        requires = catalogue.rule("requires")
        chosen_target = excludes["targets"][0]
        plain = catalogue.price([]).json()
        broken = catalogue.price([chosen_target, requires["option"]]).json()
        fixed = catalogue.price([chosen_target, requires["option"], requires["targets"][0]]).json()
    context = browser.new_context(locale="zh-CN", viewport=PHONE)
    page = context.new_page()
    page.set_default_timeout(10_000)

    # The catalogue, first in the browser's language (Chinese), then switched to English.
    page.goto(f"{live_server.base_url}/")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.get_by_role("heading", level=1)).to_have_text("我们的车型")
    shoot(page, "catalogue-zh-CN")
    page.get_by_role("link", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", level=1)).to_have_text("Our models")
    shoot(page, "catalogue-en")

    # Configure the founders edition: the limited badge, the live price, the deposit terms.
    page.locator(f'a[href="/models/{catalogue.code}"]').click()
    expect(page.get_by_role("heading", level=1)).to_have_text(catalogue.model["name"])
    page.locator(f'input[name="trim"][value="{catalogue.trim["code"]}"]').check()
    expect(page.locator("#config-code")).to_have_text(plain["code"])
    expect(page.get_by_test_id("total-price")).to_have_text(money(plain["total_price"]))
    badge = page.locator(f'li[data-trim="{catalogue.trim["code"]}"] [data-testid="limited-badge"]')
    expect(badge).to_contain_text(f"{catalogue.trim['unit_cap']:,}")

    # An option the current choice excludes is disabled, with the rule's reason beside it.
    pick(page, chosen_target)
    refused = page.locator(f'input[value="{excludes["option"]}"]')
    expect(refused).to_be_disabled()
    expect(page.get_by_test_id(f"reason-{excludes['option']}")).to_be_visible()
    expect(page.get_by_test_id(f"reason-{excludes['option']}")).to_contain_text(excludes["message"])

    # An option that needs another one: the server refuses the price and says why.
    pick(page, requires["option"])
    for error in broken["errors"]:
        expect(page.get_by_test_id("violations")).to_contain_text(error["message"])
    expect(page.get_by_test_id("total-price")).to_have_text("—")
    expect(page.get_by_test_id(f"reason-{requires['option']}")).to_contain_text(requires["message"])
    pick(page, requires["targets"][0])
    expect(page.get_by_test_id("total-price")).to_have_text(money(fixed["total_price"]))
    expect(page.get_by_test_id("violations")).to_be_empty()

    # The buyer can read when the deposit stops being refundable.
    terms = catalogue.trim["deposit_terms"]
    page.get_by_text("Read the full deposit terms").click()
    expect(page.locator("#terms-body")).to_be_visible()
    expect(page.locator("#terms-body")).to_contain_text(terms["body"].strip().splitlines()[0])
    expect(page.locator("#terms-amount")).to_have_text(money(terms["amount"]))
    shoot(page, "configurator-en")

    # Switching language keeps the configuration.
    page.get_by_role("link", name="中文").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.locator(f'input[name="trim"][value="{catalogue.trim["code"]}"]')).to_be_checked()
    expect(page.locator(f'input[value="{excludes["option"]}"]')).to_be_disabled()
    expect(page.get_by_test_id("total-price")).to_have_text(money(fixed["total_price"]))
    shoot(page, "configurator-zh-CN")

    # Sign in with the code the sandbox SMS sender kept.
    phone = random_phone()
    page.get_by_role("link", name="登录").click()
    page.get_by_label("手机号").fill(phone)
    page.get_by_role("button", name="发送验证码").click()
    expect(page.get_by_test_id("sandbox-hint")).to_be_visible()
    shoot(page, "signin-code-zh-CN", full_page=False)
    with live_server.client() as api:
        sms = api.get("/api/v1/sandbox/sms", params={"phone": phone}).json()["items"][0]
    page.get_by_label("短信验证码").fill(sms["code"])
    page.get_by_role("button", name="登录", exact=True).click()
    expect(page).to_have_url(re.compile(rf"/models/{re.escape(catalogue.code)}$"))
    expect(page.get_by_test_id("signed-in-as")).to_contain_text(f"{phone[:3]}****{phone[-4:]}")
    shoot(page, "signed-in-zh-CN", full_page=False)
    context.close()


def test_configurator_prices_the_chosen_trim_without_javascript(
    browser: Browser, live_server: LiveServer
) -> None:
    with live_server.client(headers={"Accept-Language": "en"}) as api:
        catalogue = Catalogue(api)
        plain = catalogue.price([]).json()
    context = browser.new_context(locale="en-GB", viewport=PHONE, java_script_enabled=False)
    page = context.new_page()

    page.goto(f"{live_server.base_url}/models/{catalogue.code}")
    page.locator(f'input[name="trim"][value="{catalogue.trim["code"]}"]').check()
    page.get_by_role("button", name="Update price").click()

    expect(page).to_have_url(re.compile(rf"trim={re.escape(catalogue.trim['code'])}"))
    expect(page.get_by_test_id("total-price")).to_have_text(money(plain["total_price"]))
    expect(page.locator("#config-code")).to_have_text(plain["code"])
    context.close()
