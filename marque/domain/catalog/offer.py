"""A model as it is offered at one moment: with the price book and the terms then in force."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from marque.domain.catalog.deposit_terms import DepositTerms
from marque.domain.catalog.entities import Model
from marque.domain.catalog.pricing import PriceBook
from marque.domain.money import Money


@dataclass(frozen=True)
class ModelOffer:
    model: Model
    price_book: PriceBook
    #: The version in force of every terms document the model or one of its trims names.
    terms: Mapping[str, DepositTerms]

    def __post_init__(self) -> None:
        if self.price_book.model_code != self.model.code:
            raise ValueError(f"price book {self.price_book.code!r} is not for {self.model.code!r}")
        wanted = {self.model.deposit_terms_code} | {
            t.deposit_terms_code for t in self.model.trims if t.deposit_terms_code
        }
        missing = wanted - set(self.terms)
        if missing:
            raise ValueError(f"terms {sorted(missing)} of {self.model.code!r} are not in force")

    @property
    def model_terms(self) -> DepositTerms:
        return self.terms[self.model.deposit_terms_code]

    def terms_for(self, trim_code: str) -> DepositTerms:
        """The trim's own terms, else the model's."""
        trim = self.model.trim(trim_code)
        if trim is not None and trim.deposit_terms_code:
            return self.terms[trim.deposit_terms_code]
        return self.model_terms

    @property
    def from_price(self) -> Money | None:
        """The lowest base price of a trim in the book."""
        prices = [
            price
            for trim in self.model.trims
            if (price := self.price_book.trim_price(trim.code)) is not None
        ]
        return min(prices, key=lambda m: m.amount, default=None)
