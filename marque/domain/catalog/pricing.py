"""Price books and the stable code of a configuration."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from marque.domain.money import Money


@dataclass(frozen=True)
class PriceBook:
    """The prices of one model's trims and options in one currency for a period.

    An option the book does not list costs nothing (it is standard equipment).
    """

    code: str
    model_code: str
    currency: str
    effective_from: datetime
    effective_to: datetime | None
    trim_prices: Mapping[str, int] = field(default_factory=dict)  # minor units
    option_prices: Mapping[str, int] = field(default_factory=dict)  # minor units

    def __post_init__(self) -> None:
        if self.effective_from.tzinfo is None:
            raise ValueError("price book dates must be aware datetimes")
        if self.effective_to is not None and self.effective_to <= self.effective_from:
            raise ValueError(f"price book {self.code!r} ends before it starts")
        if any(v < 0 for v in (*self.trim_prices.values(), *self.option_prices.values())):
            raise ValueError(f"price book {self.code!r} has a negative price")
        Money.zero(self.currency)  # refuses an unsupported currency

    def in_force(self, now: datetime) -> bool:
        return self.effective_from <= now and (self.effective_to is None or now < self.effective_to)

    def trim_price(self, trim_code: str) -> Money | None:
        amount = self.trim_prices.get(trim_code)
        return None if amount is None else Money(amount, self.currency)

    def option_price(self, option_code: str) -> Money:
        return Money(self.option_prices.get(option_code, 0), self.currency)

    @staticmethod
    def current(books: Iterable[PriceBook], now: datetime) -> PriceBook | None:
        """The book in force at ``now``; when periods overlap, the one that started last."""
        in_force = [book for book in books if book.in_force(now)]
        return max(in_force, key=lambda b: (b.effective_from, b.code), default=None)


def configuration_code(model_code: str, trim_code: str, resolved_options: Iterable[str]) -> str:
    """``CFG-`` + 10 base32 characters of sha256 over the model, the trim and the sorted
    resolved option codes. Order and repetition of the options never change the code."""
    canonical = "\n".join([model_code, trim_code, ",".join(sorted(set(resolved_options)))])
    digest = hashlib.sha256(canonical.encode("utf-8")).digest()
    return "CFG-" + base64.b32encode(digest).decode("ascii")[:10]
