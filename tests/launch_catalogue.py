"""A limited edition of its own for launch-night tests: a copy of the demo sedan under a
random model code with a plain trim (``standard``) and a limited edition (``founders``, by
default under the demo's founders terms: 20,000 CNY earnest money, locked on payment).

Its price book starts at ``effective_from`` (default 2080, so that the live servers of other
tests, on real time, never offer it). Used by tests/integration and tests/e2e.
"""

from __future__ import annotations

import dataclasses
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from marque.bootstrap import Container
from marque.domain.catalog import LocalizedText, PriceBook, Trim
from marque.services.demo_catalog import demo_catalogue
from marque.services.demo_deposit_terms import FOUNDERS_TERMS_CODE

FAR = datetime(2080, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Edition:
    model_code: str
    cap: int

    @property
    def founders(self) -> tuple[str, str, list[str]]:
        return (self.model_code, "founders", ["paint-aurora-green"])

    def founders_in(self, paint: str) -> tuple[str, str, list[str]]:
        return (self.model_code, "founders", [paint])

    def standard(self, paint: str = "paint-graphite") -> tuple[str, str, list[str]]:
        return (self.model_code, "standard", [paint])


def add_edition(
    container: Container,
    *,
    cap: int,
    on_sale_at: datetime | None = None,
    founders_on_sale_at: datetime | None = None,
    effective_from: datetime = FAR,
    founders_terms: bool = True,
) -> Edition:
    """A new model with a plain trim and a limited edition of ``cap`` units (under the
    founders terms, or with ``founders_terms=False`` under the model's own, so that an order
    may change between the two)."""
    demo = demo_catalogue()
    arc = demo.offer("arc").model
    code = f"le{secrets.token_hex(5)}"
    model = dataclasses.replace(
        arc,
        code=code,
        name=LocalizedText("限量测试", f"Edition test {code}"),
        trims=(
            Trim("standard", LocalizedText("标准版", "Standard"), on_sale_at=on_sale_at),
            Trim(
                "founders",
                LocalizedText("创始版", "Founders"),
                limited_edition=True,
                unit_cap=cap,
                on_sale_at=founders_on_sale_at,
                deposit_terms_code=FOUNDERS_TERMS_CODE if founders_terms else None,
            ),
        ),
        rules=(),
        on_sale_at=on_sale_at,
    )
    arc_book = demo.offer("arc").price_book
    book = PriceBook(
        code=f"{code}-book",
        model_code=code,
        currency="CNY",
        effective_from=effective_from,
        effective_to=None,
        trim_prices={"standard": 21_590_000, "founders": 29_990_000},
        option_prices=dict(arc_book.option_prices),
    )
    with container.uow() as uow:
        uow.catalog.add_model(model, position=1000, now=effective_from)
        uow.catalog.add_price_book(book, now=effective_from)
        uow.commit()
    return Edition(code, cap)


__all__ = ["FAR", "Edition", "add_edition"]
