"""Sign-in tables: customers, staff, tokens, SMS codes, attempt log, sandbox SMS inbox.

Rate limits and lockouts are counted from ``auth_attempts`` rows so that every server
process (and every machine) sees the same counts. Tokens and SMS codes are stored only as
hashes. There are no foreign keys: a token points at a customer or a staff user (a
polymorphic actor), and codes and attempts concern phones that may never become customers.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from marque.adapters.db.metadata import UtcDateTime, metadata

customers = Table(
    "customers",
    metadata,
    Column("id", String(16), primary_key=True),
    Column("phone", String(16), nullable=False, unique=True),
    Column("created_at", UtcDateTime(), nullable=False),
)

staff_users = Table(
    "staff_users",
    metadata,
    Column("id", String(16), primary_key=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=False),
    Column("display_name", String(100), nullable=False),
    # Sorted, comma-separated Role values: portable across SQLite and PostgreSQL.
    Column("roles", String(200), nullable=False),
    Column("active", Boolean(), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)

auth_tokens = Table(
    "auth_tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("kind", String(16), nullable=False),
    Column("actor_kind", String(16), nullable=False),
    Column("actor_id", String(16), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
    Column("revoked_at", UtcDateTime(), nullable=True),
    Column("client_ip", String(64), nullable=True),
    CheckConstraint("kind IN ('bearer', 'session')", name="kind"),
    CheckConstraint("actor_kind IN ('customer', 'staff')", name="actor_kind"),
    Index("ix_auth_tokens_actor", "actor_kind", "actor_id"),
)

sms_codes = Table(
    "sms_codes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("phone", String(16), nullable=False),
    Column("purpose", String(32), nullable=False),
    Column("code_hash", String(64), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("consumed_at", UtcDateTime(), nullable=True),
    Index("ix_sms_codes_phone_purpose", "phone", "purpose", "created_at"),
)

auth_attempts = Table(
    "auth_attempts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # sms_code_sent | sms_login_failed | staff_login_failed
    Column("action", String(32), nullable=False),
    # The phone number or the username the attempt was about.
    Column("subject", String(64), nullable=False),
    Column("client_ip", String(64), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Index("ix_auth_attempts_subject", "action", "subject", "created_at"),
    Index("ix_auth_attempts_client", "action", "client_ip", "created_at"),
)

sandbox_sms_messages = Table(
    "sandbox_sms_messages",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("phone", String(16), nullable=False),
    Column("text", Text(), nullable=False),
    Column("code", String(16), nullable=True),
    Column("purpose", String(32), nullable=False),
    Column("sent_at", UtcDateTime(), nullable=False),
    Index("ix_sandbox_sms_messages_phone", "phone", "id"),
)

__all__ = [
    "auth_attempts",
    "auth_tokens",
    "customers",
    "sandbox_sms_messages",
    "sms_codes",
    "staff_users",
]
