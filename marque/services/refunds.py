"""The refund worker and what finance asks about refunds.

``run_once`` sends due refunds: for each, a short transaction claims it (one more attempt,
invisible to other workers for a lease), the provider is called OUTSIDE any transaction
with the refund's idempotency key, and a second short transaction records the answer:

- pending: ``sent`` (the webhook will settle it);
- succeeded: ``sent`` then ``succeeded`` (posted once, even if the webhook also comes),
  dated when the provider settled it (``settled_at``), not when the worker heard: an
  answer learnt on a retry after midnight still belongs to the provider's day;
- failed: ``retrying`` under the next key generation, after an exponential backoff;
- timeout or 5xx (ProviderUnavailable): ``retrying`` with the SAME key, since the
  provider may have acted on it; after ``refund_max_attempts``: ``failed`` for finance.

A webhook that settles the refund while the call is in flight wins; the worker's own
record then finds the refund moved and leaves it alone.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from marque.domain import ledger
from marque.domain.errors import MarqueError
from marque.domain.identity import SYSTEM, Actor
from marque.domain.order_entities import Refund
from marque.domain.order_errors import OrderErrorCode, conflict, not_found
from marque.domain.refunds import (
    OPEN,
    RefundEvent,
    RefundStatus,
    RefundStatusChange,
    provider_key,
)
from marque.services import order_support
from marque.services import refund_support as steps
from marque.services.context import AppContext
from marque.services.notifications import Topic, announce
from marque.services.payment_ports import (
    ProviderRefund,
    ProviderRefundStatus,
    ProviderUnavailable,
)

log = logging.getLogger("marque.refunds")

#: How long a claimed refund stays out of other workers' reach while its call runs.
LEASE: Final = timedelta(minutes=5)
BATCH: Final = 50

#: What a bank transfer reference may look like: letters and digits, then also . _ : / -.
#: The API states it in its request schema; the finance page checks what staff typed with
#: ``is_bank_reference`` before recording anything.
BANK_REFERENCE_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$"
BANK_REFERENCE_MAX_LENGTH: Final = 60
_BANK_REFERENCE: Final = re.compile(BANK_REFERENCE_PATTERN)


@dataclass(frozen=True)
class Claimed:
    refund: Refund
    payment_reference: str
    provider: str


def run_once(ctx: AppContext) -> int:
    """Send every due refund once; returns how many calls were made."""
    now = ctx.clock()
    with ctx.uow(readonly=True) as uow:
        due = uow.refunds.due(now, BATCH)
    calls = 0
    for refund in due:
        claimed = _claim(ctx, refund, now)
        if claimed is None:
            continue
        calls += 1
        _send(ctx, claimed)
    return calls


def _claim(ctx: AppContext, refund: Refund, now: datetime) -> Claimed | None:
    with ctx.uow() as uow:
        payment = uow.payments.get(refund.payment_id)
        if payment is None or payment.provider_reference is None:
            log.error(
                "refund names a payment without a provider reference",
                extra={"ctx_refund": refund.id},
            )
            return None
        claimed = dataclasses.replace(
            refund, attempts=refund.attempts + 1, next_attempt_at=now + LEASE, updated_at=now
        )
        if not uow.refunds.update(
            claimed, expected_status=refund.status, expected_attempts=refund.attempts
        ):
            return None
        uow.commit()
    return Claimed(claimed, payment.provider_reference, payment.provider)


def _send(ctx: AppContext, claimed: Claimed) -> None:
    refund = claimed.refund
    answer: ProviderRefund | None = None
    error: str | None = None
    unavailable = False
    try:
        provider = ctx.payment_providers[claimed.provider]
        answer = provider.refund(
            payment_reference=claimed.payment_reference,
            merchant_reference=refund.id,
            amount=refund.amount,
            idempotency_key=refund.idempotency_key,
        )
    except ProviderUnavailable as exc:
        unavailable, error = True, f"provider unavailable: {exc}"
    except (MarqueError, KeyError) as exc:
        error = f"provider refused: {exc}"
    _record(ctx, refund, answer, error, unavailable)


def _record(
    ctx: AppContext,
    claimed: Refund,
    answer: ProviderRefund | None,
    error: str | None,
    unavailable: bool,
) -> None:
    now = ctx.clock()
    policy = steps.retry_policy(ctx)
    with ctx.uow() as uow:
        refund = uow.refunds.get(claimed.id)
        if refund is None or refund.status != claimed.status or refund.attempts != claimed.attempts:
            return  # a webhook got there first
        if answer is None or answer.status is ProviderRefundStatus.FAILED:
            reason = error or f"provider: {answer.failure_reason if answer else 'failed'}"
            steps.schedule_retry(
                uow,
                refund,
                policy,
                event=RefundEvent.ATTEMPT_FAILED,
                error=reason,
                new_key=answer is not None,
                now=now,
            )
            log.warning(
                "refund attempt failed",
                extra={"ctx_refund": refund.id, "ctx_unavailable": unavailable},
            )
            uow.commit()
            return
        sent = steps.move_refund(
            uow,
            refund,
            RefundEvent.SEND,
            actor=SYSTEM,
            now=now,
            reason=f"provider accepted refund {answer.reference}",
            sent_at=now,
            next_attempt_at=None,
            last_error=None,
            provider_reference=answer.reference,
        )
        if sent is None:
            return
        order = uow.orders.get(refund.order_id)
        assert order is not None
        announce(
            uow,
            Topic.REFUND_SENT,
            order,
            now,
            amount=refund.amount.format(),
            refund_by=sent.expected_by,
        )
        if answer.status is ProviderRefundStatus.SUCCEEDED:
            steps.settle(
                uow,
                sent,
                at=steps.settled_time(answer.settled_at, now),
                now=now,
                provider_reference=answer.reference,
                reason="provider answered succeeded",
            )
        uow.commit()


# ---------------------------------------------------------------------------- finance


@dataclass(frozen=True)
class RefundView:
    refund: Refund
    history: list[RefundStatusChange]
    stuck: bool

    @property
    def compensation_paid(self) -> RefundStatusChange | None:
        """The record of the compensation transfer, if finance made it."""
        return next((c for c in self.history if c.event is RefundEvent.PAY_COMPENSATION), None)

    @property
    def compensation_due(self) -> bool:
        return self.refund.compensation.amount > 0 and self.compensation_paid is None


def is_stuck(refund: Refund, now: datetime) -> bool:
    """Past the date the terms promised and still not with the buyer."""
    return refund.status in OPEN and refund.expected_by < now


def search(
    ctx: AppContext,
    *,
    statuses: Sequence[RefundStatus] = (),
    stuck: bool = False,
    after: tuple[datetime, str] | None = None,
    limit: int = 50,
) -> list[RefundView]:
    now = ctx.clock()
    wanted = list(statuses) or ([*OPEN] if stuck else [])
    if stuck:
        wanted = [status for status in wanted if status in OPEN]
        if not wanted:
            return []
    with ctx.uow(readonly=True) as uow:
        found = uow.refunds.search(
            statuses=wanted, expected_before=now if stuck else None, after=after, limit=limit
        )
        return [RefundView(r, uow.refunds.status_changes(r.id), is_stuck(r, now)) for r in found]


def view(ctx: AppContext, refund_id: str) -> RefundView:
    with ctx.uow(readonly=True) as uow:
        refund = uow.refunds.get(refund_id) if len(refund_id) <= 20 else None
        if refund is None:
            raise not_found(OrderErrorCode.REFUND_NOT_FOUND, refund=refund_id)
        return RefundView(
            refund, uow.refunds.status_changes(refund.id), is_stuck(refund, ctx.clock())
        )


def retry_failed(ctx: AppContext, actor: Actor, refund_id: str) -> Refund:
    """Finance sends a failed refund round again: fresh attempts, next key generation."""
    now = ctx.clock()
    with ctx.uow() as uow:
        refund = uow.refunds.get(refund_id) if len(refund_id) <= 20 else None
        if refund is None:
            raise not_found(OrderErrorCode.REFUND_NOT_FOUND, refund=refund_id)
        generation = refund.key_generation + 1
        moved = steps.move_refund(
            uow,
            refund,
            RefundEvent.RETRY,
            actor=actor,
            now=now,
            reason="finance asked for another round",
            attempts=0,
            next_attempt_at=now,
            key_generation=generation,
            idempotency_key=provider_key(refund.id, generation),
        )
        if moved is None:
            raise not_found(OrderErrorCode.REFUND_NOT_FOUND, refund=refund_id)
        uow.commit()
    return moved


def is_bank_reference(text: str) -> bool:
    """Whether ``text`` is a bank transfer reference compensation may be recorded under."""
    return len(text) <= BANK_REFERENCE_MAX_LENGTH and _BANK_REFERENCE.fullmatch(text) is not None


def record_compensation_paid(
    ctx: AppContext, actor: Actor, refund_id: str, *, bank_reference: str
) -> RefundView:
    """Finance records that the compensation on top of a refund left by bank transfer.

    The provider returns at most what it captured, so when the maker breaches and earnest
    money comes back twice over, the second half is a transfer. Recording it posts
    refunds payable -> bank once (the posting reference is unique per refund) and stores who
    paid it, when, and the transfer reference in the refund's history.
    """
    now = ctx.clock()
    with ctx.uow() as uow:
        refund = uow.refunds.get(refund_id) if len(refund_id) <= 20 else None
        if refund is None:
            raise not_found(OrderErrorCode.REFUND_NOT_FOUND, refund=refund_id)
        if refund.compensation.amount <= 0:
            raise conflict(OrderErrorCode.NO_COMPENSATION, refund=refund_id)
        for change in uow.refunds.status_changes(refund.id):
            if change.event is RefundEvent.PAY_COMPENSATION:
                raise conflict(
                    OrderErrorCode.COMPENSATION_ALREADY_PAID,
                    refund=refund_id,
                    reference=change.reason,
                )
        moved = steps.move_refund(
            uow,
            refund,
            RefundEvent.PAY_COMPENSATION,
            actor=actor,
            now=now,
            reason=f"compensation {refund.compensation.format()} paid by transfer {bank_reference}",
        )
        posted = moved is not None and order_support.post(
            uow,
            ledger.compensation_paid(
                refund.order_id,
                refund.compensation,
                at=now,
                reference=f"refund:{refund.id}:compensation",
            ),
            source_id=refund.id,
            now=now,
        )
        if not posted:
            raise conflict(
                OrderErrorCode.COMPENSATION_ALREADY_PAID, refund=refund_id, reference=bank_reference
            )
        uow.commit()
    return view(ctx, refund_id)


__all__ = [
    "BANK_REFERENCE_MAX_LENGTH",
    "BANK_REFERENCE_PATTERN",
    "RefundView",
    "is_bank_reference",
    "is_stuck",
    "record_compensation_paid",
    "retry_failed",
    "run_once",
    "search",
    "view",
]
