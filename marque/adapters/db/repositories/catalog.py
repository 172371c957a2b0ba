"""SQLAlchemy Core implementation of the CatalogRepository port. Never commits."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, bindparam, exists, insert, select, true, update
from sqlalchemy.engine import RowMapping

from marque.adapters.db.prepared import Prepared
from marque.adapters.db.repositories.inserts import insert_if_absent
from marque.adapters.db.tables.catalog import (
    configurations,
    deposit_terms,
    models,
    option_groups,
    option_rules,
    options,
    price_book_entries,
    price_books,
    trims,
)
from marque.domain.catalog import (
    ConfiguredOption,
    DepositKind,
    DepositRules,
    DepositTerms,
    LocalizedText,
    Model,
    Option,
    OptionGroup,
    OptionRule,
    PriceBook,
    PricedConfiguration,
    RuleKind,
    Selection,
    Trim,
)
from marque.domain.money import Money


def _text(row: RowMapping | Mapping[str, Any], column: str) -> LocalizedText:
    return LocalizedText(zh=row[f"{column}_zh"], en=row[f"{column}_en"])


def _terms(row: RowMapping | Mapping[str, Any]) -> DepositTerms:
    terms = DepositTerms(
        code=row["code"],
        version=row["version"],
        kind=DepositKind(row["kind"]),
        amount=Money(row["amount"], row["currency"]),
        title=_text(row, "title"),
        body=_text(row, "body"),
        rules=DepositRules.from_dict(row["rules"]),
        effective_from=row["effective_from"],
    )
    if terms.content_hash != row["content_hash"]:
        raise RuntimeError(f"deposit terms {terms.code} v{terms.version} were altered in place")
    return terms


#: Read on every configure and, through the cache's misses, by reserve (Prepared: built
#: and compiled once, run on the driver's cursor).
_TERMS_VERSION = Prepared(
    select(deposit_terms).where(
        deposit_terms.c.code == bindparam("code"), deposit_terms.c.version == bindparam("version")
    )
)
_CONFIGURATION = Prepared(select(configurations).where(configurations.c.code == bindparam("code")))


class SqlCatalogRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # -- reading the catalogue ------------------------------------------------------------
    def list_models(self) -> list[Model]:
        return self._load_models(None)

    def get_model(self, code: str) -> Model | None:
        found = self._load_models(code)
        return found[0] if found else None

    def has_models(self) -> bool:
        return bool(self.conn.execute(select(exists().select_from(models))).scalar())

    def _load_models(self, code: str | None) -> list[Model]:
        def where(table: Any) -> ColumnElement[bool]:
            column = table.c.code if table is models else table.c.model_code
            return column == code if code is not None else true()

        def rows(table: Any) -> list[RowMapping]:
            query = select(table).where(where(table)).order_by(table.c.position)
            return list(self.conn.execute(query).mappings())

        model_rows = rows(models)
        if not model_rows:
            return []
        trims_of: dict[str, list[Trim]] = defaultdict(list)
        for row in rows(trims):
            trims_of[row["model_code"]].append(
                Trim(
                    code=row["code"],
                    name=_text(row, "name"),
                    limited_edition=row["limited_edition"],
                    unit_cap=row["unit_cap"],
                    on_sale_at=row["on_sale_at"],
                    deposit_terms_code=row["deposit_terms_code"],
                )
            )
        options_of: dict[tuple[str, str], list[Option]] = defaultdict(list)
        for row in rows(options):
            options_of[(row["model_code"], row["group_code"])].append(
                Option(
                    code=row["code"],
                    group=row["group_code"],
                    name=_text(row, "name"),
                    description=_text(row, "description"),
                )
            )
        groups_of: dict[str, list[OptionGroup]] = defaultdict(list)
        for row in rows(option_groups):
            groups_of[row["model_code"]].append(
                OptionGroup(
                    code=row["code"],
                    name=_text(row, "name"),
                    selection=Selection(row["selection"]),
                    options=tuple(options_of[(row["model_code"], row["code"])]),
                    default_option=row["default_option"],
                )
            )
        rules_of: dict[str, list[OptionRule]] = defaultdict(list)
        for row in rows(option_rules):
            rules_of[row["model_code"]].append(
                OptionRule(
                    code=row["code"],
                    kind=RuleKind(row["kind"]),
                    option=row["option_code"],
                    targets=tuple(row["targets"]),
                )
            )
        return [
            Model(
                code=row["code"],
                name=_text(row, "name"),
                body_type=row["body_type"],
                tagline=_text(row, "tagline"),
                deposit_terms_code=row["deposit_terms_code"],
                trims=tuple(trims_of[row["code"]]),
                option_groups=tuple(groups_of[row["code"]]),
                rules=tuple(rules_of[row["code"]]),
                on_sale_at=row["on_sale_at"],
            )
            for row in model_rows
        ]

    def price_books(self, model_code: str) -> list[PriceBook]:
        books = list(
            self.conn.execute(
                select(price_books).where(price_books.c.model_code == model_code)
            ).mappings()
        )
        if not books:
            return []
        entries: dict[str, dict[str, dict[str, int]]] = defaultdict(
            lambda: {"trim": {}, "option": {}}
        )
        query = select(price_book_entries).where(
            price_book_entries.c.price_book_code.in_([b["code"] for b in books])
        )
        for entry in self.conn.execute(query).mappings():
            entries[entry["price_book_code"]][entry["item_kind"]][entry["item_code"]] = entry[
                "amount"
            ]
        return [
            PriceBook(
                code=b["code"],
                model_code=b["model_code"],
                currency=b["currency"],
                effective_from=b["effective_from"],
                effective_to=b["effective_to"],
                trim_prices=entries[b["code"]]["trim"],
                option_prices=entries[b["code"]]["option"],
            )
            for b in books
        ]

    def deposit_terms(self, codes: Sequence[str]) -> list[DepositTerms]:
        query = (
            select(deposit_terms)
            .where(deposit_terms.c.code.in_(list(codes)))
            .order_by(deposit_terms.c.code, deposit_terms.c.version)
        )
        return [_terms(row) for row in self.conn.execute(query).mappings()]

    def get_deposit_terms(self, code: str, version: int) -> DepositTerms | None:
        return _TERMS_VERSION.one_as(self.conn, {"code": code, "version": version}, _terms)

    # -- writing the catalogue ------------------------------------------------------------
    def add_model(self, model: Model, *, position: int, now: datetime) -> None:
        self.conn.execute(
            insert(models).values(
                code=model.code,
                name_zh=model.name.zh,
                name_en=model.name.en,
                body_type=model.body_type,
                tagline_zh=model.tagline.zh,
                tagline_en=model.tagline.en,
                position=position,
                on_sale_at=model.on_sale_at,
                deposit_terms_code=model.deposit_terms_code,
                created_at=now,
            )
        )
        self.conn.execute(
            insert(trims),
            [
                {
                    "model_code": model.code,
                    "code": trim.code,
                    "name_zh": trim.name.zh,
                    "name_en": trim.name.en,
                    "position": index,
                    "limited_edition": trim.limited_edition,
                    "unit_cap": trim.unit_cap,
                    "on_sale_at": trim.on_sale_at,
                    "deposit_terms_code": trim.deposit_terms_code,
                }
                for index, trim in enumerate(model.trims)
            ],
        )
        self.conn.execute(
            insert(option_groups),
            [
                {
                    "model_code": model.code,
                    "code": group.code,
                    "name_zh": group.name.zh,
                    "name_en": group.name.en,
                    "selection": str(group.selection),
                    "default_option": group.default_option,
                    "position": index,
                }
                for index, group in enumerate(model.option_groups)
            ],
        )
        self.conn.execute(
            insert(options),
            [
                {
                    "model_code": model.code,
                    "code": option.code,
                    "group_code": option.group,
                    "name_zh": option.name.zh,
                    "name_en": option.name.en,
                    "description_zh": option.description.zh,
                    "description_en": option.description.en,
                    "position": index,
                }
                for index, option in enumerate(model.options)
            ],
        )
        if model.rules:
            self.conn.execute(
                insert(option_rules),
                [
                    {
                        "model_code": model.code,
                        "code": rule.code,
                        "kind": str(rule.kind),
                        "option_code": rule.option,
                        "targets": list(rule.targets),
                        "position": index,
                    }
                    for index, rule in enumerate(model.rules)
                ],
            )

    def add_price_book(self, book: PriceBook, *, now: datetime) -> None:
        self.conn.execute(
            insert(price_books).values(
                code=book.code,
                model_code=book.model_code,
                currency=book.currency,
                effective_from=book.effective_from,
                effective_to=book.effective_to,
                created_at=now,
            )
        )
        entries = [
            {"price_book_code": book.code, "item_kind": kind, "item_code": code, "amount": amount}
            for kind, prices in (("trim", book.trim_prices), ("option", book.option_prices))
            for code, amount in prices.items()
        ]
        if entries:
            self.conn.execute(insert(price_book_entries), entries)

    def add_deposit_terms(self, terms: DepositTerms, *, now: datetime) -> None:
        self.conn.execute(
            insert(deposit_terms).values(
                code=terms.code,
                version=terms.version,
                kind=str(terms.kind),
                amount=terms.amount.amount,
                currency=terms.amount.currency,
                title_zh=terms.title.zh,
                title_en=terms.title.en,
                body_zh=terms.body.zh,
                body_en=terms.body.en,
                rules=terms.rules.to_dict(),
                content_hash=terms.content_hash,
                effective_from=terms.effective_from,
                created_at=now,
            )
        )

    # -- configurations -------------------------------------------------------------------
    def add_configuration(self, configuration: PricedConfiguration) -> bool:
        values = {
            "code": configuration.code,
            "model_code": configuration.model_code,
            "trim_code": configuration.trim_code,
            "created_at": configuration.created_at,
            **_pricing_values(configuration),
        }
        return insert_if_absent(self.conn, configurations, values, unique=["code"])

    def reprice_configuration(self, configuration: PricedConfiguration) -> None:
        self.conn.execute(
            update(configurations)
            .where(configurations.c.code == configuration.code)
            .values(**_pricing_values(configuration))
        )

    def get_configuration(self, code: str) -> PricedConfiguration | None:
        row = _CONFIGURATION.first(self.conn, {"code": code})
        if row is None:
            return None
        terms = self.get_deposit_terms(row["deposit_terms_code"], row["deposit_terms_version"])
        assert terms is not None  # a foreign key guarantees it
        currency = row["currency"]
        return PricedConfiguration(
            code=row["code"],
            model_code=row["model_code"],
            trim_code=row["trim_code"],
            options=tuple(
                ConfiguredOption(
                    code=item["code"],
                    group=item["group"],
                    name=LocalizedText(zh=item["name_zh"], en=item["name_en"]),
                    price=Money(item["price"], currency),
                )
                for item in row["options"]
            ),
            base_price=Money(row["base_price"], currency),
            options_price=Money(row["options_price"], currency),
            total_price=Money(row["total_price"], currency),
            price_book_code=row["price_book_code"],
            deposit_terms=terms,
            created_at=row["created_at"],
        )


def _pricing_values(configuration: PricedConfiguration) -> dict[str, Any]:
    return {
        "options": [
            {
                "code": option.code,
                "group": option.group,
                "name_zh": option.name.zh,
                "name_en": option.name.en,
                "price": option.price.amount,
            }
            for option in configuration.options
        ],
        "currency": configuration.total_price.currency,
        "base_price": configuration.base_price.amount,
        "options_price": configuration.options_price.amount,
        "total_price": configuration.total_price.amount,
        "price_book_code": configuration.price_book_code,
        "deposit_terms_code": configuration.deposit_terms.code,
        "deposit_terms_version": configuration.deposit_terms.version,
        "deposit_terms_hash": configuration.deposit_terms.content_hash,
        "priced_at": configuration.created_at,
    }
