"""Accounts and the sign-in records kept about them: plain data, no I/O.

The repository (an adapter) and the use cases (services) both speak these types.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from marque.domain.auth import mask_phone
from marque.domain.identity import ActorKind, Role


@dataclass(frozen=True)
class CustomerAccount:
    id: str
    phone: str
    created_at: datetime

    @property
    def phone_masked(self) -> str:
        return mask_phone(self.phone)


@dataclass(frozen=True)
class StaffAccount:
    id: str
    username: str
    display_name: str
    roles: frozenset[Role]
    active: bool
    created_at: datetime


class TokenKind(StrEnum):
    BEARER = "bearer"  # API clients: Authorization: Bearer <token>
    SESSION = "session"  # pages: the marque_session cookie (CSRF-protected forms)


class AttemptAction(StrEnum):
    SMS_CODE_SENT = "sms_code_sent"
    SMS_LOGIN_FAILED = "sms_login_failed"
    STAFF_LOGIN_FAILED = "staff_login_failed"


@dataclass(frozen=True)
class StaffCredentials:
    account: StaffAccount
    password_hash: str


@dataclass(frozen=True)
class SmsCodeRecord:
    id: int | None
    phone: str
    purpose: str
    code_hash: str
    created_at: datetime
    expires_at: datetime
    attempts: int = 0
    consumed_at: datetime | None = None


@dataclass(frozen=True)
class TokenRecord:
    token_hash: str
    kind: TokenKind
    actor_kind: ActorKind
    actor_id: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None
    client_ip: str | None = None


@dataclass(frozen=True)
class SandboxSms:
    phone: str
    text: str
    code: str | None
    purpose: str
    sent_at: datetime


__all__ = [
    "AttemptAction",
    "CustomerAccount",
    "SandboxSms",
    "SmsCodeRecord",
    "StaffAccount",
    "StaffCredentials",
    "TokenKind",
    "TokenRecord",
]
