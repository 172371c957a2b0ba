"""catalog: models, trims, options, rules, price books, deposit terms, configurations

Revision ID: 0001_catalog
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import marque.adapters.db.metadata

revision = "0001_catalog"
down_revision = None
branch_labels = None
depends_on = None

UtcDateTime = marque.adapters.db.metadata.UtcDateTime


def upgrade() -> None:
    op.create_table(
        "models",
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("name_zh", sa.String(100), nullable=False),
        sa.Column("name_en", sa.String(100), nullable=False),
        sa.Column("body_type", sa.String(20), nullable=False),
        sa.Column("tagline_zh", sa.String(200), nullable=False),
        sa.Column("tagline_en", sa.String(200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("on_sale_at", UtcDateTime(), nullable=True),
        sa.Column("deposit_terms_code", sa.String(40), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_models")),
    )
    op.create_table(
        "trims",
        sa.Column("model_code", sa.String(32), nullable=False),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("name_zh", sa.String(100), nullable=False),
        sa.Column("name_en", sa.String(100), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("limited_edition", sa.Boolean(), nullable=False),
        sa.Column("unit_cap", sa.Integer(), nullable=True),
        sa.Column("on_sale_at", UtcDateTime(), nullable=True),
        sa.Column("deposit_terms_code", sa.String(40), nullable=True),
        sa.ForeignKeyConstraint(
            ["model_code"], ["models.code"], name=op.f("fk_trims_model_code_models")
        ),
        sa.PrimaryKeyConstraint("model_code", "code", name=op.f("pk_trims")),
    )
    op.create_table(
        "option_groups",
        sa.Column("model_code", sa.String(32), nullable=False),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("name_zh", sa.String(100), nullable=False),
        sa.Column("name_en", sa.String(100), nullable=False),
        sa.Column("selection", sa.String(20), nullable=False),
        sa.Column("default_option", sa.String(40), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_code"], ["models.code"], name=op.f("fk_option_groups_model_code_models")
        ),
        sa.PrimaryKeyConstraint("model_code", "code", name=op.f("pk_option_groups")),
    )
    op.create_table(
        "options",
        sa.Column("model_code", sa.String(32), nullable=False),
        sa.Column("code", sa.String(40), nullable=False),
        sa.Column("group_code", sa.String(32), nullable=False),
        sa.Column("name_zh", sa.String(100), nullable=False),
        sa.Column("name_en", sa.String(100), nullable=False),
        sa.Column("description_zh", sa.Text(), nullable=False),
        sa.Column("description_en", sa.Text(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_code", "group_code"],
            ["option_groups.model_code", "option_groups.code"],
            name="fk_options_group_option_groups",
        ),
        sa.PrimaryKeyConstraint("model_code", "code", name=op.f("pk_options")),
    )
    op.create_table(
        "option_rules",
        sa.Column("model_code", sa.String(32), nullable=False),
        sa.Column("code", sa.String(60), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("option_code", sa.String(40), nullable=False),
        sa.Column("targets", sa.JSON(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_code"], ["models.code"], name=op.f("fk_option_rules_model_code_models")
        ),
        sa.PrimaryKeyConstraint("model_code", "code", name=op.f("pk_option_rules")),
    )
    op.create_table(
        "price_books",
        sa.Column("code", sa.String(40), nullable=False),
        sa.Column("model_code", sa.String(32), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("effective_from", UtcDateTime(), nullable=False),
        sa.Column("effective_to", UtcDateTime(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_code"], ["models.code"], name=op.f("fk_price_books_model_code_models")
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_price_books")),
    )
    with op.batch_alter_table("price_books") as batch_op:
        batch_op.create_index(
            batch_op.f("ix_price_books_model_code"), ["model_code"], unique=False
        )
    op.create_table(
        "price_book_entries",
        sa.Column("price_book_code", sa.String(40), nullable=False),
        sa.Column("item_kind", sa.String(10), nullable=False),
        sa.Column("item_code", sa.String(40), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["price_book_code"],
            ["price_books.code"],
            name=op.f("fk_price_book_entries_price_book_code_price_books"),
        ),
        sa.PrimaryKeyConstraint(
            "price_book_code", "item_kind", "item_code", name=op.f("pk_price_book_entries")
        ),
    )
    op.create_table(
        "deposit_terms",
        sa.Column("code", sa.String(40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("title_zh", sa.String(200), nullable=False),
        sa.Column("title_en", sa.String(200), nullable=False),
        sa.Column("body_zh", sa.Text(), nullable=False),
        sa.Column("body_en", sa.Text(), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("effective_from", UtcDateTime(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("code", "version", name=op.f("pk_deposit_terms")),
    )
    op.create_table(
        "configurations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("code", sa.String(14), nullable=False),
        sa.Column("model_code", sa.String(32), nullable=False),
        sa.Column("trim_code", sa.String(32), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("base_price", sa.BigInteger(), nullable=False),
        sa.Column("options_price", sa.BigInteger(), nullable=False),
        sa.Column("total_price", sa.BigInteger(), nullable=False),
        sa.Column("price_book_code", sa.String(40), nullable=False),
        sa.Column("deposit_terms_code", sa.String(40), nullable=False),
        sa.Column("deposit_terms_version", sa.Integer(), nullable=False),
        sa.Column("deposit_terms_hash", sa.String(64), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("priced_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_code"], ["models.code"], name=op.f("fk_configurations_model_code_models")
        ),
        sa.ForeignKeyConstraint(
            ["model_code", "trim_code"],
            ["trims.model_code", "trims.code"],
            name="fk_configurations_trim_trims",
        ),
        sa.ForeignKeyConstraint(
            ["price_book_code"],
            ["price_books.code"],
            name=op.f("fk_configurations_price_book_code_price_books"),
        ),
        sa.ForeignKeyConstraint(
            ["deposit_terms_code", "deposit_terms_version"],
            ["deposit_terms.code", "deposit_terms.version"],
            name="fk_configurations_terms_deposit_terms",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_configurations")),
        sa.UniqueConstraint("code", name=op.f("uq_configurations_code")),
    )


def downgrade() -> None:
    op.drop_table("configurations")
    op.drop_table("deposit_terms")
    op.drop_table("price_book_entries")
    with op.batch_alter_table("price_books") as batch_op:
        batch_op.drop_index(batch_op.f("ix_price_books_model_code"))
    op.drop_table("price_books")
    op.drop_table("option_rules")
    op.drop_table("options")
    op.drop_table("option_groups")
    op.drop_table("trims")
    op.drop_table("models")
