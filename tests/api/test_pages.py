"""The pages over HTTP on a real `marque serve`: languages, configurator, sign-in, CSRF, errors.

The demo catalogue is read through the API first, so these tests name no model or option
code of their own: they find a limited edition and a rule in whatever the catalogue holds.
"""

from __future__ import annotations

import html
import re
import secrets
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from conftest import LiveServer, random_phone

from marque.bootstrap import Container
from marque.domain.identity import Role
from marque.services.auth import create_staff

TOKEN_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
HTML_LANG = re.compile(r'<html lang="([^"]+)">')


def csrf_token(page: httpx.Response) -> str:
    found = TOKEN_FIELD.search(page.text)
    assert found, "the page has no CSRF field"
    return found.group(1)


def html_lang(page: httpx.Response) -> str:
    found = HTML_LANG.search(page.text)
    assert found, "the page has no <html lang>"
    return found.group(1)


def text_of(page: httpx.Response) -> str:
    return html.unescape(page.text)


def limited_edition(client: httpx.Client) -> tuple[dict[str, Any], dict[str, Any]]:
    """A model of the catalogue with a limited-edition trim, and that trim."""
    for item in client.get("/api/v1/models").json()["items"]:
        model = client.get(f"/api/v1/models/{item['code']}").json()
        for trim in model["trims"]:
            if trim["limited_edition"]:
                return model, trim
    pytest.fail("the demo catalogue has no limited edition")


def options_by_group(model: dict[str, Any]) -> dict[str, str]:
    return {o["code"]: g["code"] for g in model["option_groups"] for o in g["options"]}


# ---------------------------------------------------------------------------- languages


@pytest.mark.parametrize(
    ("accept_language", "lang", "heading"),
    [("zh-CN,zh;q=0.9", "zh-CN", "我们的车型"), ("en-GB,en;q=0.8", "en", "Our models")],
)
def test_catalogue_page_speaks_the_language_the_browser_asks_for(
    live_server: LiveServer, accept_language: str, lang: str, heading: str
) -> None:
    with live_server.client() as client:
        page = client.get("/", headers={"Accept-Language": accept_language})
        models = client.get("/api/v1/models", headers={"Accept-Language": accept_language}).json()

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert html_lang(page) == lang
    assert f">{heading}</h1>" in page.text
    for model in models["items"]:
        assert model["name"] in text_of(page)
        assert f'href="/models/{model["code"]}"' in page.text
    assert re.search(r"¥\d{3},\d{3}", page.text), "from-prices are shown as ¥249,900"


def test_lang_query_sets_the_cookie_and_later_pages_keep_that_language(
    live_server: LiveServer,
) -> None:
    with live_server.client(headers={"Accept-Language": "en"}) as client:
        switched = client.get("/?lang=zh-CN")
        later = client.get("/signin")

    assert html_lang(switched) == "zh-CN"
    assert switched.cookies.get("marque_lang") == "zh-CN"
    assert html_lang(later) == "zh-CN"
    assert ">登录</h1>" in later.text


def test_language_switch_links_keep_the_configuration_in_the_query(live_server: LiveServer) -> None:
    with live_server.client() as client:
        model, trim = limited_edition(client)
        page = client.get(f"/models/{model['code']}", params={"trim": trim["code"]})

    assert f'href="/models/{model["code"]}?trim={trim["code"]}&amp;lang=en"' in page.text
    assert f'href="/models/{model["code"]}?trim={trim["code"]}&amp;lang=zh-CN"' in page.text


# ---------------------------------------------------------------------------- configurator


def test_configurator_prices_a_founders_edition_and_shows_its_deposit_terms(
    live_server: LiveServer,
) -> None:
    with live_server.client(headers={"Accept-Language": "en"}) as client:
        model, trim = limited_edition(client)
        priced = client.post(
            "/api/v1/configurations",
            json={"model": model["code"], "trim": trim["code"], "options": []},
        ).json()
        page = client.get(f"/models/{model['code']}", params={"trim": trim["code"]})

    text = text_of(page)
    assert page.status_code == 200
    assert f"Limited edition: {trim['unit_cap']:,} units" in text
    total = priced["total_price"]["amount"] // 100
    assert f'data-testid="total-price" aria-live="polite">¥{total:,}<' in text
    assert priced["code"] in text
    terms = trim["deposit_terms"]
    assert terms["body"].strip().splitlines()[0] in text
    assert "<details>" in page.text
    assert "when the deposit stops being refundable" in text


