"""Sign-in: customers, staff users, tokens, SMS codes, attempt log, sandbox SMS inbox.

Revision ID: 0002_auth
Revises: 0001_catalog
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import marque.adapters.db.metadata

revision: str = "0002_auth"
down_revision: str | None = "0001_catalog"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

UtcDateTime = marque.adapters.db.metadata.UtcDateTime


def upgrade() -> None:
    op.create_table(
        "customers",
        sa.Column("id", sa.String(16), nullable=False),
        sa.Column("phone", sa.String(16), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customers")),
        sa.UniqueConstraint("phone", name=op.f("uq_customers_phone")),
    )
    op.create_table(
        "staff_users",
        sa.Column("id", sa.String(16), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("display_name", sa.String(100), nullable=False),
        sa.Column("roles", sa.String(200), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_users")),
        sa.UniqueConstraint("username", name=op.f("uq_staff_users_username")),
    )
    op.create_table(
        "auth_tokens",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("actor_kind", sa.String(16), nullable=False),
        sa.Column("actor_id", sa.String(16), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.Column("revoked_at", UtcDateTime(), nullable=True),
        sa.Column("client_ip", sa.String(64), nullable=True),
        sa.CheckConstraint("kind IN ('bearer', 'session')", name=op.f("ck_auth_tokens_kind")),
        sa.CheckConstraint(
            "actor_kind IN ('customer', 'staff')", name=op.f("ck_auth_tokens_actor_kind")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_auth_tokens_token_hash")),
    )
    op.create_index("ix_auth_tokens_actor", "auth_tokens", ["actor_kind", "actor_id"])
    op.create_table(
        "sms_codes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("phone", sa.String(16), nullable=False),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("consumed_at", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_codes")),
    )
    op.create_index(
        "ix_sms_codes_phone_purpose", "sms_codes", ["phone", "purpose", "created_at"]
    )
    op.create_table(
        "auth_attempts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("subject", sa.String(64), nullable=False),
        sa.Column("client_ip", sa.String(64), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_attempts")),
    )
    op.create_index(
        "ix_auth_attempts_subject", "auth_attempts", ["action", "subject", "created_at"]
    )
    op.create_index(
        "ix_auth_attempts_client", "auth_attempts", ["action", "client_ip", "created_at"]
    )
    op.create_table(
        "sandbox_sms_messages",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("phone", sa.String(16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("code", sa.String(16), nullable=True),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("sent_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sandbox_sms_messages")),
    )
    op.create_index(
        "ix_sandbox_sms_messages_phone", "sandbox_sms_messages", ["phone", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_sandbox_sms_messages_phone", table_name="sandbox_sms_messages")
    op.drop_table("sandbox_sms_messages")
    op.drop_index("ix_auth_attempts_client", table_name="auth_attempts")
    op.drop_index("ix_auth_attempts_subject", table_name="auth_attempts")
    op.drop_table("auth_attempts")
    op.drop_index("ix_sms_codes_phone_purpose", table_name="sms_codes")
    op.drop_table("sms_codes")
    op.drop_index("ix_auth_tokens_actor", table_name="auth_tokens")
    op.drop_table("auth_tokens")
    op.drop_table("staff_users")
    op.drop_table("customers")
