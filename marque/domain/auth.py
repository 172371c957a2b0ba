"""Sign-in rules with no I/O: phone numbers, SMS codes, rate limits, lockouts, error codes.

Everything here is a pure function of its arguments (times are passed in), so that the
rules can be tested without a database and the services only fetch, decide and store.

Rate limits and lockouts are sliding windows over recorded events:

- a code request is refused while the last code to that phone is younger than the
  resend interval, or while the phone (or the client address) already had its hourly
  allowance of codes in the last hour;
- sign-in is refused while the phone/username (or the client address) has
  ``failures_before_lockout`` failed attempts inside the last ``lockout`` period.

Both answer with the number of seconds after which the request would be admitted.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from marque.domain.errors import N_, ValidationFailed, Violation
from marque.domain.identity import Role


class AuthErrorCode(StrEnum):
    PHONE_INVALID = "auth.phone_invalid"
    CODE_INVALID = "auth.code_invalid"
    CODE_EXPIRED = "auth.code_expired"
    LOCKED_OUT = "auth.locked_out"
    RATE_LIMITED = "auth.rate_limited"
    CREDENTIALS_INVALID = "auth.credentials_invalid"
    TOKEN_INVALID = "auth.token_invalid"
    TOKEN_EXPIRED = "auth.token_expired"
    TOKEN_REVOKED = "auth.token_revoked"
    SMS_UNAVAILABLE = "auth.sms_unavailable"
    USERNAME_INVALID = "auth.username_invalid"
    PASSWORD_TOO_SHORT = "auth.password_too_short"
    ROLES_REQUIRED = "auth.roles_required"
    ACCOUNT_NOT_FOUND = "auth.account_not_found"
    SANDBOX_DISABLED = "sandbox.disabled"


class AuthMessage:
    """English message templates (gettext msgids) for the codes above."""

    PHONE_INVALID = N_(
        "{phone} is not a mainland China mobile number: enter 11 digits starting with 1, "
        "for example 139 1234 5678 (an optional +86 in front is fine)."
    )
    PHONE_INVALID_SUMMARY = N_("The phone number is not a mainland China mobile number.")
    CODE_INVALID = N_(
        "The code is wrong or has already been used. Check the latest SMS or request a new code."
    )
    CODE_EXPIRED = N_(
        "The code has expired. Request a new code and enter it within {minutes} minutes."
    )
    LOCKED_OUT = N_("Too many failed sign-in attempts. Try again in {retry_after} seconds.")
    RATE_LIMITED = N_(
        "Too many codes requested. You can request another code in {retry_after} seconds."
    )
    CREDENTIALS_INVALID = N_("The username or password is wrong.")
    TOKEN_INVALID = N_("The access token is not valid. Please sign in again.")
    TOKEN_EXPIRED = N_("The access token has expired. Please sign in again.")
    TOKEN_REVOKED = N_("The access token was revoked (signed out). Please sign in again.")
    SMS_UNAVAILABLE = N_("The SMS could not be sent. Please try again in {retry_after} seconds.")
    USERNAME_INVALID = N_(
        "The username must be 2 to 64 characters: lowercase letters, digits, '.', '_' or '-', "
        "starting with a letter or digit."
    )
    PASSWORD_TOO_SHORT = N_("The password must have at least {min_length} characters.")
    ROLES_REQUIRED = N_("Give the staff account at least one role.")
    ACCOUNT_NOT_FOUND = N_("The signed-in account no longer exists. Please sign in again.")
    SANDBOX_DISABLED = N_("The sandbox is turned off on this server (MARQUE_SANDBOX=false).")


# ---------------------------------------------------------------------------- phones

_PHONE_SHAPE = re.compile(r"(?:\+|00)?[0-9]+(?:[ -][0-9]+)*")
_MAINLAND_MOBILE = re.compile(r"1[3-9][0-9]{9}")
_MAX_PHONE_INPUT = 32


def normalise_phone(raw: str) -> str:
    """The 11-digit form of a mainland mobile number, or ValidationFailed ``auth.phone_invalid``.

    Accepts ``13912345678``, ``139 1234 5678``, ``+86 139 1234 5678``, ``86-13912345678``
    and ``0086 13912345678``: single spaces or dashes between digit groups, an optional
    country code 86 (with ``+`` or ``00``). Anything else is refused, including full-width
    digits, letters, landlines and numbers of other countries.
    """
    text = raw.strip() if isinstance(raw, str) else ""
    if text and len(text) <= _MAX_PHONE_INPUT and _PHONE_SHAPE.fullmatch(text):
        international = text.startswith(("+", "00"))
        digits = text.lstrip("+").replace(" ", "").replace("-", "")
        if international:
            digits = digits[2:] if text.startswith("00") else digits
            digits = digits[2:] if digits.startswith("86") else ""
        elif len(digits) == 13 and digits.startswith("86"):
            digits = digits[2:]
        if _MAINLAND_MOBILE.fullmatch(digits):
            return digits
    raise phone_invalid(raw)


def phone_invalid(raw: object) -> ValidationFailed:
    shown = str(raw)[:_MAX_PHONE_INPUT] if isinstance(raw, str) else ""
    return ValidationFailed(
        [
            Violation(
                code=AuthErrorCode.PHONE_INVALID,
                message=AuthMessage.PHONE_INVALID,
                params={"phone": shown},
                pointer="/phone",
            )
        ],
        AuthMessage.PHONE_INVALID_SUMMARY,
        code=AuthErrorCode.PHONE_INVALID,
    )


def mask_phone(phone: str) -> str:
    """``13912345678`` -> ``139****5678``: enough to recognise, not enough to call."""
    if len(phone) < 8:
        return "*" * len(phone)
    return f"{phone[:3]}{'*' * (len(phone) - 7)}{phone[-4:]}"


# ---------------------------------------------------------------------------- SMS codes

CODE_LENGTH = 6
_CODE_SHAPE = re.compile(r"[0-9]{6}")


def new_sms_code(random_below: Callable[[int], int] = secrets.randbelow) -> str:
    """Six decimal digits, uniformly random, leading zeros kept (``004213`` is a code)."""
    return f"{random_below(10**CODE_LENGTH):0{CODE_LENGTH}d}"


def is_well_formed_code(code: str) -> bool:
    return isinstance(code, str) and _CODE_SHAPE.fullmatch(code.strip()) is not None


def hash_sms_code(secret: str, phone: str, purpose: str, code: str) -> str:
    """Keyed hash of a code: a stolen table does not give the codes away by brute force
    without the server's secret key."""
    message = f"{purpose}:{phone}:{code.strip()}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def codes_match(stored_hash: str, candidate_hash: str) -> bool:
    return hmac.compare_digest(stored_hash, candidate_hash)


