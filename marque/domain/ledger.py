"""Double-entry ledger: every money movement is one balanced posting, append-only.

Sign convention: an entry's amount is positive for a debit and negative for a credit;
a posting balances when its entries sum to zero in each currency. Accounts are names
with an optional order scope, e.g. ``customer_deposits:O-123``.

    provider_clearing        money the payment provider holds for us
    customer_deposits:<order> money a buyer has paid and we hold (a liability)
    refunds_payable          refunds requested, not yet confirmed by the provider
    forfeited_deposits       earnest money kept under the terms (income)
    compensation_expense     what we pay on top when we breach (earnest returned twice)
    revenue                  deposits applied to the price
    bank                     our bank account: compensation is paid from it by transfer, since
                             a provider refunds at most what it captured
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from marque.domain.errors import N_, MarqueError
from marque.domain.money import Money


class Account(StrEnum):
    PROVIDER_CLEARING = "provider_clearing"
    CUSTOMER_DEPOSITS = "customer_deposits"
    REFUNDS_PAYABLE = "refunds_payable"
    FORFEITED_DEPOSITS = "forfeited_deposits"
    COMPENSATION_EXPENSE = "compensation_expense"
    REVENUE = "revenue"
    BANK = "bank"


class PostingKind(StrEnum):
    PAYMENT_CAPTURED = "payment_captured"
    REFUND_REQUESTED = "refund_requested"
    REFUND_SETTLED = "refund_settled"
    REFUND_FAILED = "refund_failed"
    APPLIED_TO_PRICE = "applied_to_price"
    FORFEITED = "forfeited"
    COMPENSATION = "compensation"


class UnbalancedPosting(MarqueError):
    default_code = "ledger.unbalanced"
    default_message = N_("A posting must balance; it is off by {difference}.")


@dataclass(frozen=True)
class Entry:
    account: Account
    amount: Money  # + debit, - credit
    order_id: str | None = None


@dataclass(frozen=True)
class Posting:
    kind: PostingKind
    entries: tuple[Entry, ...]
    at: datetime
    reference: str  # unique per posting: payment, refund or order event reference
    order_id: str | None = None


def post(
    kind: PostingKind,
    entries: Sequence[Entry],
    *,
    at: datetime,
    reference: str,
    order_id: str | None = None,
) -> Posting:
    """Build a posting, refusing one that does not balance in every currency."""
    if at.tzinfo is None:
        raise ValueError("postings need aware datetimes")
    sums: dict[str, int] = defaultdict(int)
    for entry in entries:
        sums[entry.amount.currency] += entry.amount.amount
    for currency, difference in sums.items():
        if difference:
            raise UnbalancedPosting(difference=Money(difference, currency).format())
    if len(entries) < 2:
        raise ValueError("a posting has at least two entries")
    return Posting(kind, tuple(entries), at, reference, order_id)


def payment_captured(order_id: str, amount: Money, *, at: datetime, reference: str) -> Posting:
    return post(
        PostingKind.PAYMENT_CAPTURED,
        [
            Entry(Account.PROVIDER_CLEARING, amount),
            Entry(Account.CUSTOMER_DEPOSITS, -amount, order_id),
        ],
        at=at,
        reference=reference,
        order_id=order_id,
    )


def refund_requested(
    order_id: str, refund: Money, compensation: Money, *, at: datetime, reference: str
) -> Posting:
    entries = [Entry(Account.CUSTOMER_DEPOSITS, refund, order_id)]
    if compensation.amount:
        entries.append(Entry(Account.COMPENSATION_EXPENSE, compensation, order_id))
    entries.append(Entry(Account.REFUNDS_PAYABLE, -(refund + compensation), order_id))
    return post(
        PostingKind.REFUND_REQUESTED, entries, at=at, reference=reference, order_id=order_id
    )


def refund_settled(order_id: str, total: Money, *, at: datetime, reference: str) -> Posting:
    return post(
        PostingKind.REFUND_SETTLED,
        [
            Entry(Account.REFUNDS_PAYABLE, total, order_id),
            Entry(Account.PROVIDER_CLEARING, -total),
        ],
        at=at,
        reference=reference,
        order_id=order_id,
    )


def compensation_paid(order_id: str, amount: Money, *, at: datetime, reference: str) -> Posting:
    """Compensation owed on top of a refund left our bank account by transfer."""
    return post(
        PostingKind.COMPENSATION,
        [
            Entry(Account.REFUNDS_PAYABLE, amount, order_id),
            Entry(Account.BANK, -amount),
        ],
        at=at,
        reference=reference,
        order_id=order_id,
    )


def forfeited(order_id: str, amount: Money, *, at: datetime, reference: str) -> Posting:
    return post(
        PostingKind.FORFEITED,
        [
            Entry(Account.CUSTOMER_DEPOSITS, amount, order_id),
            Entry(Account.FORFEITED_DEPOSITS, -amount, order_id),
        ],
        at=at,
        reference=reference,
        order_id=order_id,
    )


def applied_to_price(order_id: str, amount: Money, *, at: datetime, reference: str) -> Posting:
    return post(
        PostingKind.APPLIED_TO_PRICE,
        [
            Entry(Account.CUSTOMER_DEPOSITS, amount, order_id),
            Entry(Account.REVENUE, -amount, order_id),
        ],
        at=at,
        reference=reference,
        order_id=order_id,
    )


def balances(postings: Iterable[Posting]) -> dict[tuple[Account, str | None, str], int]:
    """Signed balance per (account, order, currency); credits are negative."""
    totals: dict[tuple[Account, str | None, str], int] = defaultdict(int)
    for posting in postings:
        for entry in posting.entries:
            totals[(entry.account, entry.order_id, entry.amount.currency)] += entry.amount.amount
    return dict(totals)


def held_for_order(postings: Iterable[Posting], order_id: str, currency: str) -> Money:
    """What the maker holds for one order: received - refunded - applied - forfeited."""
    credit = 0
    for posting in postings:
        for entry in posting.entries:
            if (
                entry.account is Account.CUSTOMER_DEPOSITS
                and entry.order_id == order_id
                and entry.amount.currency == currency
            ):
                credit -= entry.amount.amount
    return Money(credit, currency)


__all__ = [
    "Account",
    "Entry",
    "Posting",
    "PostingKind",
    "UnbalancedPosting",
    "applied_to_price",
    "balances",
    "compensation_paid",
    "forfeited",
    "held_for_order",
    "payment_captured",
    "post",
    "refund_requested",
    "refund_settled",
]
