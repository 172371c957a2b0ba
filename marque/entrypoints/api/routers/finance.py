"""The finance console's API: refunds to watch, an order's ledger, reconciliation results,
and the ledger's invariant check. Staff with the finance role (or admins) only."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from marque.domain.identity import Actor, Role
from marque.domain.ledger import Posting, held_for_order
from marque.domain.reconciliation import Mismatch, ReconciliationRun
from marque.domain.refunds import RefundStatus
from marque.entrypoints.api import cursors
from marque.entrypoints.api.deps import ContainerDep, TranslatorDep, require_staff
from marque.entrypoints.api.idempotent import IdempotencyKey, run_once_per_key
from marque.entrypoints.api.routers.auth import problem
from marque.entrypoints.api.routers.catalog_schemas import MoneyOut
from marque.entrypoints.api.routers.order_schemas import RefundOut
from marque.i18n import Translator
from marque.services import ledger_checks, order_queries, refunds
from marque.services.refunds import RefundView

router = APIRouter(tags=["finance"])
FinanceDep = Annotated[Actor, Depends(require_staff(Role.FINANCE))]

STAFF_PROBLEMS: dict[int | str, dict[str, Any]] = {
    401: problem("Not signed in"),
    403: problem("Not finance staff"),
}


class FinanceRefundOut(RefundOut):
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    payment_id: str
    provider_reference: str | None
    stuck: bool = Field(description="Past the promised date and not yet with the buyer")
    compensation_due: bool = Field(
        description="Compensation on top is owed by transfer (not through the provider)"
    )

    @classmethod
    def of_view(cls, view: RefundView, _: Translator) -> FinanceRefundOut:
        refund = view.refund
        base = RefundOut.of(refund, view.history, _).model_dump()
        return cls(
            **base,
            attempts=refund.attempts,
            next_attempt_at=refund.next_attempt_at,
            last_error=refund.last_error,
            payment_id=refund.payment_id,
            provider_reference=refund.provider_reference,
            stuck=view.stuck,
            compensation_due=view.compensation_due,
        )


class FinanceRefundListOut(BaseModel):
    items: list[FinanceRefundOut] = Field(description="Newest first")
    next_cursor: str | None


class EntryOut(BaseModel):
    account: str
    order_id: str | None
    amount: MoneyOut = Field(description="Positive: debit; negative: credit")


class PostingOut(BaseModel):
    reference: str
    kind: str
    at: datetime
    entries: list[EntryOut]


class OrderLedgerOut(BaseModel):
    order_id: str
    held: MoneyOut = Field(description="received - refunded - applied - forfeited")
    postings: list[PostingOut]


class MismatchOut(BaseModel):
    problem: str = Field(description="missing (provider only), extra (ledger only), amount_differs")
    kind: str = Field(description="payment or refund")
    merchant_reference: str
    provider_reference: str | None
    ledger_amount: MoneyOut | None
    provider_amount: MoneyOut | None

    @classmethod
    def of(cls, mismatch: Mismatch) -> MismatchOut:
        return cls(
            problem=str(mismatch.problem),
            kind=str(mismatch.kind),
            merchant_reference=mismatch.merchant_reference,
            provider_reference=mismatch.provider_reference,
            ledger_amount=MoneyOut.of(mismatch.ledger_amount) if mismatch.ledger_amount else None,
            provider_amount=(
                MoneyOut.of(mismatch.provider_amount) if mismatch.provider_amount else None
            ),
        )


class ReconciliationOut(BaseModel):
    id: int | None
    day: date
    provider: str
    ran_at: datetime
    matched: int
    ok: bool
    mismatches: list[MismatchOut]

    @classmethod
    def of(cls, run: ReconciliationRun) -> ReconciliationOut:
        return cls(
            id=run.id,
            day=run.day,
            provider=run.provider,
            ran_at=run.ran_at,
            matched=run.matched,
            ok=run.ok,
            mismatches=[MismatchOut.of(m) for m in run.mismatches],
        )


class ReconciliationListOut(BaseModel):
    items: list[ReconciliationOut] = Field(description="Newest run first")


class BreachOut(BaseModel):
    invariant: str
    subject: str
    detail: str


class LedgerCheckOut(BaseModel):
    ok: bool
    breaches: list[BreachOut]


@router.get(
    "/finance/refunds",
    response_model=FinanceRefundListOut,
    summary="Refunds by status; `stuck=true`: past their promised date",
    responses={**STAFF_PROBLEMS, 422: problem("`request.cursor_invalid` or `request.invalid`")},
)
def list_refunds(
    container: ContainerDep,
    _: TranslatorDep,
    __: FinanceDep,
    status_: Annotated[
        list[RefundStatus] | None, Query(alias="status", description="Repeat for several")
    ] = None,
    stuck: bool = False,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> FinanceRefundListOut:
    found = refunds.search(
        container, statuses=status_ or [], stuck=stuck, after=cursors.decode(cursor), limit=limit
    )
    last = found[-1].refund if len(found) == limit else None
    return FinanceRefundListOut(
        items=[FinanceRefundOut.of_view(view, _) for view in found],
        next_cursor=cursors.encode(last.created_at, last.id) if last else None,
    )


@router.post(
    "/finance/refunds/{refund_id}/retry",
    response_model=FinanceRefundOut,
    summary="Send a failed refund again (fresh attempts, new provider key)",
    responses={
        **STAFF_PROBLEMS,
        400: problem("`idempotency.key_required`"),
        404: problem("`refund.not_found`"),
        409: problem("`refund.invalid_transition`: only failed refunds are retried"),
    },
)
def retry_refund(
    refund_id: str,
    request: Request,
    container: ContainerDep,
    _: TranslatorDep,
    actor: FinanceDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    def work() -> tuple[int, FinanceRefundOut]:
        refunds.retry_failed(container, actor, refund_id)
        return status.HTTP_200_OK, FinanceRefundOut.of_view(refunds.view(container, refund_id), _)

    return run_once_per_key(request, container, actor, idempotency_key, None, work)


class CompensationPaidIn(BaseModel):
    bank_reference: str = Field(
        min_length=1,
        max_length=refunds.BANK_REFERENCE_MAX_LENGTH,
        pattern=refunds.BANK_REFERENCE_PATTERN,
        description="The reference of the bank transfer that paid the compensation",
    )


@router.post(
    "/finance/refunds/{refund_id}/compensation",
    response_model=FinanceRefundOut,
    summary="Record the bank transfer that paid the compensation owed on top of a refund",
    description=(
        "When the maker breaches, earnest money comes back twice over (Civil Code art. 587). "
        "The provider refunds the deposit itself; the compensation on top goes by bank "
        "transfer, which finance records here once. Posts refunds payable -> bank."
    ),
    responses={
        **STAFF_PROBLEMS,
        400: problem("`idempotency.key_required`"),
        404: problem("`refund.not_found`"),
        409: problem(
            "`refund.no_compensation`; `refund.compensation_already_paid`; "
            "`refund.invalid_transition`: the deposit itself is not refunded yet"
        ),
        422: problem("`request.invalid`"),
    },
)
def record_compensation(
    refund_id: str,
    body: CompensationPaidIn,
    request: Request,
    container: ContainerDep,
    _: TranslatorDep,
    actor: FinanceDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    def work() -> tuple[int, FinanceRefundOut]:
        view = refunds.record_compensation_paid(
            container, actor, refund_id, bank_reference=body.bank_reference
        )
        return status.HTTP_200_OK, FinanceRefundOut.of_view(view, _)

    return run_once_per_key(request, container, actor, idempotency_key, body, work)


@router.get(
    "/finance/orders/{order_id}/ledger",
    response_model=OrderLedgerOut,
    summary="Every posting of one order, with what is held for it",
    responses={**STAFF_PROBLEMS, 404: problem("`order.not_found`")},
)
def order_ledger(order_id: str, container: ContainerDep, __: FinanceDep) -> OrderLedgerOut:
    order, postings = order_queries.ledger_of(container, order_id)
    return OrderLedgerOut(
        order_id=order.id,
        held=MoneyOut.of(held_for_order(postings, order.id, order.deposit.currency)),
        postings=[_posting(p) for p in postings],
    )


@router.get(
    "/finance/reconciliations",
    response_model=ReconciliationListOut,
    summary="Stored results of `marque reconcile`, optionally for one day",
    responses={**STAFF_PROBLEMS, 422: problem("`request.invalid`: not a date")},
)
def list_reconciliations(
    container: ContainerDep,
    __: FinanceDep,
    day: Annotated[date | None, Query(alias="date", description="UTC day, YYYY-MM-DD")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> ReconciliationListOut:
    runs = ledger_checks.reconciliations(container, day, limit)
    return ReconciliationListOut(items=[ReconciliationOut.of(run) for run in runs])


@router.get(
    "/finance/ledger/check",
    response_model=LedgerCheckOut,
    summary="Check every ledger invariant now (what `marque ledger check` runs)",
    responses=STAFF_PROBLEMS,
)
def ledger_check(container: ContainerDep, __: FinanceDep) -> LedgerCheckOut:
    breaches = ledger_checks.check_ledger(container)
    return LedgerCheckOut(
        ok=not breaches,
        breaches=[
            BreachOut(invariant=str(b.invariant), subject=b.subject, detail=b.detail)
            for b in breaches
        ],
    )


def _posting(posting: Posting) -> PostingOut:
    return PostingOut(
        reference=posting.reference,
        kind=str(posting.kind),
        at=posting.at,
        entries=[
            EntryOut(account=str(e.account), order_id=e.order_id, amount=MoneyOut.of(e.amount))
            for e in posting.entries
        ],
    )
