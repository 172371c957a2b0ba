"""The append-only ledger, its invariant checks, and stored reconciliation runs. Never commits.

A posting's reference is unique: ``add`` inserts with ON CONFLICT DO NOTHING and reports
whether it wrote, so the same money movement is never posted twice. The invariant checks
are SQL aggregates so they stay cheap on a launch's worth of orders.

What the payment webhook and an order's pages run (posting, an order's postings and held
balance) is ``Prepared`` (adapters/db/prepared.py); the invariant checks and reconciliation
runs stay on Core, run by workers and staff.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from functools import cache
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite

from marque.adapters.db.prepared import Prepared, Row, bound
from marque.adapters.db.tables.orders import (
    ledger_entries,
    ledger_postings,
    payments,
    reconciliation_mismatches,
    reconciliations,
    refunds,
)
from marque.domain.ledger import Account, Entry, Posting, PostingKind
from marque.domain.ledger_invariants import Breach, Invariant
from marque.domain.money import Money
from marque.domain.order_entities import PaymentStatus
from marque.domain.reconciliation import (
    BookLine,
    LineKind,
    Mismatch,
    MismatchProblem,
    ReconciliationRun,
)
from marque.domain.refunds import RefundStatus

P, E = ledger_postings, ledger_entries

_POSTING_COLUMNS = ("reference", "kind", "order_id", "source_id", "at", "created_at")
_ENTRY_COLUMNS = ("account", "order_id", "amount", "currency")


def _add_posting(insert_of: Any) -> Prepared:
    """The posting unless its reference exists; RETURNING its id, not the row count (which
    the drivers do not give reliably with ON CONFLICT)."""
    return Prepared(
        insert_of(P)
        .values(bound(*_POSTING_COLUMNS))
        .on_conflict_do_nothing(index_elements=["reference"])
        .returning(P.c.id)
    )


#: By dialect: ON CONFLICT is written by each dialect's own ``insert``.
_ADD_POSTING = {
    "postgresql": _add_posting(postgresql.insert),
    "sqlite": _add_posting(sqlite.insert),
}


@cache
def _add_entries(count: int) -> Prepared:
    """A posting's ``count`` entries in one multi-row INSERT (one round trip, as the
    executemany it replaces); entry i's values are bound as ``b_<column>_<i>``."""
    rows: list[dict[str, Any]] = [
        {
            "posting_id": bindparam("b_posting_id"),
            **{column: bindparam(f"b_{column}_{i}") for column in _ENTRY_COLUMNS},
        }
        for i in range(count)
    ]
    return Prepared(insert(E).values(rows))


_POSTINGS_OF_ORDER = Prepared(
    select(
        P.c.id,
        P.c.reference,
        P.c.kind,
        P.c.order_id,
        P.c.at,
        E.c.account,
        E.c.order_id.label("entry_order"),
        E.c.amount,
        E.c.currency,
    )
    .join(E, E.c.posting_id == P.c.id)
    .where(P.c.order_id == bindparam("order_id"))
    .order_by(P.c.id, E.c.id)
)
_HELD = Prepared(
    select(func.coalesce(func.sum(E.c.amount), 0).label("total")).where(
        E.c.account == str(Account.CUSTOMER_DEPOSITS),
        E.c.order_id == bindparam("order_id"),
        E.c.currency == bindparam("currency"),
    )
)
#: Posting kinds reconciliation compares with the provider's statement.
_BOOK_KINDS = {
    str(PostingKind.PAYMENT_CAPTURED): LineKind.PAYMENT,
    str(PostingKind.REFUND_SETTLED): LineKind.REFUND,
}
_BOOK_LINES = Prepared(
    select(P.c.kind, P.c.source_id, E.c.amount, E.c.currency)
    .join(E, E.c.posting_id == P.c.id)
    .where(
        P.c.at >= bindparam("start"),
        P.c.at < bindparam("end"),
        P.c.kind.in_([bindparam(f"kind_{kind}", kind) for kind in _BOOK_KINDS]),
        E.c.account == str(Account.PROVIDER_CLEARING),
    )
    .order_by(P.c.id)
)


class SqlLedgerRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, posting: Posting, *, source_id: str | None, now: datetime) -> bool:
        posting_id = _ADD_POSTING[self.conn.dialect.name].scalar(
            self.conn,
            {
                "b_reference": posting.reference,
                "b_kind": str(posting.kind),
                "b_order_id": posting.order_id,
                "b_source_id": source_id,
                "b_at": posting.at,
                "b_created_at": now,
            },
        )
        if posting_id is None:
            return False
        params: dict[str, Any] = {"b_posting_id": posting_id}
        for i, entry in enumerate(posting.entries):
            params[f"b_account_{i}"] = str(entry.account)
            params[f"b_order_id_{i}"] = entry.order_id
            params[f"b_amount_{i}"] = entry.amount.amount
            params[f"b_currency_{i}"] = entry.amount.currency
        _add_entries(len(posting.entries)).run(self.conn, params)
        return True

    def for_order(self, order_id: str) -> list[Posting]:
        grouped: dict[int, list[Row]] = defaultdict(list)
        heads: dict[int, Row] = {}
        for row in _POSTINGS_OF_ORDER.rows(self.conn, {"order_id": order_id}):
            heads.setdefault(row["id"], row)
            grouped[row["id"]].append(row)
        return [
            Posting(
                kind=PostingKind(head["kind"]),
                entries=tuple(
                    Entry(
                        Account(r["account"]),
                        Money(int(r["amount"]), r["currency"]),
                        r["entry_order"],
                    )
                    for r in grouped[posting_id]
                ),
                at=head["at"],
                reference=head["reference"],
                order_id=head["order_id"],
            )
            for posting_id, head in heads.items()
        ]

    def held(self, order_id: str, currency: str) -> Money:
        total = _HELD.scalar(self.conn, {"order_id": order_id, "currency": currency})
        return Money(-int(total), currency)

    def book_lines(self, start: datetime, end: datetime) -> list[BookLine]:
        return [
            BookLine(
                _BOOK_KINDS[row["kind"]],
                row["source_id"] or "",
                Money(abs(int(row["amount"])), row["currency"]),
            )
            for row in _BOOK_LINES.rows(self.conn, {"start": start, "end": end})
        ]

    # -- invariants --------------------------------------------------------------------
    def breaches(self) -> list[Breach]:
        found = self._unbalanced() + self._negative_holdings()
        found += self._captures()
        found += self._once_per_refund(PostingKind.REFUND_SETTLED, Invariant.REFUND_PAID_ONCE)
        found += self._once_per_refund(
            PostingKind.REFUND_REQUESTED, Invariant.REFUND_REQUESTED_ONCE
        )
        found += self._settled_refunds_match_status()
        return found

    def _unbalanced(self) -> list[Breach]:
        total = func.sum(E.c.amount)
        query = (
            select(P.c.reference, E.c.currency, total.label("off"))
            .join(E, E.c.posting_id == P.c.id)
            .group_by(P.c.id, P.c.reference, E.c.currency)
            .having(total != 0)
        )
        return [
            Breach(Invariant.BALANCED, row.reference, f"entries sum to {row.off} {row.currency}")
            for row in self.conn.execute(query)
        ]

    def _negative_holdings(self) -> list[Breach]:
        total = func.sum(E.c.amount)
        query = (
            select(E.c.order_id, E.c.currency, total.label("net"))
            .where(E.c.account == str(Account.CUSTOMER_DEPOSITS))
            .group_by(E.c.order_id, E.c.currency)
            .having(total > 0)
        )
        return [
            Breach(
                Invariant.HELD_NOT_NEGATIVE,
                str(row.order_id),
                f"held {Money(-int(row.net), row.currency).format()}",
            )
            for row in self.conn.execute(query)
        ]

    def _captures(self) -> list[Breach]:
        captured_postings = (
            select(P.c.source_id, func.count().label("n"))
            .where(P.c.kind == str(PostingKind.PAYMENT_CAPTURED))
            .group_by(P.c.source_id)
            .subquery()
        )
        query = select(payments.c.id, payments.c.status, captured_postings.c.n).join(
            captured_postings, captured_postings.c.source_id == payments.c.id, isouter=True
        )
        breaches = []
        for row in self.conn.execute(query):
            count = int(row.n or 0)
            captured = row.status == str(PaymentStatus.SUCCEEDED)
            if (captured and count != 1) or (not captured and count):
                breaches.append(
                    Breach(
                        Invariant.ONE_POSTING_PER_CAPTURE,
                        row.id,
                        f"payment is {row.status} with {count} payment_captured posting(s)",
                    )
                )
        orphans = select(P.c.reference, P.c.source_id).where(
            P.c.kind == str(PostingKind.PAYMENT_CAPTURED),
            ~P.c.source_id.in_(select(payments.c.id)) | P.c.source_id.is_(None),
        )
        breaches += [
            Breach(Invariant.ONE_POSTING_PER_CAPTURE, row.reference, "posting names no payment")
            for row in self.conn.execute(orphans)
        ]
        return breaches

    def _once_per_refund(self, kind: PostingKind, invariant: Invariant) -> list[Breach]:
        count = func.count()
        query = (
            select(P.c.source_id, count.label("n"))
            .where(P.c.kind == str(kind))
            .group_by(P.c.source_id)
            .having(count > 1)
        )
        return [
            Breach(invariant, str(row.source_id), f"{row.n} {kind} postings")
            for row in self.conn.execute(query)
        ]

    def _settled_refunds_match_status(self) -> list[Breach]:
        settled = (
            select(P.c.source_id)
            .where(P.c.kind == str(PostingKind.REFUND_SETTLED))
            .group_by(P.c.source_id)
            .subquery()
        )
        query = select(refunds.c.id, refunds.c.status, settled.c.source_id).join(
            settled, settled.c.source_id == refunds.c.id, isouter=True
        )
        breaches = []
        for row in self.conn.execute(query):
            succeeded = row.status == str(RefundStatus.SUCCEEDED)
            posted = row.source_id is not None
            if succeeded != posted:
                detail = (
                    "refund succeeded without a refund_settled posting"
                    if succeeded
                    else f"refund is {row.status} but a refund_settled posting exists"
                )
                breaches.append(Breach(Invariant.REFUND_PAID_ONCE, row.id, detail))
        return breaches


class SqlReconciliationRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, run: ReconciliationRun) -> int:
        run_id = self.conn.execute(
            insert(reconciliations)
            .values(
                day=run.day,
                provider=run.provider,
                ran_at=run.ran_at,
                matched=run.matched,
                mismatches=len(run.mismatches),
            )
            .returning(reconciliations.c.id)
        ).scalar_one()
        if run.mismatches:
            self.conn.execute(
                insert(reconciliation_mismatches),
                [
                    {
                        "reconciliation_id": run_id,
                        "problem": str(m.problem),
                        "kind": str(m.kind),
                        "merchant_reference": m.merchant_reference[:64],
                        "provider_reference": (m.provider_reference or None)
                        and m.provider_reference[:64],
                        "ledger_amount": m.ledger_amount.amount if m.ledger_amount else None,
                        "provider_amount": m.provider_amount.amount if m.provider_amount else None,
                        "currency": (
                            m.ledger_amount or m.provider_amount or Money(0, "CNY")
                        ).currency,
                    }
                    for m in run.mismatches
                ],
            )
        return int(run_id)

    def latest(self, day: date | None, limit: int) -> list[ReconciliationRun]:
        query = select(reconciliations)
        if day is not None:
            query = query.where(reconciliations.c.day == day)
        query = query.order_by(reconciliations.c.id.desc()).limit(limit)
        runs = list(self.conn.execute(query).mappings())
        if not runs:
            return []
        ids = [row["id"] for row in runs]
        m = reconciliation_mismatches
        items: dict[int, list[Mismatch]] = defaultdict(list)
        for row in self.conn.execute(
            select(m).where(m.c.reconciliation_id.in_(ids)).order_by(m.c.id)
        ).mappings():
            currency = row["currency"]
            items[row["reconciliation_id"]].append(
                Mismatch(
                    problem=MismatchProblem(row["problem"]),
                    kind=LineKind(row["kind"]),
                    merchant_reference=row["merchant_reference"],
                    provider_reference=row["provider_reference"],
                    ledger_amount=_money(row["ledger_amount"], currency),
                    provider_amount=_money(row["provider_amount"], currency),
                )
            )
        return [
            ReconciliationRun(
                id=row["id"],
                day=row["day"],
                provider=row["provider"],
                ran_at=row["ran_at"],
                matched=row["matched"],
                mismatches=tuple(items[row["id"]]),
            )
            for row in runs
        ]


def _money(amount: int | None, currency: str) -> Money | None:
    return None if amount is None else Money(int(amount), currency)


__all__ = ["SqlLedgerRepository", "SqlReconciliationRepository"]
