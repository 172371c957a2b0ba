"""SQLAlchemy Core implementation of the AuthRepository port. Never commits."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.engine import RowMapping

from marque.adapters.db.tables.auth import (
    auth_attempts,
    auth_tokens,
    customers,
    sandbox_sms_messages,
    sms_codes,
    staff_users,
)
from marque.domain.auth import roles_from_text, roles_to_text
from marque.domain.credentials import (
    AttemptAction,
    CustomerAccount,
    SandboxSms,
    SmsCodeRecord,
    StaffAccount,
    StaffCredentials,
    TokenKind,
    TokenRecord,
)
from marque.domain.identity import ActorKind


def _customer(row: RowMapping) -> CustomerAccount:
    return CustomerAccount(id=row["id"], phone=row["phone"], created_at=row["created_at"])


def _staff(row: RowMapping) -> StaffAccount:
    return StaffAccount(
        id=row["id"],
        username=row["username"],
        display_name=row["display_name"],
        roles=roles_from_text(row["roles"]),
        active=bool(row["active"]),
        created_at=row["created_at"],
    )


def _sms_code(row: RowMapping) -> SmsCodeRecord:
    return SmsCodeRecord(
        id=row["id"],
        phone=row["phone"],
        purpose=row["purpose"],
        code_hash=row["code_hash"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        attempts=row["attempts"],
        consumed_at=row["consumed_at"],
    )


class SqlAuthRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    # ------------------------------------------------------------------ customers

    def customer_by_phone(self, phone: str) -> CustomerAccount | None:
        row = (
            self._conn.execute(select(customers).where(customers.c.phone == phone))
            .mappings()
            .first()
        )
        return _customer(row) if row else None

    def customer(self, customer_id: str) -> CustomerAccount | None:
        row = (
            self._conn.execute(select(customers).where(customers.c.id == customer_id))
            .mappings()
            .first()
        )
        return _customer(row) if row else None

    def customers(self, customer_ids: Collection[str]) -> dict[str, CustomerAccount]:
        if not customer_ids:
            return {}
        query = select(customers).where(customers.c.id.in_(list(customer_ids)))
        return {row["id"]: _customer(row) for row in self._conn.execute(query).mappings()}

    def add_customer(self, account: CustomerAccount) -> None:
        self._conn.execute(
            insert(customers).values(
                id=account.id, phone=account.phone, created_at=account.created_at
            )
        )

    # ------------------------------------------------------------------ staff

    def staff_by_username(
        self, username: str, *, for_update: bool = False
    ) -> StaffCredentials | None:
        query = select(staff_users).where(staff_users.c.username == username)
        if for_update:
            query = query.with_for_update()
        row = self._conn.execute(query).mappings().first()
        if row is None:
            return None
        return StaffCredentials(account=_staff(row), password_hash=row["password_hash"])

    def staff(self, staff_id: str) -> StaffAccount | None:
        row = (
            self._conn.execute(select(staff_users).where(staff_users.c.id == staff_id))
            .mappings()
            .first()
        )
        return _staff(row) if row else None

    def add_staff(self, credentials: StaffCredentials, *, now: datetime) -> None:
        account = credentials.account
        self._conn.execute(
            insert(staff_users).values(
                id=account.id,
                username=account.username,
                password_hash=credentials.password_hash,
                display_name=account.display_name,
                roles=roles_to_text(account.roles),
                active=account.active,
                created_at=account.created_at,
                updated_at=now,
            )
        )

    def update_staff(self, credentials: StaffCredentials, *, now: datetime) -> None:
        account = credentials.account
        self._conn.execute(
            update(staff_users)
            .where(staff_users.c.id == account.id)
            .values(
                password_hash=credentials.password_hash,
                display_name=account.display_name,
                roles=roles_to_text(account.roles),
                active=account.active,
                updated_at=now,
            )
        )

    def set_password_hash(self, staff_id: str, password_hash: str, *, now: datetime) -> None:
        self._conn.execute(
            update(staff_users)
            .where(staff_users.c.id == staff_id)
            .values(password_hash=password_hash, updated_at=now)
        )

    # ------------------------------------------------------------------ SMS codes

    def add_sms_code(self, record: SmsCodeRecord) -> None:
        self._conn.execute(
            insert(sms_codes).values(
                phone=record.phone,
                purpose=record.purpose,
                code_hash=record.code_hash,
                created_at=record.created_at,
                expires_at=record.expires_at,
                attempts=record.attempts,
                consumed_at=record.consumed_at,
            )
        )

    def open_sms_codes(
        self, phone: str, purpose: str, *, since: datetime, for_update: bool = False
    ) -> Sequence[SmsCodeRecord]:
        query = (
            select(sms_codes)
            .where(
                sms_codes.c.phone == phone,
                sms_codes.c.purpose == purpose,
                sms_codes.c.created_at > since,
                sms_codes.c.consumed_at.is_(None),
            )
            .order_by(sms_codes.c.created_at.desc(), sms_codes.c.id.desc())
        )
        if for_update:
            query = query.with_for_update()
        return [_sms_code(row) for row in self._conn.execute(query).mappings()]

    def count_sms_code_attempt(self, code_id: int) -> None:
        self._conn.execute(
            update(sms_codes)
            .where(sms_codes.c.id == code_id)
            .values(attempts=sms_codes.c.attempts + 1)
        )

    def consume_sms_codes(self, phone: str, purpose: str, *, now: datetime) -> None:
        self._conn.execute(
            update(sms_codes)
            .where(
                sms_codes.c.phone == phone,
                sms_codes.c.purpose == purpose,
                sms_codes.c.consumed_at.is_(None),
            )
            .values(consumed_at=now)
        )

    # ------------------------------------------------------------------ attempts

    def record_attempt(
        self, action: AttemptAction, *, subject: str, client_ip: str, at: datetime
    ) -> None:
        self._conn.execute(
            insert(auth_attempts).values(
                action=str(action), subject=subject, client_ip=client_ip, created_at=at
            )
        )

    def _attempt_times(self, *conditions: Any) -> list[datetime]:
        query = select(auth_attempts.c.created_at).where(*conditions)
        return [row[0] for row in self._conn.execute(query)]

    def attempts_by_subject(
        self, action: AttemptAction, subject: str, *, since: datetime
    ) -> Sequence[datetime]:
        return self._attempt_times(
            auth_attempts.c.action == str(action),
            auth_attempts.c.subject == subject,
            auth_attempts.c.created_at > since,
        )

    def attempts_by_client(
        self, action: AttemptAction, client_ip: str, *, since: datetime
    ) -> Sequence[datetime]:
        return self._attempt_times(
            auth_attempts.c.action == str(action),
            auth_attempts.c.client_ip == client_ip,
            auth_attempts.c.created_at > since,
        )

    def clear_attempts(self, action: AttemptAction, subject: str) -> None:
        self._conn.execute(
            delete(auth_attempts).where(
                auth_attempts.c.action == str(action), auth_attempts.c.subject == subject
            )
        )

    # ------------------------------------------------------------------ tokens

    def add_token(self, record: TokenRecord) -> None:
        self._conn.execute(
            insert(auth_tokens).values(
                token_hash=record.token_hash,
                kind=str(record.kind),
                actor_kind=str(record.actor_kind),
                actor_id=record.actor_id,
                created_at=record.created_at,
                expires_at=record.expires_at,
                revoked_at=record.revoked_at,
                client_ip=record.client_ip,
            )
        )

    def token(self, token_hash: str) -> TokenRecord | None:
        row = (
            self._conn.execute(select(auth_tokens).where(auth_tokens.c.token_hash == token_hash))
            .mappings()
            .first()
        )
        if row is None:
            return None
        return TokenRecord(
            token_hash=row["token_hash"],
            kind=TokenKind(row["kind"]),
            actor_kind=ActorKind(row["actor_kind"]),
            actor_id=row["actor_id"],
            created_at=row["created_at"],
            expires_at=row["expires_at"],
            revoked_at=row["revoked_at"],
            client_ip=row["client_ip"],
        )

    def revoke_token(self, token_hash: str, *, at: datetime) -> bool:
        result = self._conn.execute(
            update(auth_tokens)
            .where(auth_tokens.c.token_hash == token_hash, auth_tokens.c.revoked_at.is_(None))
            .values(revoked_at=at)
        )
        return bool(result.rowcount)

    # ------------------------------------------------------------------ sandbox inbox

    def sandbox_messages(self, phone: str, *, limit: int) -> Sequence[SandboxSms]:
        query = (
            select(sandbox_sms_messages)
            .where(sandbox_sms_messages.c.phone == phone)
            .order_by(sandbox_sms_messages.c.id.desc())
            .limit(limit)
        )
        return [
            SandboxSms(
                phone=row["phone"],
                text=row["text"],
                code=row["code"],
                purpose=row["purpose"],
                sent_at=row["sent_at"],
            )
            for row in self._conn.execute(query).mappings()
        ]