def test_configurator_without_javascript_explains_broken_rules_server_side(
    live_server: LiveServer,
) -> None:
    with live_server.client(headers={"Accept-Language": "en"}) as client:
        model, trim = limited_edition(client)
        groups = options_by_group(model)
        rule = next(
            r
            for r in model["rules"]
            if r["kind"] == "excludes" and groups[r["option"]] != groups[r["targets"][0]]
        )
        option, target = rule["option"], rule["targets"][0]
        query = {
            "trim": trim["code"],
            f"opt_{groups[option]}": option,
            f"opt_{groups[target]}": target,
        }
        refused = client.post(
            "/api/v1/configurations",
            json={"model": model["code"], "trim": trim["code"], "options": [option, target]},
        )
        page = client.get(f"/models/{model['code']}", params=query)

    assert refused.status_code == 422
    text = text_of(page)
    for error in refused.json()["errors"]:
        assert error["message"] in text
    reason = re.search(rf'data-testid="reason-{re.escape(option)}">([^<]*)<', text)
    assert reason, f"no reason shown next to {option}"
    assert rule["message"] in reason.group(1)


def test_configurator_disables_an_option_the_trim_does_not_offer_and_says_why(
    live_server: LiveServer,
) -> None:
    with live_server.client(headers={"Accept-Language": "zh-CN"}) as client:
        model, _trim = limited_edition(client)
        rule = next(r for r in model["rules"] if r["kind"] == "only_with_trim")
        other_trim = next(t["code"] for t in model["trims"] if t["code"] not in rule["targets"])
        page = client.get(f"/models/{model['code']}", params={"trim": other_trim})

    text = text_of(page)
    option = re.escape(rule["option"])
    assert re.search(rf'value="{option}"\s+aria-describedby="reason-{option}" disabled>', text)
    assert f'data-testid="reason-{rule["option"]}">{rule["message"]}<' in text


def test_unknown_model_is_a_404_page_in_the_callers_language(live_server: LiveServer) -> None:
    with live_server.client(headers={"Accept-Language": "zh-CN"}) as client:
        page = client.get("/models/no-such-model")

    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert html_lang(page) == "zh-CN"
    assert ">catalog.unknown_model</code>" in page.text
    assert re.search(r"[\u4e00-\u9fff]", page.text)


def test_unknown_page_address_is_a_404_html_page(live_server: LiveServer) -> None:
    with live_server.client(headers={"Accept-Language": "en"}) as client:
        page = client.get("/no/such/page")

    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "Not found" in page.text


# ---------------------------------------------------------------------------- CSRF


def test_form_post_without_csrf_token_is_refused_with_a_403_page(live_server: LiveServer) -> None:
    phone = random_phone()
    with live_server.client(headers={"Accept-Language": "en"}) as client:
        client.get("/signin")
        refused = client.post("/signin/code", data={"phone": phone})
        messages = client.get("/api/v1/sandbox/sms", params={"phone": phone}).json()

    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("text/html")
    assert ">auth.csrf_failed</code>" in refused.text
    assert messages["items"] == [], "nothing was sent"


def test_csrf_token_from_another_browser_is_refused(live_server: LiveServer) -> None:
    with live_server.client() as attacker, live_server.client() as victim:
        stolen = csrf_token(attacker.get("/signin"))
        victim.get("/signin")
        refused = victim.post("/staff/signin", data={"csrf_token": stolen, "username": "x"})

    assert refused.status_code == 403
    assert ">auth.csrf_failed</code>" in refused.text


def test_csrf_cookie_is_http_only_and_same_site(live_server: LiveServer) -> None:
    with live_server.client() as client:
        page = client.get("/signin")

    cookie = page.headers["set-cookie"].lower()
    assert cookie.startswith("marque_csrf=")
    assert "httponly" in cookie
    assert "samesite=lax" in cookie


