"""What the sign-in use cases need from storage: the AuthRepository port.

The records it speaks are plain domain data (marque.domain.credentials), so that the
SQL adapter can build them without importing the service layer.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Protocol

from marque.domain.credentials import (
    AttemptAction,
    CustomerAccount,
    SandboxSms,
    SmsCodeRecord,
    StaffAccount,
    StaffCredentials,
    TokenRecord,
)


class AuthRepository(Protocol):
    # customers
    def customer_by_phone(self, phone: str) -> CustomerAccount | None: ...
    def customer(self, customer_id: str) -> CustomerAccount | None: ...
    def customers(self, customer_ids: Collection[str]) -> dict[str, CustomerAccount]: ...
    def add_customer(self, account: CustomerAccount) -> None: ...

    # staff
    def staff_by_username(
        self, username: str, *, for_update: bool = False
    ) -> StaffCredentials | None: ...
    def staff(self, staff_id: str) -> StaffAccount | None: ...
    def add_staff(self, credentials: StaffCredentials, *, now: datetime) -> None: ...
    def update_staff(self, credentials: StaffCredentials, *, now: datetime) -> None: ...
    def set_password_hash(self, staff_id: str, password_hash: str, *, now: datetime) -> None: ...

    # SMS codes
    def add_sms_code(self, record: SmsCodeRecord) -> None: ...
    def open_sms_codes(
        self, phone: str, purpose: str, *, since: datetime, for_update: bool = False
    ) -> Sequence[SmsCodeRecord]:
        """Unconsumed codes created after ``since``, newest first."""
        ...

    def count_sms_code_attempt(self, code_id: int) -> None: ...
    def consume_sms_codes(self, phone: str, purpose: str, *, now: datetime) -> None: ...

    # attempts (rate limits and lockouts)
    def record_attempt(
        self, action: AttemptAction, *, subject: str, client_ip: str, at: datetime
    ) -> None: ...
    def attempts_by_subject(
        self, action: AttemptAction, subject: str, *, since: datetime
    ) -> Sequence[datetime]: ...
    def attempts_by_client(
        self, action: AttemptAction, client_ip: str, *, since: datetime
    ) -> Sequence[datetime]: ...
    def clear_attempts(self, action: AttemptAction, subject: str) -> None: ...

    # tokens
    def add_token(self, record: TokenRecord) -> None: ...
    def token_and_customer(
        self, token_hash: str
    ) -> tuple[TokenRecord, CustomerAccount | None] | None:
        """The token and, when it is a customer's, their account, in one read."""

    def revoke_token(self, token_hash: str, *, at: datetime) -> bool: ...

    # sandbox inbox (written by the sandbox SMS sender)
    def sandbox_messages(self, phone: str, *, limit: int) -> Sequence[SandboxSms]: ...
