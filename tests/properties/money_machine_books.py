"""The books read straight from the tables: a second, independent reading of the rows that
``marque ledger check`` reads, with the provider's own records beside them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, func, select
from sqlalchemy.sql import Executable

from marque.adapters.db.tables.orders import ledger_entries as E
from marque.adapters.db.tables.orders import ledger_postings as P
from marque.adapters.db.tables.orders import orders, outbox, payments, refunds
from marque.adapters.db.tables.sandbox_payments import (
    sandbox_payments,
    sandbox_refunds,
    sandbox_webhook_deliveries,
)
from marque.domain.ledger import Account, PostingKind
from marque.domain.refunds import OPEN


def _rows(conn: Connection, query: Executable) -> list[Any]:
    return list(conn.execute(query))


def book_problems(engine: Engine, *, now: datetime, applied_captures: Iterable[str]) -> list[str]:
    """Every way the books are wrong right now, read from the tables; [] when right.

    ``applied_captures`` are our payment ids whose ``payment.succeeded`` webhook our
    endpoint accepted: those must be posted by now, exactly once.
    """
    problems: list[str] = []
    total = func.sum(E.c.amount)
    with engine.connect() as conn:
        # 1. every posting balances in each currency
        for ref, currency, off in _rows(
            conn,
            select(P.c.reference, E.c.currency, total)
            .join(E, E.c.posting_id == P.c.id)
            .group_by(P.c.id, P.c.reference, E.c.currency)
            .having(total != 0),
        ):
            problems.append(f"unbalanced posting {ref}: off by {off} {currency}")
        # 2. no order holds a negative amount (customer deposits are credits)
        for order_id, net in _rows(
            conn,
            select(E.c.order_id, total)
            .where(E.c.account == str(Account.CUSTOMER_DEPOSITS))
            .group_by(E.c.order_id, E.c.currency)
            .having(total > 0),
        ):
            problems.append(f"order {order_id} holds {-int(net)} (negative)")
        # 3. no refund paid twice at the provider, and never more than was captured
        for merchant_ref, n in _rows(
            conn,
            select(sandbox_refunds.c.merchant_reference, func.count())
            .where(sandbox_refunds.c.outcome == "succeeded")
            .group_by(sandbox_refunds.c.merchant_reference)
            .having(func.count() > 1),
        ):
            problems.append(f"refund {merchant_ref} paid {n} times by the provider")
        refunded = (
            select(
                sandbox_refunds.c.payment_reference.label("ref"),
                func.sum(sandbox_refunds.c.amount).label("refunded"),
            )
            .where(sandbox_refunds.c.outcome == "succeeded")
            .group_by(sandbox_refunds.c.payment_reference)
            .subquery()
        )
        captured = func.coalesce(sandbox_payments.c.captured_amount, sandbox_payments.c.amount)
        for ref, got, back in _rows(
            conn,
            select(sandbox_payments.c.reference, captured, refunded.c.refunded)
            .join(refunded, refunded.c.ref == sandbox_payments.c.reference)
            .where(refunded.c.refunded > captured),
        ):
            problems.append(f"provider payment {ref}: refunded {back} of {got} captured")
        # ... nor on our side: refunds asked for one payment never exceed it
        asked = func.sum(refunds.c.amount)
        for payment_id, amount, asked_for in _rows(
            conn,
            select(payments.c.id, payments.c.amount, asked)
            .join(refunds, refunds.c.payment_id == payments.c.id)
            .group_by(payments.c.id, payments.c.amount)
            .having(asked > payments.c.amount),
        ):
            problems.append(f"payment {payment_id}: refunds of {asked_for} for {amount}")
        # 4. one refund_settled / refund_requested posting per refund at most, and a refund
        #    we count as paid is one the provider paid, for the same amount
        for kind, source, n in _rows(
            conn,
            select(P.c.kind, P.c.source_id, func.count())
            .where(
                P.c.kind.in_([str(PostingKind.REFUND_SETTLED), str(PostingKind.REFUND_REQUESTED)])
            )
            .group_by(P.c.kind, P.c.source_id)
            .having(func.count() > 1),
        ):
            problems.append(f"refund {source} has {n} {kind} postings")
        paid_by_provider = {
            str(ref): int(amount)
            for ref, amount in _rows(
                conn,
                select(sandbox_refunds.c.merchant_reference, sandbox_refunds.c.amount).where(
                    sandbox_refunds.c.outcome == "succeeded", sandbox_refunds.c.settles_at <= now
                ),
            )
        }
        for refund_id, status, amount in _rows(
            conn, select(refunds.c.id, refunds.c.status, refunds.c.amount)
        ):
            if status == "succeeded" and paid_by_provider.get(str(refund_id)) != amount:
                problems.append(
                    f"refund {refund_id} succeeded; the provider paid "
                    f"{paid_by_provider.get(str(refund_id))} of {amount}"
                )
        # 5. every payment the provider captured maps to one posting (exactly one once its
        #    webhook was accepted); nothing is posted that the provider did not capture
        posted: dict[str, int] = {}
        for source, n in _rows(
            conn,
            select(P.c.source_id, func.count())
            .where(P.c.kind == str(PostingKind.PAYMENT_CAPTURED))
            .group_by(P.c.source_id),
        ):
            posted[str(source)] = int(n)
        captured_refs = {
            str(ref)
            for (ref,) in _rows(
                conn,
                select(sandbox_payments.c.merchant_reference).where(
                    sandbox_payments.c.status == "succeeded"
                ),
            )
        }
        for payment_id, n in posted.items():
            if payment_id not in captured_refs or n != 1:
                problems.append(f"payment {payment_id}: {n} capture posting(s)")
        for payment_id in applied_captures:
            if posted.get(payment_id) != 1:
                problems.append(
                    f"payment {payment_id} accepted but posted {posted.get(payment_id)}"
                )
        # 6. compensation (earnest money returned twice over) leaves by bank transfer once,
        #    for the amount the refund owes: refunded <= captured + compensation
        compensations = (
            select(
                P.c.source_id.label("refund_id"), func.count().label("n"), (-total).label("paid")
            )
            .join(E, E.c.posting_id == P.c.id)
            .where(P.c.kind == str(PostingKind.COMPENSATION), E.c.account == str(Account.BANK))
            .group_by(P.c.source_id)
            .subquery()
        )
        for refund_id, n, paid, owed in _rows(
            conn,
            select(compensations, refunds.c.compensation).join(
                refunds, refunds.c.id == compensations.c.refund_id, isouter=True
            ),
        ):
            if n != 1 or paid != owed:
                problems.append(f"refund {refund_id}: {n} transfer(s) of {paid}, owed {owed}")
        # 7. the outbox relay never failed to render or send a message
        for message_id, error in _rows(
            conn, select(outbox.c.id, outbox.c.last_error).where(outbox.c.last_error.is_not(None))
        ):
            problems.append(f"outbox message {message_id} failed: {error}")
    return problems


def holdings(engine: Engine, order_ids: Iterable[str]) -> dict[str, tuple[str, int]]:
    """(status, held) of each order: held = received - refunded - applied - forfeited."""
    wanted = list(order_ids)
    held = (
        select(E.c.order_id.label("order_id"), func.sum(E.c.amount).label("net"))
        .where(E.c.account == str(Account.CUSTOMER_DEPOSITS), E.c.order_id.in_(wanted))
        .group_by(E.c.order_id)
        .subquery()
    )
    query = (
        select(orders.c.id, orders.c.status, held.c.net)
        .join(held, held.c.order_id == orders.c.id, isouter=True)
        .where(orders.c.id.in_(wanted))
    )
    with engine.connect() as conn:
        return {
            str(order_id): (str(status), -int(net or 0))
            for order_id, status, net in _rows(conn, query)
        }


def quiet(engine: Engine, order_ids: Iterable[str]) -> bool:
    """Nothing left to happen: no webhook, refund, notification or payment pending."""
    deliveries = sandbox_webhook_deliveries
    pending = [
        select(func.count())
        .select_from(deliveries)
        .where(deliveries.c.delivered_at.is_(None), deliveries.c.gave_up_at.is_(None)),
        select(func.count())
        .select_from(refunds)
        .where(refunds.c.status.in_([str(s) for s in OPEN])),
        select(func.count())
        .select_from(outbox)
        .where(outbox.c.sent_at.is_(None), outbox.c.dead.is_(False)),
        select(func.count())
        .select_from(orders)
        .where(orders.c.id.in_(list(order_ids)), orders.c.status == "pending_payment"),
    ]
    with engine.connect() as conn:
        return not any(conn.execute(query).scalar_one() for query in pending)


def provider_matches_books(engine: Engine, order_ids: Iterable[str]) -> list[str]:
    """Once settled, per order: each refund succeeded and the provider paid it exactly once,
    for its amount; what the provider captured minus what it refunded is what we still hold
    plus what was forfeited; compensation left by bank transfer, refunds payable is empty."""
    problems = []
    with engine.connect() as conn:
        for order_id in order_ids:
            ours = {
                str(r.id): (str(r.status), int(r.amount))
                for r in _rows(conn, select(refunds).where(refunds.c.order_id == order_id))
            }
            paid_back: dict[str, list[int]] = {refund_id: [] for refund_id in ours}
            for ref, amount in _rows(
                conn,
                select(sandbox_refunds.c.merchant_reference, sandbox_refunds.c.amount).where(
                    sandbox_refunds.c.merchant_reference.in_(list(ours)),
                    sandbox_refunds.c.outcome == "succeeded",
                ),
            ):
                paid_back[str(ref)].append(int(amount))
            for refund_id, (status, amount) in ours.items():
                if status != "succeeded" or paid_back[refund_id] != [amount]:
                    problems.append(f"refund {refund_id} ({status}): paid {paid_back[refund_id]}")
            our_payments = select(payments.c.id).where(payments.c.order_id == order_id)
            captured = conn.execute(
                select(
                    func.coalesce(
                        func.sum(
                            func.coalesce(
                                sandbox_payments.c.captured_amount, sandbox_payments.c.amount
                            )
                        ),
                        0,
                    )
                ).where(
                    sandbox_payments.c.merchant_reference.in_(our_payments),
                    sandbox_payments.c.status == "succeeded",
                )
            ).scalar_one()
            balances = {
                str(account): -int(net)
                for account, net in _rows(
                    conn,
                    select(E.c.account, func.sum(E.c.amount))
                    .where(E.c.order_id == order_id)
                    .group_by(E.c.account),
                )
            }
            held = balances.get(str(Account.CUSTOMER_DEPOSITS), 0)
            forfeited = balances.get(str(Account.FORFEITED_DEPOSITS), 0)
            kept = int(captured) - sum(sum(amounts) for amounts in paid_back.values())
            if kept != held + forfeited:
                problems.append(f"{order_id}: provider kept {kept}; held {held}, kept {forfeited}")
            if balances.get(str(Account.REFUNDS_PAYABLE), 0):
                problems.append(f"{order_id}: refunds payable {balances} after settling")
    return problems


__all__ = ["book_problems", "holdings", "provider_matches_books", "quiet"]