# ---------------------------------------------------------------------------- sign-in


def test_customer_signs_in_with_the_sandbox_sms_code_and_signs_out(live_server: LiveServer) -> None:
    phone = random_phone()
    with live_server.client(headers={"Accept-Language": "en"}) as client:
        form = client.get("/signin")
        code_step = client.post(
            "/signin/code", data={"csrf_token": csrf_token(form), "phone": phone}
        )
        sms = client.get("/api/v1/sandbox/sms", params={"phone": phone}).json()["items"][0]
        too_soon = client.post(
            "/signin/code",
            data={"csrf_token": csrf_token(code_step), "phone": phone, "resend": "1"},
        )
        wrong = client.post(
            "/signin",
            data={
                "csrf_token": csrf_token(too_soon),
                "phone": phone,
                "code": "000000" if sms["code"] != "000000" else "111111",
            },
        )
        signed_in = client.post(
            "/signin",
            data={"csrf_token": csrf_token(wrong), "phone": phone, "code": sms["code"]},
        )
        session = client.cookies.get("marque_session")
        home = client.get("/")
        signed_out = client.post("/signout", data={"csrf_token": csrf_token(home)})
        after = client.get("/")
        client.cookies.set("marque_session", session or "")
        replayed = client.get("/")

    assert code_step.status_code == 200
    assert f"/api/v1/sandbox/sms?phone={phone}" in code_step.text
    assert too_soon.status_code == 429
    assert int(too_soon.headers["retry-after"]) > 0
    assert 'name="code"' in too_soon.text, "the code already sent can still be entered"
    assert wrong.status_code == 401
    assert "The code is wrong" in text_of(wrong)
    assert signed_in.status_code == 303
    assert signed_in.headers["location"] == "/"
    cookie = signed_in.headers["set-cookie"].lower()
    assert "marque_session=" in cookie
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    assert f"Signed in as {phone[:3]}****{phone[-4:]}" in text_of(home)
    assert signed_out.status_code == 303
    assert "Signed in as" not in after.text
    assert "Signed in as" not in replayed.text, "the old session was revoked"


def test_malformed_phone_number_is_explained_on_the_form(live_server: LiveServer) -> None:
    with live_server.client(headers={"Accept-Language": "zh-CN"}) as client:
        form = client.get("/signin")
        page = client.post("/signin/code", data={"csrf_token": csrf_token(form), "phone": "12345"})

    assert page.status_code == 422
    assert 'role="alert"' in page.text
    assert 'aria-invalid="true"' in page.text
    assert 'value="12345"' in page.text


# ---------------------------------------------------------------------------- staff


def test_staff_console_sends_anonymous_visitors_to_staff_sign_in(live_server: LiveServer) -> None:
    with live_server.client() as client:
        response = client.get("/staff", follow_redirects=False)

    assert response.status_code == 303
    assert response.headers["location"] == "/staff/signin"


def test_staff_member_signs_in_and_the_console_shows_name_and_roles(
    live_server: LiveServer, container: Container
) -> None:
    username = f"web-{secrets.token_hex(4)}"
    create_staff(
        container.uow(),
        username=username,
        password="correct horse battery staple",
        roles=[Role.SALES, Role.DELIVERY],
        display_name="Li Na",
        now=datetime.now(UTC),
    )
    with live_server.client(headers={"Accept-Language": "zh-CN"}) as client:
        form = client.get("/staff/signin")
        wrong = client.post(
            "/staff/signin",
            data={"csrf_token": csrf_token(form), "username": username, "password": "nope"},
        )
        signed_in = client.post(
            "/staff/signin",
            data={
                "csrf_token": csrf_token(wrong),
                "username": username,
                "password": "correct horse battery staple",
            },
        )
        console = client.get("/staff")

    assert wrong.status_code == 401
    assert signed_in.status_code == 303
    assert signed_in.headers["location"] == "/staff"
    assert console.status_code == 200
    assert "欢迎，Li Na。" in text_of(console)
    assert 'data-role="sales">销售<' in console.text
    assert 'data-role="delivery">交付<' in console.text
