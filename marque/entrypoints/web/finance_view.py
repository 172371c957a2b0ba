"""What the finance console shows: refunds to watch, an order's books, reconciliation runs."""

from __future__ import annotations

from typing import Any, Final

from marque.domain.errors import N_
from marque.domain.ledger import Account, Posting, PostingKind, balances
from marque.domain.ledger_invariants import Breach, Invariant
from marque.domain.money import Money
from marque.domain.reconciliation import LineKind, MismatchProblem, ReconciliationRun
from marque.domain.refunds import STATUS_LABELS as REFUND_STATUS_LABELS
from marque.domain.refunds import RefundStatus
from marque.entrypoints.web.order_view import REFUND_REASONS, capitalised, when
from marque.i18n import Translator
from marque.services.refunds import RefundView

ACCOUNT_LABELS: Final[dict[Account, str]] = {
    Account.PROVIDER_CLEARING: N_("Provider clearing"),
    Account.CUSTOMER_DEPOSITS: N_("Customer deposits held"),
    Account.REFUNDS_PAYABLE: N_("Refunds payable"),
    Account.FORFEITED_DEPOSITS: N_("Forfeited deposits"),
    Account.COMPENSATION_EXPENSE: N_("Compensation paid"),
    Account.REVENUE: N_("Revenue (applied to the price)"),
    Account.BANK: N_("Bank account (transfers we make)"),
}

POSTING_LABELS: Final[dict[PostingKind, str]] = {
    PostingKind.PAYMENT_CAPTURED: N_("Payment captured"),
    PostingKind.REFUND_REQUESTED: N_("Refund requested"),
    PostingKind.REFUND_SETTLED: N_("Refund settled"),
    PostingKind.REFUND_FAILED: N_("Refund failed"),
    PostingKind.APPLIED_TO_PRICE: N_("Applied to the price"),
    PostingKind.FORFEITED: N_("Deposit forfeited"),
    PostingKind.COMPENSATION: N_("Compensation"),
}

MISMATCH_LABELS: Final[dict[MismatchProblem, str]] = {
    MismatchProblem.MISSING: N_("Missing from our ledger: the provider moved this money"),
    MismatchProblem.EXTRA: N_("Only in our ledger: the provider did not move this money"),
    MismatchProblem.AMOUNT_DIFFERS: N_("The amounts differ"),
}

LINE_LABELS: Final[dict[LineKind, str]] = {
    LineKind.PAYMENT: N_("Payment"),
    LineKind.REFUND: N_("Refund"),
}

INVARIANT_LABELS: Final[dict[Invariant, str]] = {
    Invariant.BALANCED: N_("Every posting balances"),
    Invariant.HELD_NOT_NEGATIVE: N_("No order holds a negative amount"),
    Invariant.ONE_POSTING_PER_CAPTURE: N_("Each captured payment is posted exactly once"),
    Invariant.REFUND_PAID_ONCE: N_("No refund is paid twice"),
    Invariant.REFUND_REQUESTED_ONCE: N_("No refund is asked for twice"),
}


def refund_status_label(status: RefundStatus, _: Translator) -> str:
    return capitalised(_(REFUND_STATUS_LABELS[status]))


def refund_row(view: RefundView, _: Translator) -> dict[str, Any]:
    refund = view.refund
    return {
        "id": refund.id,
        "order_id": refund.order_id,
        "status": str(refund.status),
        "label": refund_status_label(refund.status, _),
        "reason": _(REFUND_REASONS[refund.reason]),
        "amount": refund.amount,
        "compensation": refund.compensation,
        "total": refund.total,
        "expected_by": when(refund.expected_by, _),
        "created": when(refund.created_at, _),
        "next_attempt": when(refund.next_attempt_at, _),
        "attempts": refund.attempts,
        "last_error": refund.last_error,
        "provider_reference": refund.provider_reference,
        "stuck": view.stuck,
        "may_retry": refund.status is RefundStatus.FAILED,
        **compensation_view(view, _),
    }


def compensation_view(view: RefundView, _: Translator) -> dict[str, Any]:
    """The compensation owed on top of a refund (a maker breach returns earnest money twice
    over): the provider returns the deposit, finance records the bank transfer of the rest
    once the deposit is back (``refunds.record_compensation_paid``)."""
    paid = view.compensation_paid
    return {
        "compensation_due": view.compensation_due,
        "may_record_compensation": view.compensation_due
        and view.refund.status is RefundStatus.SUCCEEDED,
        "compensation_paid": None
        if paid is None
        else {"at": when(paid.at, _), "record": paid.reason, "actor": paid.actor},
    }


def entry_side(amount: Money) -> dict[str, Money | None]:
    """A signed amount as debit or credit (positive: debit)."""
    if amount.amount >= 0:
        return {"debit": amount, "credit": None}
    return {"debit": None, "credit": Money(-amount.amount, amount.currency)}


def posting_rows(postings: list[Posting], _: Translator) -> list[dict[str, Any]]:
    return [
        {
            "reference": posting.reference,
            "kind": str(posting.kind),
            "label": _(POSTING_LABELS[posting.kind]),
            "at": when(posting.at, _),
            "entries": [
                {
                    "account": _(ACCOUNT_LABELS[entry.account]),
                    "account_code": str(entry.account),
                    "order_id": entry.order_id,
                    **entry_side(entry.amount),
                }
                for entry in posting.entries
            ],
        }
        for posting in postings
    ]


def balance_rows(postings: list[Posting], _: Translator) -> list[dict[str, Any]]:
    rows = []
    for (account, order_id, currency), amount in sorted(
        balances(postings).items(),
        key=lambda item: (list(Account).index(item[0][0]), item[0][1] or ""),
    ):
        rows.append(
            {
                "account": _(ACCOUNT_LABELS[account]),
                "account_code": str(account),
                "order_id": order_id,
                **entry_side(Money(amount, currency)),
            }
        )
    return rows


def run_view(run: ReconciliationRun, _: Translator) -> dict[str, Any]:
    return {
        "id": run.id,
        "day": run.day.isoformat(),
        "provider": run.provider,
        "ran_at": when(run.ran_at, _),
        "matched": run.matched,
        "ok": run.ok,
        "mismatches": [
            {
                "problem": str(m.problem),
                "label": _(MISMATCH_LABELS[m.problem]),
                "kind": _(LINE_LABELS[m.kind]),
                "merchant_reference": m.merchant_reference,
                "provider_reference": m.provider_reference,
                "ledger_amount": m.ledger_amount,
                "provider_amount": m.provider_amount,
            }
            for m in run.mismatches
        ],
    }


def breach_view(breach: Breach, _: Translator) -> dict[str, str]:
    return {
        "invariant": str(breach.invariant),
        "label": _(INVARIANT_LABELS[breach.invariant]),
        "subject": breach.subject,
        "detail": breach.detail,
    }


__all__ = [
    "ACCOUNT_LABELS",
    "INVARIANT_LABELS",
    "balance_rows",
    "breach_view",
    "compensation_view",
    "posting_rows",
    "refund_row",
    "refund_status_label",
    "run_view",
]
