"""Request and response bodies of the catalogue API (the public contract, not the tables)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints

from marque.domain.catalog import DepositTerms
from marque.domain.money import Money


class MoneyOut(BaseModel):
    amount: int = Field(description="Minor units (fen for CNY)")
    currency: str = Field(description="ISO 4217 code")

    @classmethod
    def of(cls, money: Money) -> MoneyOut:
        return cls(amount=money.amount, currency=money.currency)


class TermsOut(BaseModel):
    code: str
    version: int
    kind: Literal["intent", "earnest", "advance"]
    amount: MoneyOut
    content_hash: str = Field(description="sha256 over the canonical JSON of the whole document")
    title: str
    body: str
    effective_from: datetime
    rules: dict[str, Any] = Field(description="Structured refund rules the body describes")

    @classmethod
    def of(cls, terms: DepositTerms, locale: str) -> TermsOut:
        return cls(
            code=terms.code,
            version=terms.version,
            kind=terms.kind.value,
            amount=MoneyOut.of(terms.amount),
            content_hash=terms.content_hash,
            title=terms.title.pick(locale),
            body=terms.body.pick(locale),
            effective_from=terms.effective_from,
            rules=terms.rules.to_dict(),
        )


class ModelSummary(BaseModel):
    code: str
    name: str
    body_type: str
    tagline: str
    from_price: MoneyOut
    on_sale_at: datetime | None


class ModelList(BaseModel):
    items: list[ModelSummary]


class PriceBookRef(BaseModel):
    code: str
    effective_from: datetime


class TrimOut(BaseModel):
    code: str
    name: str
    base_price: MoneyOut
    limited_edition: bool
    unit_cap: int | None
    on_sale_at: datetime | None
    deposit_terms: TermsOut


class OptionOut(BaseModel):
    code: str
    name: str
    price: MoneyOut
    description: str


class OptionGroupOut(BaseModel):
    code: str
    name: str
    selection: Literal["one", "optional_one", "many"]
    default_option: str | None
    options: list[OptionOut]


class RuleOut(BaseModel):
    code: str
    kind: Literal["requires", "excludes", "only_with_trim"]
    option: str
    targets: list[str] = Field(description="Option codes, or trim codes for only_with_trim")
    message: str


class ModelDetail(BaseModel):
    code: str
    name: str
    body_type: str
    tagline: str
    currency: str
    on_sale_at: datetime | None
    price_book: PriceBookRef
    trims: list[TrimOut]
    option_groups: list[OptionGroupOut]
    rules: list[RuleOut]
    deposit_terms: TermsOut


OptionCode = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class ConfigurationIn(BaseModel):
    model: str = Field(min_length=1, max_length=64, examples=["arc"])
    trim: str = Field(min_length=1, max_length=64, examples=["founders"])
    options: list[OptionCode] = Field(
        default_factory=list, max_length=100, examples=[["paint-aurora-green", "pack-sound"]]
    )


class ConfiguredOptionOut(BaseModel):
    code: str
    group: str
    name: str
    price: MoneyOut


class ConfigurationOut(BaseModel):
    code: str = Field(examples=["CFG-ABCDEFGHIJ"])
    model: str
    trim: str
    options: list[ConfiguredOptionOut]
    base_price: MoneyOut
    options_price: MoneyOut
    total_price: MoneyOut
    price_book: str = Field(description="Code of the price book the prices come from")
    deposit_terms: TermsOut
    created_at: datetime
