"""SQLAlchemy Core implementation of the AuthRepository port. Never commits."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, bindparam, delete, insert, select, update

from marque.adapters.db.prepared import Prepared, bound
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


def _customer(row: Mapping[str, Any]) -> CustomerAccount:
    return CustomerAccount(id=row["id"], phone=row["phone"], created_at=row["created_at"])


def _staff(row: Mapping[str, Any]) -> StaffAccount:
    return StaffAccount(
        id=row["id"],
        username=row["username"],
        display_name=row["display_name"],
        roles=roles_from_text(row["roles"]),
        active=bool(row["active"]),
        created_at=row["created_at"],
    )


def _sms_code(row: Mapping[str, Any]) -> SmsCodeRecord:
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


def _token(row: Mapping[str, Any]) -> TokenRecord:
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


# A sign-in cache miss runs this one; the customer reads below serve sign-in and staff pages.
#: A token with its customer, if a customer's: a buyer's first request in one round trip.
_TOKEN_AND_CUSTOMER = Prepared(
    select(
        auth_tokens,
        customers.c.phone.label("customer_phone"),
        customers.c.created_at.label("customer_created_at"),
    )
    .select_from(
        auth_tokens.outerjoin(
            customers,
            and_(
                customers.c.id == auth_tokens.c.actor_id,
                auth_tokens.c.actor_kind == bindparam("customer_kind", ActorKind.CUSTOMER.value),
            ),
        )
    )
    .where(auth_tokens.c.token_hash == bindparam("hash"))
)
_CUSTOMER = Prepared(select(customers).where(customers.c.id == bindparam("id")))
_CUSTOMER_BY_PHONE = Prepared(select(customers).where(customers.c.phone == bindparam("phone")))
_ADD_CUSTOMER = Prepared(
    insert(customers).values(**bound("id", "phone"), created_at=bindparam("b_at")).inline()
)
_STAFF = Prepared(select(staff_users).where(staff_users.c.id == bindparam("id")))
_ADD_TOKEN = Prepared(
    insert(auth_tokens)
    .values(
        bound(
            "token_hash",
            "kind",
            "actor_kind",
            "actor_id",
            "created_at",
            "expires_at",
            "revoked_at",
            "client_ip",
        )
    )
    .inline()
)
_BY_USERNAME = select(staff_users).where(staff_users.c.username == bindparam("username"))
_STAFF_BY_USERNAME = Prepared(_BY_USERNAME)
_STAFF_BY_USERNAME_FOR_UPDATE = Prepared(_BY_USERNAME.with_for_update())
_SMS_CODES = (
    select(sms_codes)
    .where(
        sms_codes.c.phone == bindparam("phone"),
        sms_codes.c.purpose == bindparam("purpose"),
        sms_codes.c.created_at > bindparam("since"),
        sms_codes.c.consumed_at.is_(None),
    )
    .order_by(sms_codes.c.created_at.desc(), sms_codes.c.id.desc())
)
_OPEN_SMS_CODES = Prepared(_SMS_CODES)
_OPEN_SMS_CODES_FOR_UPDATE = Prepared(_SMS_CODES.with_for_update())
_REVOKE_TOKEN = Prepared(
    update(auth_tokens)
    .where(auth_tokens.c.token_hash == bindparam("b_hash"), auth_tokens.c.revoked_at.is_(None))
    .values(revoked_at=bindparam("b_at"))
)


class SqlAuthRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    # ------------------------------------------------------------------ customers

    def customer_by_phone(self, phone: str) -> CustomerAccount | None:
        return _CUSTOMER_BY_PHONE.one_as(self._conn, {"phone": phone}, _customer)

    def customer(self, customer_id: str) -> CustomerAccount | None:
        return _CUSTOMER.one_as(self._conn, {"id": customer_id}, _customer)

    def customers(self, customer_ids: Collection[str]) -> dict[str, CustomerAccount]:
        if not customer_ids:
            return {}
        # An IN list: stays on Core (Prepared cannot render one); a cold path (staff lists).
        query = select(customers).where(customers.c.id.in_(list(customer_ids)))
        return {row.id: _customer(row._asdict()) for row in self._conn.execute(query)}

    def add_customer(self, account: CustomerAccount) -> None:
        _ADD_CUSTOMER.run(
            self._conn, {"b_id": account.id, "b_phone": account.phone, "b_at": account.created_at}
        )

    # ------------------------------------------------------------------ staff

    def staff_by_username(
        self, username: str, *, for_update: bool = False
    ) -> StaffCredentials | None:
        query = _STAFF_BY_USERNAME_FOR_UPDATE if for_update else _STAFF_BY_USERNAME
        row = query.first(self._conn, {"username": username})
        if row is None:
            return None
        return StaffCredentials(account=_staff(row), password_hash=row["password_hash"])

    def staff(self, staff_id: str) -> StaffAccount | None:
        return _STAFF.one_as(self._conn, {"id": staff_id}, _staff)

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
        query = _OPEN_SMS_CODES_FOR_UPDATE if for_update else _OPEN_SMS_CODES
        params = {"phone": phone, "purpose": purpose, "since": since}
        return query.all_as(self._conn, params, _sms_code)

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
        _ADD_TOKEN.run(
            self._conn,
            {
                "b_token_hash": record.token_hash,
                "b_kind": str(record.kind),
                "b_actor_kind": str(record.actor_kind),
                "b_actor_id": record.actor_id,
                "b_created_at": record.created_at,
                "b_expires_at": record.expires_at,
                "b_revoked_at": record.revoked_at,
                "b_client_ip": record.client_ip,
            },
        )

    def token_and_customer(
        self, token_hash: str
    ) -> tuple[TokenRecord, CustomerAccount | None] | None:
        row = _TOKEN_AND_CUSTOMER.first(self._conn, {"hash": token_hash})
        if row is None:
            return None
        customer = None
        if row["customer_created_at"] is not None:
            customer = _customer(
                {
                    "id": row["actor_id"],
                    "phone": row["customer_phone"],
                    "created_at": row["customer_created_at"],
                }
            )
        return _token(row), customer

    def revoke_token(self, token_hash: str, *, at: datetime) -> bool:
        return bool(_REVOKE_TOKEN.run(self._conn, {"b_hash": token_hash, "b_at": at}))

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