# ---------------------------------------------------------------------------- tokens

TOKEN_PREFIX = "mq_"
MAX_TOKEN_LENGTH = 256


def new_token() -> str:
    """An opaque bearer/session token: 256 random bits, URL-safe, with a greppable prefix."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """What the database keeps instead of the token (sha256, hex)."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_reference(prefix: str) -> str:
    """Random account ids such as ``C-7KQ2M9XW4T``: no ambiguous letters, no sequence to guess."""
    alphabet = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
    return prefix + "".join(secrets.choice(alphabet) for _ in range(10))


# ---------------------------------------------------------------------------- staff

_USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{1,63}")
MIN_PASSWORD_LENGTH = 10


def normalise_username(raw: str) -> str:
    """Usernames compare case-insensitively: stored and looked up in lower case."""
    return raw.strip().lower()


def is_valid_username(username: str) -> bool:
    return _USERNAME.fullmatch(username) is not None


def attempt_subject(username: str) -> str:
    """What failed staff sign-ins are counted under: the username, or, for input that cannot
    be a username (too long, control characters), a fixed-size digest of it."""
    if is_valid_username(username):
        return username
    return "invalid:" + hashlib.sha256(username.encode("utf-8", "replace")).hexdigest()[:40]


def staff_account_violations(
    username: str, password: str, roles: Iterable[Role]
) -> list[Violation]:
    """Every rule a new or updated staff account breaks (empty when it is fine)."""
    found: list[Violation] = []
    if not is_valid_username(username):
        found.append(
            Violation(
                AuthErrorCode.USERNAME_INVALID, AuthMessage.USERNAME_INVALID, pointer="/username"
            )
        )
    if len(password) < MIN_PASSWORD_LENGTH:
        found.append(
            Violation(
                AuthErrorCode.PASSWORD_TOO_SHORT,
                AuthMessage.PASSWORD_TOO_SHORT,
                {"min_length": MIN_PASSWORD_LENGTH},
                pointer="/password",
            )
        )
    if not list(roles):
        found.append(
            Violation(AuthErrorCode.ROLES_REQUIRED, AuthMessage.ROLES_REQUIRED, pointer="/roles")
        )
    return found


