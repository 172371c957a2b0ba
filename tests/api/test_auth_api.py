"""Sign-in over real HTTP against a `marque serve` process (SQLite and PostgreSQL).

Every test talks from its own loopback address (127.x.y.z), so per-address rate limits and
lockouts of one test never reach another test or the other suites sharing the server.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import ROOT, Database, LiveServer, random_phone, start_server

PROBLEM_JSON = "application/problem+json"


def own_address() -> str:
    return f"127.{secrets.randbelow(250) + 1}.{secrets.randbelow(256)}.{secrets.randbelow(250) + 2}"


def client_for(server: LiveServer, **kwargs: Any) -> httpx.Client:
    """An HTTP client whose connections come from a loopback address of its own."""
    transport = httpx.HTTPTransport(local_address=own_address())
    return httpx.Client(base_url=server.base_url, timeout=30, transport=transport, **kwargs)


@pytest.fixture
def client(live_server: LiveServer) -> Iterator[httpx.Client]:
    with client_for(live_server) as http:
        yield http


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    body: dict[str, Any] = response.json()
    assert body["code"] == code
    assert body["status"] == status
    assert body["detail"]
    return body


def sandbox_code(http: httpx.Client, phone: str) -> str:
    inbox = http.get("/api/v1/sandbox/sms", params={"phone": phone})
    assert inbox.status_code == 200, inbox.text
    code: str = inbox.json()["items"][0]["code"]
    return code


def sign_in(http: httpx.Client, phone: str | None = None) -> dict[str, Any]:
    phone = phone or random_phone()
    assert http.post("/api/v1/auth/sms-code", json={"phone": phone}).status_code == 202
    login = http.post(
        "/api/v1/auth/login", json={"phone": phone, "code": sandbox_code(http, phone)}
    )
    assert login.status_code == 200, login.text
    body: dict[str, Any] = login.json()
    return body


# ---------------------------------------------------------------------- customers


def test_customer_signs_in_with_the_sandbox_sms_code(client: httpx.Client) -> None:
    phone = random_phone()
    spaced = f"+86 {phone[:3]} {phone[3:7]} {phone[7:]}"

    sent = client.post("/api/v1/auth/sms-code", json={"phone": spaced})
    assert sent.status_code == 202, sent.text
    assert sent.json() == {
        "phone": phone,
        "phone_masked": f"{phone[:3]}****{phone[-4:]}",
        "expires_in": 300,
        "resend_after": 60,
    }

    [message] = client.get("/api/v1/sandbox/sms", params={"phone": spaced}).json()["items"]
    assert message["phone"] == phone
    assert message["purpose"] == "sign_in"
    assert message["code"] in message["text"]
    assert message["sent_at"].endswith(("Z", "+00:00"))

    login = client.post("/api/v1/auth/login", json={"phone": phone, "code": message["code"]})
    assert login.status_code == 200, login.text
    body = login.json()
    assert body["token_type"] == "bearer"
    assert body["expires_at"].endswith(("Z", "+00:00"))
    assert body["actor"]["kind"] == "customer"
    assert body["actor"]["id"].startswith("C-")
    assert body["actor"]["phone_masked"] == f"{phone[:3]}****{phone[-4:]}"

    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200, me.text
    assert me.json() == body["actor"]


def test_sms_text_follows_the_callers_language(client: httpx.Client) -> None:
    phone = random_phone()
    sent = client.post(
        "/api/v1/auth/sms-code", json={"phone": phone}, headers={"Accept-Language": "zh-CN"}
    )
    assert sent.status_code == 202
    [message] = client.get("/api/v1/sandbox/sms", params={"phone": phone}).json()["items"]
    assert "验证码" in message["text"]


def test_logout_revokes_the_token(client: httpx.Client) -> None:
    token = sign_in(client)["access_token"]
    bearer = {"Authorization": f"Bearer {token}"}

    assert client.post("/api/v1/auth/logout", headers=bearer).status_code == 204
    for language, words in (("en", "revoked"), ("zh-CN", "撤销")):
        me = client.get("/api/v1/me", headers={**bearer, "Accept-Language": language})
        body = assert_problem(me, 401, "auth.token_revoked")
        assert words in body["detail"]
    assert_problem(client.post("/api/v1/auth/logout", headers=bearer), 401, "auth.token_revoked")


@pytest.mark.parametrize(("language", "words"), [("en", "not valid"), ("zh-CN", "令牌无效")])
def test_garbage_token_is_a_401_problem_in_the_callers_language(
    client: httpx.Client, language: str, words: str
) -> None:
    headers = {"Authorization": "Bearer not-a-token", "Accept-Language": language}
    body = assert_problem(client.get("/api/v1/me", headers=headers), 401, "auth.token_invalid")
    assert words in body["detail"]


def test_me_without_a_token_asks_to_sign_in(client: httpx.Client) -> None:
    assert_problem(client.get("/api/v1/me"), 401, "auth.unauthenticated")
    assert_problem(client.post("/api/v1/auth/logout"), 401, "auth.unauthenticated")


@pytest.mark.parametrize(
    ("language", "words"), [("en", "not a mainland China mobile number"), ("zh-CN", "手机号码")]
)
@pytest.mark.parametrize("phone", ["12345", "+1 415 555 0100", "1391234567x"])
def test_malformed_phone_is_a_422_problem(
    client: httpx.Client, phone: str, language: str, words: str
) -> None:
    for path, body in (
        ("/api/v1/auth/sms-code", {"phone": phone}),
        ("/api/v1/auth/login", {"phone": phone, "code": "123456"}),
    ):
        response = client.post(path, json=body, headers={"Accept-Language": language})
        problem = assert_problem(response, 422, "auth.phone_invalid")
        [error] = problem["errors"]
        assert error["code"] == "auth.phone_invalid"
        assert error["pointer"] == "/phone"
        assert words in error["message"]


def test_missing_fields_are_a_422_problem(client: httpx.Client) -> None:
    assert_problem(
        client.post("/api/v1/auth/login", json={"phone": random_phone()}), 422, "request.invalid"
    )


def test_wrong_code_is_a_401_problem(client: httpx.Client) -> None:
    phone = random_phone()
    client.post("/api/v1/auth/sms-code", json={"phone": phone})
    right = sandbox_code(client, phone)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    response = client.post("/api/v1/auth/login", json={"phone": phone, "code": wrong})
    assert_problem(response, 401, "auth.code_invalid")


def test_wrong_codes_lock_the_phone_out_with_429_and_retry_after(
    live_server: LiveServer,
) -> None:
    phone = random_phone()
    with client_for(live_server) as requester:
        requester.post("/api/v1/auth/sms-code", json={"phone": phone})
        code = sandbox_code(requester, phone)
    statuses = []
    # Guesses from different addresses: the phone itself gets locked.
    for _ in range(5):
        with client_for(live_server) as guesser:
            guess = guesser.post("/api/v1/auth/login", json={"phone": phone, "code": "000000"})
            statuses.append(guess.status_code)
    assert statuses == [401, 401, 401, 401, 429]
    with client_for(live_server) as owner:
        locked = owner.post("/api/v1/auth/login", json={"phone": phone, "code": code})
    body = assert_problem(locked, 429, "auth.locked_out")
    assert 0 < int(locked.headers["Retry-After"]) <= 900
    assert body["params"]["retry_after"] == int(locked.headers["Retry-After"])


def test_wrong_codes_from_one_address_lock_that_address_out(client: httpx.Client) -> None:
    for _ in range(5):
        client.post("/api/v1/auth/login", json={"phone": random_phone(), "code": "000000"})
    response = client.post("/api/v1/auth/login", json={"phone": random_phone(), "code": "000000"})
    assert_problem(response, 429, "auth.locked_out")
    assert int(response.headers["Retry-After"]) > 0


def test_asking_for_codes_too_often_is_a_429_with_retry_after(client: httpx.Client) -> None:
    phone = random_phone()
    assert client.post("/api/v1/auth/sms-code", json={"phone": phone}).status_code == 202
    again = client.post("/api/v1/auth/sms-code", json={"phone": phone})
    assert_problem(again, 429, "auth.rate_limited")
    assert 0 < int(again.headers["Retry-After"]) <= 60


def test_one_address_may_ask_for_a_limited_number_of_codes_per_hour(client: httpx.Client) -> None:
    statuses = [
        client.post("/api/v1/auth/sms-code", json={"phone": random_phone()}).status_code
        for _ in range(21)
    ]
    assert statuses == [202] * 20 + [429]


# ---------------------------------------------------------------------- staff


def create_staff_with_cli(database: Database, username: str, password: str, *roles: str) -> None:
    env = dict(os.environ)
    env.update(
        MARQUE_ENV="test",
        MARQUE_DATABASE_URL=database.url,
        MARQUE_STAFF_PASSWORD=password,
        MARQUE_LOG_JSON="false",
    )
    role_args = [arg for role in roles for arg in ("--role", role)]
    command = [sys.executable, "-m", "marque.entrypoints.cli", "create-staff", username, *role_args]
    done = subprocess.run(
        [*command, "--name", "Li Na"], env=env, cwd=ROOT, capture_output=True, timeout=120
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")


def test_staff_sign_in_with_a_password_set_by_the_cli(
    live_server: LiveServer, client: httpx.Client
) -> None:
    username = f"cli-{secrets.token_hex(4)}"
    password = secrets.token_urlsafe(15)
    create_staff_with_cli(live_server.database, username, password, "sales", "finance")

    login = client.post(
        "/api/v1/auth/staff/login", json={"username": username, "password": password}
    )
    assert login.status_code == 200, login.text
    body = login.json()
    assert body["token_type"] == "bearer"
    actor = body["actor"]
    assert actor["kind"] == "staff"
    assert actor["username"] == username
    assert actor["display_name"] == "Li Na"
    assert actor["roles"] == ["finance", "sales"]
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.json() == actor


def test_staff_wrong_password_is_a_401_problem(
    live_server: LiveServer, client: httpx.Client
) -> None:
    username = f"cli-{secrets.token_hex(4)}"
    create_staff_with_cli(live_server.database, username, secrets.token_urlsafe(15), "admin")
    for name in (username, f"nobody-{username}"):
        response = client.post(
            "/api/v1/auth/staff/login", json={"username": name, "password": "wrong password"}
        )
        assert_problem(response, 401, "auth.credentials_invalid")


# ---------------------------------------------------------------------- documentation and sandbox


def test_openapi_documents_sign_in_problems(client: httpx.Client) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    login = paths["/api/v1/auth/login"]["post"]
    assert login["operationId"] == "auth-login"
    for status in ("401", "422", "429"):
        assert PROBLEM_JSON in login["responses"][status]["content"]
    assert "429" in paths["/api/v1/auth/sms-code"]["post"]["responses"]
    assert "404" in paths["/api/v1/sandbox/sms"]["get"]["responses"]


def test_sandbox_inbox_is_404_when_sandbox_mode_is_off(migrated: Database, tmp_path: Path) -> None:
    server = start_server(migrated, tmp_path, MARQUE_SANDBOX="false")
    try:
        with client_for(server) as http:
            response = http.get("/api/v1/sandbox/sms", params={"phone": random_phone()})
            assert_problem(response, 404, "sandbox.disabled")
    finally:
        server.stop()
