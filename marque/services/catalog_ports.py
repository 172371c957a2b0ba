"""What the catalogue use cases need from storage: the CatalogRepository port."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from marque.domain.catalog import DepositTerms, Model, PriceBook, PricedConfiguration


class CatalogRepository(Protocol):
    # -- reading the catalogue ------------------------------------------------------------
    def list_models(self) -> list[Model]:
        """Every model with its trims, groups, options and rules, in catalogue order."""
        ...

    def get_model(self, code: str) -> Model | None: ...

    def price_books(self, model_code: str) -> list[PriceBook]:
        """All books of a model, past, present and future."""
        ...

    def deposit_terms(self, codes: Sequence[str]) -> list[DepositTerms]:
        """Every version of the named terms documents."""
        ...

    def get_deposit_terms(self, code: str, version: int) -> DepositTerms | None: ...

    def has_models(self) -> bool: ...

    # -- writing the catalogue (demo seed, admin tools) ----------------------------------
    def add_model(self, model: Model, *, position: int, now: datetime) -> None: ...

    def add_price_book(self, book: PriceBook, *, now: datetime) -> None: ...

    def add_deposit_terms(self, terms: DepositTerms, *, now: datetime) -> None: ...

    # -- configurations -------------------------------------------------------------------
    def add_configuration(self, configuration: PricedConfiguration) -> bool:
        """Store a new configuration; False (and nothing written) if its code exists."""
        ...

    def reprice_configuration(self, configuration: PricedConfiguration) -> None:
        """Replace the prices, price book and terms of the stored configuration of that code."""
        ...

    def get_configuration(self, code: str) -> PricedConfiguration | None: ...
