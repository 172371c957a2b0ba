"""Catalogue tables: models, trims, option groups, options, rules, price books, deposit terms,
and the priced configurations that later orders refer to by code."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    ForeignKeyConstraint,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from marque.adapters.db.metadata import UtcDateTime, metadata

models = Table(
    "models",
    metadata,
    Column("code", String(32), primary_key=True),
    Column("name_zh", String(100), nullable=False),
    Column("name_en", String(100), nullable=False),
    Column("body_type", String(20), nullable=False),
    Column("tagline_zh", String(200), nullable=False),
    Column("tagline_en", String(200), nullable=False),
    Column("position", Integer, nullable=False),
    Column("on_sale_at", UtcDateTime, nullable=True),
    Column("deposit_terms_code", String(40), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

trims = Table(
    "trims",
    metadata,
    Column("model_code", String(32), ForeignKey("models.code"), primary_key=True),
    Column("code", String(32), primary_key=True),
    Column("name_zh", String(100), nullable=False),
    Column("name_en", String(100), nullable=False),
    Column("position", Integer, nullable=False),
    Column("limited_edition", Boolean, nullable=False),
    Column("unit_cap", Integer, nullable=True),
    Column("on_sale_at", UtcDateTime, nullable=True),
    Column("deposit_terms_code", String(40), nullable=True),
)

option_groups = Table(
    "option_groups",
    metadata,
    Column("model_code", String(32), ForeignKey("models.code"), primary_key=True),
    Column("code", String(32), primary_key=True),
    Column("name_zh", String(100), nullable=False),
    Column("name_en", String(100), nullable=False),
    Column("selection", String(20), nullable=False),
    Column("default_option", String(40), nullable=True),
    Column("position", Integer, nullable=False),
)

options = Table(
    "options",
    metadata,
    Column("model_code", String(32), primary_key=True),
    Column("code", String(40), primary_key=True),
    Column("group_code", String(32), nullable=False),
    Column("name_zh", String(100), nullable=False),
    Column("name_en", String(100), nullable=False),
    Column("description_zh", Text, nullable=False),
    Column("description_en", Text, nullable=False),
    Column("position", Integer, nullable=False),
    ForeignKeyConstraint(
        ["model_code", "group_code"],
        ["option_groups.model_code", "option_groups.code"],
        name="fk_options_group_option_groups",
    ),
)

option_rules = Table(
    "option_rules",
    metadata,
    Column("model_code", String(32), ForeignKey("models.code"), primary_key=True),
    Column("code", String(60), primary_key=True),
    Column("kind", String(20), nullable=False),
    Column("option_code", String(40), nullable=False),
    Column("targets", JSON, nullable=False),
    Column("position", Integer, nullable=False),
)

price_books = Table(
    "price_books",
    metadata,
    Column("code", String(40), primary_key=True),
    Column("model_code", String(32), ForeignKey("models.code"), nullable=False, index=True),
    Column("currency", String(3), nullable=False),
    Column("effective_from", UtcDateTime, nullable=False),
    Column("effective_to", UtcDateTime, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
)

price_book_entries = Table(
    "price_book_entries",
    metadata,
    Column("price_book_code", String(40), ForeignKey("price_books.code"), primary_key=True),
    Column("item_kind", String(10), primary_key=True),  # "trim" or "option"
    Column("item_code", String(40), primary_key=True),
    Column("amount", BigInteger, nullable=False),  # minor units of the book's currency
)

deposit_terms = Table(
    "deposit_terms",
    metadata,
    Column("code", String(40), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("kind", String(10), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("title_zh", String(200), nullable=False),
    Column("title_en", String(200), nullable=False),
    Column("body_zh", Text, nullable=False),
    Column("body_en", Text, nullable=False),
    Column("rules", JSON, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("effective_from", UtcDateTime, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

configurations = Table(
    "configurations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("code", String(14), nullable=False),
    Column("model_code", String(32), ForeignKey("models.code"), nullable=False),
    Column("trim_code", String(32), nullable=False),
    # [{"code", "group", "name_zh", "name_en", "price"}], in catalogue order
    Column("options", JSON, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("base_price", BigInteger, nullable=False),
    Column("options_price", BigInteger, nullable=False),
    Column("total_price", BigInteger, nullable=False),
    Column("price_book_code", String(40), ForeignKey("price_books.code"), nullable=False),
    Column("deposit_terms_code", String(40), nullable=False),
    Column("deposit_terms_version", Integer, nullable=False),
    Column("deposit_terms_hash", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("priced_at", UtcDateTime, nullable=False),
    UniqueConstraint("code"),
    ForeignKeyConstraint(
        ["model_code", "trim_code"],
        ["trims.model_code", "trims.code"],
        name="fk_configurations_trim_trims",
    ),
    ForeignKeyConstraint(
        ["deposit_terms_code", "deposit_terms_version"],
        ["deposit_terms.code", "deposit_terms.version"],
        name="fk_configurations_terms_deposit_terms",
    ),
)
