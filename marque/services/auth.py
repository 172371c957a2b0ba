"""Sign-in use cases: SMS codes for customers, passwords for staff, opaque tokens for both.

Choices (see also docs/decisions.md):

- A wrong code answers 401 ``auth.code_invalid``; a right but expired code answers 401
  ``auth.code_expired`` (the caller is not authenticated; 401 tells clients to restart
  sign-in). Neither answer, nor the code request, depends on whether the phone already
  has an account: the account is created on the first successful sign-in.
- Codes are single-use: a successful sign-in consumes every open code of that phone.
- A failed attempt is recorded per phone/username and per client address; once either
  reaches ``login_failures_before_lockout`` failures inside ``lockout_seconds``, sign-in
  answers 429 ``auth.locked_out`` with ``retry_after`` (the failure that reaches the limit
  already answers 429). A success clears the failures of that phone/username. SMS and staff
  failures are counted separately, so a customer's typos do not lock a showroom's staff out.
- Tokens (see ``marque.services.auth_tokens``, re-exported here) are 256-bit random
  strings; only their sha256 is stored. ``bearer`` tokens are for the API, ``session``
  tokens for the page cookie; one is not accepted as the other.
- The SMS goes out after the transaction that stored the code has committed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from marque.domain.auth import (
    AuthErrorCode,
    AuthMessage,
    SmsCodePolicy,
    attempt_subject,
    codes_match,
    hash_sms_code,
    is_well_formed_code,
    mask_phone,
    new_reference,
    new_sms_code,
    normalise_phone,
    normalise_username,
    sms_code_wait,
    staff_account_violations,
)
from marque.domain.credentials import (
    AttemptAction,
    CustomerAccount,
    SandboxSms,
    SmsCodeRecord,
    StaffAccount,
    StaffCredentials,
    TokenKind,
)
from marque.domain.errors import (
    N_,
    NotFound,
    RateLimited,
    Unauthenticated,
    Unavailable,
    ValidationFailed,
)
from marque.domain.identity import Role
from marque.i18n import Translator
from marque.services.auth_lockouts import lockout_policy, record_failure, refuse_if_locked_out
from marque.services.auth_tokens import (
    SESSION_COOKIE,
    Account,
    IssuedToken,
    account_of,
    actor_from_session_cookie,
    actor_of,
    authenticate_token,
    cached_actor,
    issue_token,
    revoke_token,
)
from marque.services.context import AppContext
from marque.services.unit_of_work import UnitOfWork

__all__ = [
    "SESSION_COOKIE",
    "Account",
    "IssuedToken",
    "SmsCodeSent",
    "account_of",
    "actor_from_session_cookie",
    "actor_of",
    "authenticate_token",
    "cached_actor",
    "create_staff",
    "login_staff",
    "login_with_sms",
    "request_sms_code",
    "revoke_token",
    "sandbox_messages",
]

log = logging.getLogger("marque.auth")

SIGN_IN = "sign_in"
SMS_TEXT = N_(
    "[marque] Your sign-in code is {code}. It is valid for {minutes} minutes. "
    "Never share it with anyone."
)
UNKNOWN_CLIENT = "unknown"
_CODE_LOOKBACK = timedelta(days=1)
_HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class SmsCodeSent:
    phone: str
    phone_masked: str
    expires_in: int
    resend_after: int


# ---------------------------------------------------------------------------- customers


def request_sms_code(
    ctx: AppContext, phone: str, client_ip: str | None, locale: str
) -> SmsCodeSent:
    """Send a six-digit sign-in code to ``phone`` (rate-limited per phone and per client)."""
    phone = normalise_phone(phone)
    client = client_ip or UNKNOWN_CLIENT
    settings = ctx.settings
    policy = SmsCodePolicy(
        interval=timedelta(seconds=settings.sms_code_interval_seconds),
        per_phone_per_hour=settings.sms_codes_per_phone_per_hour,
        per_client_per_hour=settings.sms_codes_per_client_per_hour,
    )
    ttl = timedelta(seconds=settings.sms_code_ttl_seconds)
    code = new_sms_code()
    with ctx.uow() as uow:
        repo = uow.auth
        now = ctx.clock()
        repo.open_sms_codes(phone, SIGN_IN, since=now - _CODE_LOOKBACK, for_update=True)
        wait = sms_code_wait(
            policy,
            now=now,
            phone_sends=repo.attempts_by_subject(
                AttemptAction.SMS_CODE_SENT, phone, since=now - _HOUR
            ),
            client_sends=repo.attempts_by_client(
                AttemptAction.SMS_CODE_SENT, client, since=now - _HOUR
            ),
        )
        if wait is not None:
            raise RateLimited(
                AuthMessage.RATE_LIMITED, code=AuthErrorCode.RATE_LIMITED, retry_after=wait
            )
        repo.add_sms_code(
            SmsCodeRecord(
                id=None,
                phone=phone,
                purpose=SIGN_IN,
                code_hash=hash_sms_code(settings.secret_key, phone, SIGN_IN, code),
                created_at=now,
                expires_at=now + ttl,
            )
        )
        repo.record_attempt(AttemptAction.SMS_CODE_SENT, subject=phone, client_ip=client, at=now)
        uow.commit()
    text = Translator(locale)(SMS_TEXT, code=code, minutes=max(1, round(ttl.total_seconds() / 60)))
    try:
        ctx.sms.send(phone, text, purpose=SIGN_IN)
    except Exception as exc:
        log.exception("SMS sending failed")
        raise Unavailable(
            AuthMessage.SMS_UNAVAILABLE,
            code=AuthErrorCode.SMS_UNAVAILABLE,
            retry_after=settings.sms_code_interval_seconds,
        ) from exc
    return SmsCodeSent(
        phone=phone,
        phone_masked=mask_phone(phone),
        expires_in=settings.sms_code_ttl_seconds,
        resend_after=settings.sms_code_interval_seconds,
    )


def login_with_sms(
    ctx: AppContext,
    phone: str,
    code: str,
    client_ip: str | None,
    kind: str = TokenKind.BEARER,
) -> IssuedToken:
    """Exchange a phone number and its SMS code for a token; the first sign-in creates the account."""
    phone = normalise_phone(phone)
    client = client_ip or UNKNOWN_CLIENT
    token_kind = TokenKind(kind)
    settings = ctx.settings
    policy = lockout_policy(ctx)
    with ctx.uow() as uow:
        repo = uow.auth
        now = ctx.clock()
        # Locks the phone's open codes (PostgreSQL) so that parallel guesses queue up.
        open_codes = repo.open_sms_codes(
            phone, SIGN_IN, since=now - _CODE_LOOKBACK, for_update=True
        )
        refuse_if_locked_out(repo, policy, AttemptAction.SMS_LOGIN_FAILED, phone, client, now)
        matched: SmsCodeRecord | None = None
        if is_well_formed_code(code):
            candidate = hash_sms_code(settings.secret_key, phone, SIGN_IN, code)
            matched = next((c for c in open_codes if codes_match(c.code_hash, candidate)), None)
        if matched is not None and matched.expires_at <= now:
            raise Unauthenticated(
                AuthMessage.CODE_EXPIRED,
                code=AuthErrorCode.CODE_EXPIRED,
                minutes=max(1, round(settings.sms_code_ttl_seconds / 60)),
            )
        if matched is None:
            if open_codes and open_codes[0].id is not None:
                repo.count_sms_code_attempt(open_codes[0].id)
            locked = record_failure(
                repo, policy, AttemptAction.SMS_LOGIN_FAILED, phone, client, now
            )
            uow.commit()
            if locked is not None:
                raise locked
            raise Unauthenticated(AuthMessage.CODE_INVALID, code=AuthErrorCode.CODE_INVALID)
        repo.consume_sms_codes(phone, SIGN_IN, now=now)
        repo.clear_attempts(AttemptAction.SMS_LOGIN_FAILED, phone)
        account = repo.customer_by_phone(phone)
        if account is None:
            account = CustomerAccount(id=new_reference("C-"), phone=phone, created_at=now)
            repo.add_customer(account)
        issued = issue_token(ctx, repo, account, token_kind, client, now)
        uow.commit()
    return issued


# ---------------------------------------------------------------------------- staff


@cache
def _hasher() -> PasswordHasher:
    return PasswordHasher()


@cache
def _dummy_hash() -> str:
    """Verified against when the username is unknown, so both cases take as long."""
    return _hasher().hash("not-a-real-password-for-timing-only")


def _password_matches(password_hash: str, password: str) -> bool:
    try:
        return _hasher().verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def login_staff(
    ctx: AppContext,
    username: str,
    password: str,
    client_ip: str | None,
    kind: str = TokenKind.BEARER,
) -> IssuedToken:
    """Exchange a staff username and password (argon2) for a token carrying the staff roles."""
    username = normalise_username(username)
    subject = attempt_subject(username)
    client = client_ip or UNKNOWN_CLIENT
    token_kind = TokenKind(kind)
    policy = lockout_policy(ctx)
    with ctx.uow() as uow:
        repo = uow.auth
        now = ctx.clock()
        credentials = (
            repo.staff_by_username(username, for_update=True) if subject == username else None
        )
        refuse_if_locked_out(repo, policy, AttemptAction.STAFF_LOGIN_FAILED, subject, client, now)
        stored_hash = credentials.password_hash if credentials else _dummy_hash()
        valid = _password_matches(stored_hash, password)
        if credentials is None or not valid or not credentials.account.active:
            locked = record_failure(
                repo, policy, AttemptAction.STAFF_LOGIN_FAILED, subject, client, now
            )
            uow.commit()
            if locked is not None:
                raise locked
            raise Unauthenticated(
                AuthMessage.CREDENTIALS_INVALID, code=AuthErrorCode.CREDENTIALS_INVALID
            )
        account = credentials.account
        if _hasher().check_needs_rehash(stored_hash):
            repo.set_password_hash(account.id, _hasher().hash(password), now=now)
        repo.clear_attempts(AttemptAction.STAFF_LOGIN_FAILED, username)
        issued = issue_token(ctx, repo, account, token_kind, client, now)
        uow.commit()
    return issued


def create_staff(
    uow: UnitOfWork,
    *,
    username: str,
    password: str,
    roles: Iterable[Role],
    display_name: str,
    now: datetime,
) -> StaffAccount:
    """Create a staff account, or reset the password, roles and name of an existing one."""
    username = normalise_username(username)
    role_set = frozenset(Role(role) for role in roles)
    violations = staff_account_violations(username, password, role_set)
    if len(violations) == 1:
        only = violations[0]
        raise ValidationFailed(violations, only.message, code=only.code, **only.params)
    if violations:
        raise ValidationFailed(violations)
    name = display_name.strip()[:100] or username
    password_hash = _hasher().hash(password)
    with uow:
        existing = uow.auth.staff_by_username(username, for_update=True)
        if existing is None:
            account = StaffAccount(
                id=new_reference("S-"),
                username=username,
                display_name=name,
                roles=role_set,
                active=True,
                created_at=now,
            )
            uow.auth.add_staff(StaffCredentials(account, password_hash), now=now)
        else:
            old = existing.account
            account = StaffAccount(old.id, username, name, role_set, True, old.created_at)
            uow.auth.update_staff(StaffCredentials(account, password_hash), now=now)
        uow.commit()
    return account


# ---------------------------------------------------------------------------- tokens


# ---------------------------------------------------------------------------- sandbox


def sandbox_messages(ctx: AppContext, phone: str, *, limit: int = 20) -> Sequence[SandboxSms]:
    """Messages the sandbox SMS sender kept for ``phone``, newest first (sandbox mode only)."""
    if not ctx.settings.sandbox:
        raise NotFound(AuthMessage.SANDBOX_DISABLED, code=AuthErrorCode.SANDBOX_DISABLED)
    phone = normalise_phone(phone)
    with ctx.uow(readonly=True) as uow:
        return uow.auth.sandbox_messages(phone, limit=max(1, min(limit, 100)))
