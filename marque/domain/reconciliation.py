"""Reconciliation: do our books and the provider's settlement report tell the same story?

Lines are matched by kind (payment or refund) and our merchant reference (the payment or
refund id marque gave the provider). Several lines for one reference are added up first,
so money posted twice shows up as an amount that differs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from marque.domain.money import Money


class LineKind(StrEnum):
    PAYMENT = "payment"
    REFUND = "refund"


class MismatchProblem(StrEnum):
    MISSING = "missing"  # the provider moved money our ledger does not show
    EXTRA = "extra"  # our ledger shows money the provider did not move
    AMOUNT_DIFFERS = "amount_differs"


@dataclass(frozen=True)
class BookLine:
    """One captured payment or settled refund as our ledger has it."""

    kind: LineKind
    merchant_reference: str
    amount: Money


@dataclass(frozen=True)
class ProviderLine:
    kind: LineKind
    merchant_reference: str
    provider_reference: str
    amount: Money


@dataclass(frozen=True)
class Mismatch:
    problem: MismatchProblem
    kind: LineKind
    merchant_reference: str
    provider_reference: str | None
    ledger_amount: Money | None
    provider_amount: Money | None

    def describe(self) -> str:
        ours = self.ledger_amount.format() if self.ledger_amount else "-"
        theirs = self.provider_amount.format() if self.provider_amount else "-"
        return (
            f"{self.problem}: {self.kind} {self.merchant_reference} "
            f"(provider {self.provider_reference or '-'}): ledger {ours}, provider {theirs}"
        )


@dataclass(frozen=True)
class ReconciliationRun:
    day: date
    provider: str
    ran_at: datetime
    matched: int
    mismatches: tuple[Mismatch, ...]
    id: int | None = None

    @property
    def ok(self) -> bool:
        return not self.mismatches


def _summed(lines: Iterable[BookLine | ProviderLine]) -> dict[tuple[LineKind, str], Money]:
    sums: dict[tuple[LineKind, str], Money] = {}
    for line in lines:
        key = (line.kind, line.merchant_reference)
        sums[key] = sums[key] + line.amount if key in sums else line.amount
    return sums


def reconcile(
    book: Sequence[BookLine], provider: Sequence[ProviderLine]
) -> tuple[int, list[Mismatch]]:
    """How many references match exactly, and every mismatch, sorted by reference."""
    ours = _summed(book)
    theirs = _summed(provider)
    provider_refs: dict[tuple[LineKind, str], list[str]] = defaultdict(list)
    for line in provider:
        provider_refs[(line.kind, line.merchant_reference)].append(line.provider_reference)
    matched = 0
    mismatches: list[Mismatch] = []
    for key in sorted(set(ours) | set(theirs)):
        kind, reference = key
        mine, other = ours.get(key), theirs.get(key)
        provider_ref = ",".join(provider_refs.get(key, [])) or None
        if mine is not None and other is not None and mine == other:
            matched += 1
            continue
        if mine is None:
            problem = MismatchProblem.MISSING
        elif other is None:
            problem = MismatchProblem.EXTRA
        else:
            problem = MismatchProblem.AMOUNT_DIFFERS
        mismatches.append(Mismatch(problem, kind, reference, provider_ref, mine, other))
    return matched, mismatches


__all__ = [
    "BookLine",
    "LineKind",
    "Mismatch",
    "MismatchProblem",
    "ProviderLine",
    "ReconciliationRun",
    "reconcile",
]
