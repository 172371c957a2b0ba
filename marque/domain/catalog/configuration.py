"""A priced configuration: what the buyer chose, what it costs and which terms apply."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from marque.domain.catalog.codes import MESSAGES, CatalogErrorCode
from marque.domain.catalog.deposit_terms import DepositTerms
from marque.domain.catalog.entities import LocalizedText
from marque.domain.catalog.offer import ModelOffer
from marque.domain.catalog.pricing import configuration_code
from marque.domain.catalog.rules import validate_configuration
from marque.domain.errors import ValidationFailed
from marque.domain.money import Money, total


@dataclass(frozen=True, slots=True)
class ConfiguredOption:
    code: str
    group: str
    name: LocalizedText
    price: Money


@dataclass(frozen=True)
class PricedConfiguration:
    code: str
    model_code: str
    trim_code: str
    options: tuple[ConfiguredOption, ...]
    base_price: Money
    options_price: Money
    total_price: Money
    price_book_code: str
    deposit_terms: DepositTerms
    created_at: datetime

    def __post_init__(self) -> None:
        if self.base_price + self.options_price != self.total_price:
            raise ValueError("total price must be the base price plus the options")

    @property
    def option_codes(self) -> tuple[str, ...]:
        return tuple(option.code for option in self.options)

    def same_pricing(self, other: PricedConfiguration) -> bool:
        """True when ``other`` has the same prices, price book and terms version."""
        return (
            self.options == other.options
            and self.total_price == other.total_price
            and self.price_book_code == other.price_book_code
            and self.deposit_terms.content_hash == other.deposit_terms.content_hash
        )


def configure(
    offer: ModelOffer, trim_code: str, options: Sequence[str], *, now: datetime
) -> PricedConfiguration:
    """Validate and price the choices, or raise ValidationFailed listing every violation."""
    violations = validate_configuration(offer, trim_code, options)
    if violations:
        raise ValidationFailed(
            violations,
            MESSAGES[CatalogErrorCode.CONFIGURATION_INVALID],
            code=CatalogErrorCode.CONFIGURATION_INVALID,
            model=offer.model.code,
        )
    model, book = offer.model, offer.price_book
    resolved = set(model.resolve_options(options))
    chosen = tuple(
        ConfiguredOption(option.code, group.code, option.name, book.option_price(option.code))
        for group in model.option_groups
        for option in group.options
        if option.code in resolved
    )
    base = book.trim_price(trim_code)
    assert base is not None  # validate_configuration reports an unpriced trim
    options_price = total([option.price for option in chosen], book.currency)
    return PricedConfiguration(
        code=configuration_code(model.code, trim_code, resolved),
        model_code=model.code,
        trim_code=trim_code,
        options=chosen,
        base_price=base,
        options_price=options_price,
        total_price=base + options_price,
        price_book_code=book.code,
        deposit_terms=offer.terms_for(trim_code),
        created_at=now,
    )
