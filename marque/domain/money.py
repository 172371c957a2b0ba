"""Money: integer minor units plus an ISO 4217 currency. Never a float."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from marque.domain.errors import N_, MarqueError

#: Minor units per major unit for the currencies marque prices in.
MINOR_UNITS: Final[dict[str, int]] = {"CNY": 100, "EUR": 100, "USD": 100, "HKD": 100}
SYMBOLS: Final[dict[str, str]] = {"CNY": "¥", "EUR": "€", "USD": "$", "HKD": "HK$"}


class CurrencyMismatch(MarqueError):
    default_code = "money.currency_mismatch"
    default_message = N_("Cannot combine amounts in {left} and {right}.")


@dataclass(frozen=True, order=False, slots=True)
class Money:
    amount: int
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount, int) or isinstance(self.amount, bool):
            raise TypeError(f"Money.amount must be int minor units, got {self.amount!r}")
        if self.currency not in MINOR_UNITS:
            raise ValueError(f"Unsupported currency {self.currency!r}")

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    @classmethod
    def of_major(cls, major: int, currency: str) -> Money:
        """Money from whole major units (yuan): ``Money.of_major(5000, "CNY")``."""
        return cls(major * MINOR_UNITS[currency], currency)

    def _check(self, other: Money) -> None:
        if other.currency != self.currency:
            raise CurrencyMismatch(left=self.currency, right=other.currency)

    def __add__(self, other: Money) -> Money:
        self._check(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._check(other)
        return Money(self.amount - other.amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __mul__(self, factor: int) -> Money:
        if not isinstance(factor, int):
            raise TypeError("Money can only be multiplied by an int")
        return Money(self.amount * factor, self.currency)

    __rmul__ = __mul__

    def __lt__(self, other: Money) -> bool:
        self._check(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._check(other)
        return self.amount <= other.amount

    def __gt__(self, other: Money) -> bool:
        self._check(other)
        return self.amount > other.amount

    def __ge__(self, other: Money) -> bool:
        self._check(other)
        return self.amount >= other.amount

    def fraction(self, numerator: int, denominator: int) -> Money:
        """This amount times numerator/denominator, rounded down to a minor unit."""
        return Money(self.amount * numerator // denominator, self.currency)

    def format(self) -> str:
        """``¥5,000.00``: for display only, never parsed back."""
        per = MINOR_UNITS[self.currency]
        sign = "-" if self.amount < 0 else ""
        major, minor = divmod(abs(self.amount), per)
        return f"{sign}{SYMBOLS[self.currency]}{major:,}.{minor:02d}"

    def __str__(self) -> str:
        return self.format()


def total(amounts: list[Money], currency: str) -> Money:
    result = Money.zero(currency)
    for amount in amounts:
        result = result + amount
    return result


__all__ = ["CurrencyMismatch", "MINOR_UNITS", "Money", "total"]