def roles_to_text(roles: Iterable[Role]) -> str:
    """Roles as stored: sorted, comma-separated (portable across SQLite and PostgreSQL)."""
    return ",".join(sorted({Role(role).value for role in roles}))


def roles_from_text(text: str) -> frozenset[Role]:
    """Stored roles back as enum members; unknown names (from a newer release) are ignored."""
    known = {role.value for role in Role}
    return frozenset(Role(part) for part in text.split(",") if part in known)


# ---------------------------------------------------------------------------- limits

HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class SmsCodePolicy:
    interval: timedelta
    per_phone_per_hour: int
    per_client_per_hour: int


@dataclass(frozen=True)
class LockoutPolicy:
    failures_before_lockout: int
    lockout: timedelta


def _seconds(delta: timedelta) -> int:
    return max(1, math.ceil(delta.total_seconds()))


def window_wait(
    times: Iterable[datetime], *, limit: int, window: timedelta, now: datetime
) -> int | None:
    """Seconds until fewer than ``limit`` of ``times`` lie inside ``(now - window, now]``.

    ``None`` when there is room already. A limit below 1 is treated as 1.
    """
    limit = max(1, limit)
    inside = sorted(t for t in times if now - window < t <= now)
    if len(inside) < limit:
        return None
    # The oldest event that has to leave the window for the count to drop below the limit.
    leaving = inside[len(inside) - limit]
    return _seconds(leaving + window - now)


def sms_code_wait(
    policy: SmsCodePolicy,
    *,
    now: datetime,
    phone_sends: Iterable[datetime],
    client_sends: Iterable[datetime],
) -> int | None:
    """Seconds before another code may be sent to this phone from this client; None = now."""
    phone_times = list(phone_sends)
    waits: list[int] = []
    recent = [t for t in phone_times if now - policy.interval < t <= now]
    if recent:
        waits.append(_seconds(max(recent) + policy.interval - now))
    for times, limit in (
        (phone_times, policy.per_phone_per_hour),
        (client_sends, policy.per_client_per_hour),
    ):
        wait = window_wait(times, limit=limit, window=HOUR, now=now)
        if wait is not None:
            waits.append(wait)
    return max(waits) if waits else None


def lockout_wait(
    policy: LockoutPolicy,
    *,
    now: datetime,
    subject_failures: Iterable[datetime],
    client_failures: Iterable[datetime],
) -> int | None:
    """Seconds a phone/username or client address stays locked out; None = not locked."""
    waits = [
        wait
        for times in (subject_failures, client_failures)
        if (
            wait := window_wait(
                times, limit=policy.failures_before_lockout, window=policy.lockout, now=now
            )
        )
        is not None
    ]
    return max(waits) if waits else None


__all__ = [
    "AuthErrorCode",
    "AuthMessage",
    "LockoutPolicy",
    "SmsCodePolicy",
    "codes_match",
    "hash_sms_code",
    "attempt_subject",
    "hash_token",
    "is_valid_username",
    "is_well_formed_code",
    "lockout_wait",
    "mask_phone",
    "new_reference",
    "new_sms_code",
    "new_token",
    "normalise_phone",
    "normalise_username",
    "roles_from_text",
    "roles_to_text",
    "sms_code_wait",
    "staff_account_violations",
    "window_wait",
]
