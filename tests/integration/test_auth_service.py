"""Sign-in use cases on a real database (SQLite and PostgreSQL).

Each test uses its own random phone numbers, usernames and client addresses, so tests never
see each other's codes, attempts or lockouts. Time-dependent rules use a FrozenClock; limits
are driven by counts, never by sleeping.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from conftest import Database, random_phone
from conftest import test_settings as settings_for
from sqlalchemy import select

from marque.adapters.clock import FrozenClock
from marque.adapters.db.tables.auth import auth_tokens, sms_codes, staff_users
from marque.bootstrap import Container, bootstrap
from marque.domain.auth import AuthErrorCode, hash_token
from marque.domain.errors import NotFound, RateLimited, Unauthenticated, ValidationFailed
from marque.domain.identity import ActorKind, Role
from marque.services import auth

MakeContainer = Callable[..., Container]


@pytest.fixture
def make_container(seeded: Database) -> Iterator[MakeContainer]:
    """Build containers on the seeded database with a frozen clock and settings overrides."""
    built: list[Container] = []

    def make(clock: FrozenClock | None = None, **overrides: object) -> Container:
        container = bootstrap(settings_for(seeded.url, **overrides), clock=clock)
        built.append(container)
        return container

    yield make
    for container in built:
        container.close()


def client_address() -> str:
    return f"10.{secrets.randbelow(256)}.{secrets.randbelow(256)}.{secrets.randbelow(256)}"


def now() -> datetime:
    return datetime.now(UTC)


def latest_code(ctx: Container, phone: str) -> str:
    code = auth.sandbox_messages(ctx, phone)[0].code
    assert code is not None
    return code


def new_code(ctx: Container, phone: str, ip: str, locale: str = "en") -> str:
    auth.request_sms_code(ctx, phone, ip, locale)
    return latest_code(ctx, phone)


# ---------------------------------------------------------------------- customers


def test_first_sign_in_creates_the_customer_and_later_ones_reuse_it(
    make_container: MakeContainer,
) -> None:
    ctx = make_container(sms_code_interval_seconds=0)
    phone, ip = random_phone(), client_address()
    first = auth.login_with_sms(ctx, phone, new_code(ctx, phone, ip), ip)
    second = auth.login_with_sms(ctx, f"+86 {phone}", new_code(ctx, phone, ip), ip)

    assert first.actor.kind is ActorKind.CUSTOMER
    assert first.actor.id is not None
    assert first.actor.id.startswith("C-")
    assert second.actor.id == first.actor.id
    assert first.token != second.token
    assert first.actor.display_name == f"{phone[:3]}****{phone[-4:]}"


def test_code_request_answers_the_same_whether_or_not_the_phone_has_an_account(
    make_container: MakeContainer,
) -> None:
    ctx = make_container(sms_code_interval_seconds=0)
    known, unknown, ip = random_phone(), random_phone(), client_address()
    auth.login_with_sms(ctx, known, new_code(ctx, known, ip), ip)
    for_known = auth.request_sms_code(ctx, known, ip, "en")
    for_unknown = auth.request_sms_code(ctx, unknown, ip, "en")
    assert (for_known.expires_in, for_known.resend_after) == (
        for_unknown.expires_in,
        for_unknown.resend_after,
    )


def test_wrong_code_is_refused_alike_for_known_and_unknown_phones(container: Container) -> None:
    known, unknown, ip = random_phone(), random_phone(), client_address()
    auth.login_with_sms(container, known, new_code(container, known, ip), ip)
    codes = set()
    for phone in (known, unknown):
        with pytest.raises(Unauthenticated) as caught:
            auth.login_with_sms(container, phone, "000000", client_address())
        codes.add((caught.value.code, caught.value.message))
    assert codes == {(AuthErrorCode.CODE_INVALID, caught.value.message)}


def test_a_code_signs_in_only_once(container: Container) -> None:
    phone, ip = random_phone(), client_address()
    code = new_code(container, phone, ip)
    auth.login_with_sms(container, phone, code, ip)
    with pytest.raises(Unauthenticated) as caught:
        auth.login_with_sms(container, phone, code, ip)
    assert caught.value.code == AuthErrorCode.CODE_INVALID


def test_a_code_is_only_good_for_its_own_phone(container: Container) -> None:
    phone, other, ip = random_phone(), random_phone(), client_address()
    code = new_code(container, phone, ip)
    with pytest.raises(Unauthenticated) as caught:
        auth.login_with_sms(container, other, code, ip)
    assert caught.value.code == AuthErrorCode.CODE_INVALID


def test_an_expired_code_is_refused_as_expired(make_container: MakeContainer) -> None:
    clock = FrozenClock(now())
    ctx = make_container(clock)
    phone, ip = random_phone(), client_address()
    code = new_code(ctx, phone, ip)
    clock.advance(seconds=ctx.settings.sms_code_ttl_seconds)
    with pytest.raises(Unauthenticated) as caught:
        auth.login_with_sms(ctx, phone, code, ip)
    assert caught.value.code == AuthErrorCode.CODE_EXPIRED
    assert caught.value.status == 401


def test_a_code_just_before_expiry_still_works(make_container: MakeContainer) -> None:
    clock = FrozenClock(now())
    ctx = make_container(clock)
    phone, ip = random_phone(), client_address()
    code = new_code(ctx, phone, ip)
    clock.advance(seconds=ctx.settings.sms_code_ttl_seconds - 1)
    assert auth.login_with_sms(ctx, phone, code, ip).actor.is_customer


def test_malformed_phone_is_refused_before_anything_is_stored(container: Container) -> None:
    with pytest.raises(ValidationFailed) as caught:
        auth.request_sms_code(container, "12345", client_address(), "en")
    assert caught.value.code == AuthErrorCode.PHONE_INVALID


def test_sms_text_is_in_the_requesters_language_and_holds_the_code(container: Container) -> None:
    zh_phone, en_phone, ip = random_phone(), random_phone(), client_address()
    auth.request_sms_code(container, zh_phone, ip, "zh-CN")
    auth.request_sms_code(container, en_phone, ip, "en")
    [zh] = auth.sandbox_messages(container, zh_phone)
    [en] = auth.sandbox_messages(container, en_phone)
    assert zh.code is not None
    assert en.code is not None
    assert zh.code in zh.text
    assert "验证码" in zh.text
    assert en.code in en.text
    assert "sign-in code" in en.text


def test_only_a_hash_of_the_code_is_stored(container: Container) -> None:
    phone, ip = random_phone(), client_address()
    code = new_code(container, phone, ip)
    with container.engine.connect() as conn:
        stored = conn.execute(select(sms_codes.c.code_hash).where(sms_codes.c.phone == phone))
        hashes = [row[0] for row in stored]
    assert len(hashes) == 1
    assert code not in hashes[0]


class CommitProbe:
    """An SmsSender that checks, from another connection, that the code is already committed."""

    def __init__(self) -> None:
        self.container: Container | None = None
        self.seen_committed: list[bool] = []

    def send(self, phone: str, text: str, *, purpose: str) -> None:
        assert self.container is not None
        with self.container.engine.connect() as conn:
            query = select(sms_codes.c.id).where(sms_codes.c.phone == phone)
            self.seen_committed.append(conn.execute(query).first() is not None)


def test_the_sms_is_sent_after_the_code_is_committed(seeded: Database) -> None:
    probe = CommitProbe()
    ctx = bootstrap(settings_for(seeded.url), sms=probe)
    probe.container = ctx
    try:
        auth.request_sms_code(ctx, random_phone(), client_address(), "en")
    finally:
        ctx.close()
    assert probe.seen_committed == [True]


# ---------------------------------------------------------------------- rate limits


def test_a_second_code_within_the_interval_is_rate_limited(container: Container) -> None:
    phone, ip = random_phone(), client_address()
    auth.request_sms_code(container, phone, ip, "en")
    with pytest.raises(RateLimited) as caught:
        auth.request_sms_code(container, phone, client_address(), "en")
    assert caught.value.code == AuthErrorCode.RATE_LIMITED
    assert 0 < caught.value.retry_after <= container.settings.sms_code_interval_seconds


def test_hourly_codes_per_phone_are_limited(make_container: MakeContainer) -> None:
    ctx = make_container(sms_code_interval_seconds=0, sms_codes_per_phone_per_hour=3)
    phone = random_phone()
    for _ in range(3):
        auth.request_sms_code(ctx, phone, client_address(), "en")
    with pytest.raises(RateLimited) as caught:
        auth.request_sms_code(ctx, phone, client_address(), "en")
    assert caught.value.code == AuthErrorCode.RATE_LIMITED
    assert 3000 < caught.value.retry_after <= 3600
    assert len(auth.sandbox_messages(ctx, phone)) == 3


def test_hourly_codes_per_client_address_are_limited(make_container: MakeContainer) -> None:
    ctx = make_container(sms_codes_per_client_per_hour=3)
    ip = client_address()
    for _ in range(3):
        auth.request_sms_code(ctx, random_phone(), ip, "en")
    with pytest.raises(RateLimited) as caught:
        auth.request_sms_code(ctx, random_phone(), ip, "en")
    assert caught.value.code == AuthErrorCode.RATE_LIMITED
    # Another address is not affected.
    auth.request_sms_code(ctx, random_phone(), client_address(), "en")


def test_code_requests_are_admitted_again_after_the_hour(make_container: MakeContainer) -> None:
    clock = FrozenClock(now())
    ctx = make_container(clock, sms_codes_per_phone_per_hour=1)
    phone = random_phone()
    auth.request_sms_code(ctx, phone, client_address(), "en")
    with pytest.raises(RateLimited) as caught:
        auth.request_sms_code(ctx, phone, client_address(), "en")
    clock.advance(seconds=caught.value.retry_after)
    auth.request_sms_code(ctx, phone, client_address(), "en")


# ---------------------------------------------------------------------- lockouts


def fail(ctx: Container, phone: str, ip: str, times: int) -> list[str]:
    codes = []
    for _ in range(times):
        with pytest.raises((Unauthenticated, RateLimited)) as caught:
            auth.login_with_sms(ctx, phone, "000000", ip)
        codes.append(caught.value.code)
    return codes


def test_wrong_codes_lock_the_phone_out_even_for_the_right_code(
    make_container: MakeContainer,
) -> None:
    clock = FrozenClock(now())
    ctx = make_container(clock)
    limit = ctx.settings.login_failures_before_lockout
    phone = random_phone()
    code = new_code(ctx, phone, client_address())

    codes = fail(ctx, phone, client_address(), limit)
    assert codes == [AuthErrorCode.CODE_INVALID] * (limit - 1) + [AuthErrorCode.LOCKED_OUT]
    with pytest.raises(RateLimited) as caught:
        auth.login_with_sms(ctx, phone, code, client_address())
    assert caught.value.code == AuthErrorCode.LOCKED_OUT
    assert caught.value.retry_after == ctx.settings.lockout_seconds

    clock.advance(seconds=caught.value.retry_after)
    fresh = new_code(ctx, phone, client_address())
    assert auth.login_with_sms(ctx, phone, fresh, client_address()).actor.is_customer


def test_wrong_codes_from_one_address_lock_that_address_out_for_every_phone(
    container: Container,
) -> None:
    ip = client_address()
    limit = container.settings.login_failures_before_lockout
    for _ in range(limit):
        fail(container, random_phone(), ip, 1)
    phone = random_phone()
    code = new_code(container, phone, client_address())
    with pytest.raises(RateLimited) as caught:
        auth.login_with_sms(container, phone, code, ip)
    assert caught.value.code == AuthErrorCode.LOCKED_OUT
    # The same phone from another address signs in.
    assert auth.login_with_sms(container, phone, code, client_address()).actor.is_customer


def test_a_successful_sign_in_forgives_earlier_wrong_codes(container: Container) -> None:
    phone = random_phone()
    limit = container.settings.login_failures_before_lockout
    fail(container, phone, client_address(), limit - 1)
    auth.login_with_sms(container, phone, new_code(container, phone, client_address()), "10.9.9.9")
    assert fail(container, phone, client_address(), 1) == [AuthErrorCode.CODE_INVALID]


# ---------------------------------------------------------------------- tokens


def test_token_authenticates_until_it_expires(make_container: MakeContainer) -> None:
    clock = FrozenClock(now())
    ctx = make_container(clock, token_ttl_seconds=3600)
    phone, ip = random_phone(), client_address()
    issued = auth.login_with_sms(ctx, phone, new_code(ctx, phone, ip), ip)
    assert issued.expires_at == clock.now + timedelta(seconds=3600)

    clock.advance(seconds=3599)
    assert auth.authenticate_token(ctx, issued.token) == issued.actor
    clock.advance(seconds=1)
    with pytest.raises(Unauthenticated) as caught:
        auth.authenticate_token(ctx, issued.token)
    assert caught.value.code == AuthErrorCode.TOKEN_EXPIRED


def test_a_revoked_token_stops_working_at_once(container: Container) -> None:
    phone, ip = random_phone(), client_address()
    issued = auth.login_with_sms(container, phone, new_code(container, phone, ip), ip)
    assert auth.revoke_token(container, issued.token) is True
    assert auth.revoke_token(container, issued.token) is False
    with pytest.raises(Unauthenticated) as caught:
        auth.authenticate_token(container, issued.token)
    assert caught.value.code == AuthErrorCode.TOKEN_REVOKED


@pytest.mark.parametrize("token", ["", "garbage", "mq_" + "x" * 43, "x" * 5000])
def test_unknown_tokens_are_invalid(container: Container, token: str) -> None:
    with pytest.raises(Unauthenticated) as caught:
        auth.authenticate_token(container, token)
    assert caught.value.code == AuthErrorCode.TOKEN_INVALID


def test_only_the_sha256_of_a_token_is_stored(container: Container) -> None:
    phone, ip = random_phone(), client_address()
    issued = auth.login_with_sms(container, phone, new_code(container, phone, ip), ip)
    with container.engine.connect() as conn:
        plain = conn.execute(select(auth_tokens).where(auth_tokens.c.token_hash == issued.token))
        hashed = conn.execute(
            select(auth_tokens.c.client_ip).where(
                auth_tokens.c.token_hash == hash_token(issued.token)
            )
        )
        assert plain.first() is None
        assert hashed.scalar_one() == ip


def test_session_and_bearer_tokens_are_not_interchangeable(container: Container) -> None:
    phone = random_phone()
    ip = client_address()
    session = auth.login_with_sms(container, phone, new_code(container, phone, ip), ip, "session")
    cookies = {auth.SESSION_COOKIE: session.token}
    assert auth.actor_from_session_cookie(container, cookies) == session.actor
    with pytest.raises(Unauthenticated) as caught:
        auth.authenticate_token(container, session.token)
    assert caught.value.code == AuthErrorCode.TOKEN_INVALID


@pytest.mark.parametrize("cookies", [{}, {"marque_session": ""}, {"marque_session": "garbage"}])
def test_a_missing_or_bad_session_cookie_means_signed_out(
    container: Container, cookies: dict[str, str]
) -> None:
    assert auth.actor_from_session_cookie(container, cookies) is None


# ---------------------------------------------------------------------- staff


def new_staff(ctx: Container, roles: list[Role], password: str = "correct horse battery") -> str:
    username = f"staff-{secrets.token_hex(4)}"
    auth.create_staff(
        ctx.uow(),
        username=username,
        password=password,
        roles=roles,
        display_name="Wang Fang",
        now=now(),
    )
    return username


def test_staff_sign_in_carries_the_roles(container: Container) -> None:
    username = new_staff(container, [Role.SALES, Role.FINANCE])
    issued = auth.login_staff(
        container, username.upper(), "correct horse battery", client_address()
    )
    assert issued.actor.is_staff
    assert issued.actor.roles == {Role.SALES, Role.FINANCE}
    assert issued.actor.display_name == "Wang Fang"
    assert auth.authenticate_token(container, issued.token) == issued.actor


def test_staff_passwords_are_stored_with_argon2(container: Container) -> None:
    username = new_staff(container, [Role.SALES])
    with container.engine.connect() as conn:
        query = select(staff_users.c.password_hash).where(staff_users.c.username == username)
        stored = conn.execute(query).scalar_one()
    assert stored.startswith("$argon2id$")


def test_wrong_password_and_unknown_user_are_refused_alike(container: Container) -> None:
    username = new_staff(container, [Role.SALES])
    refused = []
    for name, password in ((username, "wrong password!"), ("nobody-" + username, "whatever12")):
        with pytest.raises(Unauthenticated) as caught:
            auth.login_staff(container, name, password, client_address())
        refused.append((caught.value.code, caught.value.message))
    assert refused[0] == refused[1]
    assert refused[0][0] == AuthErrorCode.CREDENTIALS_INVALID


@pytest.mark.parametrize("username", ["nul\x00byte", "x" * 63 + "\u0130", "王芳", " "])
def test_input_that_cannot_be_a_username_is_refused_like_a_wrong_password(
    container: Container, username: str
) -> None:
    with pytest.raises(Unauthenticated) as caught:
        auth.login_staff(container, username, "whatever12", client_address())
    assert caught.value.code == AuthErrorCode.CREDENTIALS_INVALID


def test_wrong_passwords_lock_the_username_out(container: Container) -> None:
    username = new_staff(container, [Role.ADMIN])
    limit = container.settings.login_failures_before_lockout
    codes = []
    for _ in range(limit):
        with pytest.raises((Unauthenticated, RateLimited)) as caught:
            auth.login_staff(container, username, "wrong password!", client_address())
        codes.append(caught.value.code)
    assert codes[-1] == AuthErrorCode.LOCKED_OUT
    with pytest.raises(RateLimited):
        auth.login_staff(container, username, "correct horse battery", client_address())


def test_create_staff_again_resets_password_and_roles(container: Container) -> None:
    username = new_staff(container, [Role.SALES])
    auth.create_staff(
        container.uow(),
        username=username,
        password="a brand new password",
        roles=[Role.DELIVERY],
        display_name="",
        now=now(),
    )
    issued = auth.login_staff(container, username, "a brand new password", client_address())
    assert issued.actor.roles == {Role.DELIVERY}
    assert issued.actor.display_name == username
    with pytest.raises(Unauthenticated):
        auth.login_staff(container, username, "correct horse battery", client_address())


def test_staff_password_needs_ten_characters(container: Container) -> None:
    with pytest.raises(ValidationFailed) as caught:
        new_staff(container, [Role.SALES], password="short")
    assert caught.value.code == AuthErrorCode.PASSWORD_TOO_SHORT


# ---------------------------------------------------------------------- sandbox


def test_sandbox_inbox_is_closed_when_sandbox_mode_is_off(make_container: MakeContainer) -> None:
    ctx = make_container(sandbox=False)
    with pytest.raises(NotFound) as caught:
        auth.sandbox_messages(ctx, random_phone())
    assert caught.value.code == AuthErrorCode.SANDBOX_DISABLED
