"""A buyer whose page request is shed sees "you are in line" in Chromium, keeps the ticket
in a cookie, and the page asks again by itself and gets through once there is room.

A real server that works on one request at a time and never lets one wait; its only slot
is held by a request whose body the test has not finished sending.
"""

from __future__ import annotations

import pytest
import test_browser_countdown
from conftest import LiveServer, only_slot_held
from playwright.sync_api import Browser, expect

from marque.entrypoints.api.waiting_room import TICKET_COOKIE

pytestmark = pytest.mark.e2e

shoot = test_browser_countdown.shoot


def test_a_shed_page_says_the_buyer_is_in_line_and_gets_through_by_itself(
    one_slot_server: LiveServer, browser: Browser
) -> None:
    context = browser.new_context(locale="zh-CN", extra_http_headers={"Accept-Language": "zh-CN"})
    page = context.new_page()
    with only_slot_held(one_slot_server):
        answer = page.goto(one_slot_server.base_url + "/")
        assert answer is not None
        assert answer.status == 503
        expect(page.get_by_role("heading", name="您正在排队")).to_be_visible()
        expect(page.get_by_test_id("waiting-detail")).to_contain_text("秒后自动重试")
        expect(page.get_by_test_id("error-code")).to_have_text("overload.shed")
        styled = page.evaluate("getComputedStyle(document.querySelector('.error-page')).maxWidth")
        assert styled != "none", "the stylesheet is served while requests are shed"
        cookies = {cookie["name"]: cookie for cookie in context.cookies()}
        assert cookies[TICKET_COOKIE]["httpOnly"]
        shoot(page, "waiting-room-zh")
    # Room again: the page's own refresh must get through.
    expect(page.get_by_role("heading", name="我们的车型")).to_be_visible(timeout=30_000)
    context.close()
