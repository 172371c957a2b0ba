"""The finance console: the refunds queue, one order's books, reconciliation runs, the
ledger check. Staff with the finance role (admins hold every role); customers and other
staff get the 403 page, nobody signed in goes to the staff sign-in.

A refund that owes compensation on top (a maker breach returns earnest money twice over)
has its own page, ``/finance/refunds/{id}/compensation``: once the provider has returned
the deposit, finance records the bank transfer of the rest there (its reference and a
ticked box that states the amount). The service records it once; a second submit shows
that it was already recorded and pays nothing.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Final
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from marque.domain.errors import N_, MarqueError
from marque.domain.identity import Actor
from marque.domain.ledger import held_for_order
from marque.domain.refunds import RefundStatus
from marque.entrypoints.api import cursors
from marque.entrypoints.web import csrf
from marque.entrypoints.web.finance_view import (
    balance_rows,
    breach_view,
    posting_rows,
    refund_row,
    refund_status_label,
    run_view,
)
from marque.entrypoints.web.order_view import payment_view, status_label, when
from marque.entrypoints.web.page_access import finance_staff, redirect
from marque.entrypoints.web.rendering import format_money, render, translator_of
from marque.entrypoints.web.session import container_of
from marque.entrypoints.web.signin_pages import error_messages
from marque.services import ledger_checks, order_queries, refunds

router = APIRouter(include_in_schema=False)
CsrfChecked = Depends(csrf.require_token)
STAFF_SIGNIN: Final = "/staff/signin"
PAGE_SIZE: Final = 50

BAD_DATE: Final = N_("{value} is not a date; write it as YYYY-MM-DD, e.g. 2026-11-25.")
NOTICES: Final[dict[str, str]] = {
    "retried": N_("The refund is queued to be sent again."),
    "ran": N_("Reconciliation finished; the result is below."),
    "compensated": N_(
        "The compensation transfer is recorded; nothing more is owed on this refund."
    ),
}
BAD_REFERENCE: Final = N_(
    "Write the reference of the bank transfer as the bank gives it: letters and digits, "
    "also . _ : / - after the first one, at most 60 characters. Nothing was recorded."
)
MUST_CONFIRM_COMPENSATION: Final = N_(
    "Tick the box to confirm that {amount} went to the buyer by this transfer; "
    "nothing was recorded."
)


def _day(value: str) -> date | None:
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


@router.get("/finance", response_class=HTMLResponse)
def finance_home(request: Request) -> Response:
    if finance_staff(request) is None:
        return redirect(request, STAFF_SIGNIN)
    return redirect(request, "/finance/refunds")


@router.get("/finance/refunds", response_class=HTMLResponse)
def refunds_queue(request: Request, stuck: str = "", cursor: str = "", done: str = "") -> Response:
    actor = finance_staff(request)
    if actor is None:
        return redirect(request, STAFF_SIGNIN)
    _ = translator_of(request)
    wanted = {s for s in request.query_params.getlist("status") if s in set(RefundStatus)}
    statuses = [s for s in RefundStatus if s in wanted]
    found = refunds.search(
        container_of(request),
        statuses=statuses,
        stuck=bool(stuck),
        after=cursors.decode(cursor[:200] or None),
        limit=PAGE_SIZE,
    )
    last = found[-1].refund if len(found) == PAGE_SIZE else None
    more = None
    if last is not None:
        query = [("status", str(s)) for s in statuses] + ([("stuck", "1")] if stuck else [])
        query.append(("cursor", cursors.encode(last.created_at, last.id)))
        more = f"/finance/refunds?{urlencode(query)}"
    return render(
        request,
        "finance/refunds.html",
        actor=actor,
        section="refunds",
        refunds=[refund_row(view, _) for view in found],
        statuses=[
            {"code": str(s), "label": refund_status_label(s, _), "checked": s in statuses}
            for s in RefundStatus
        ],
        stuck=bool(stuck),
        more=more,
        notice=_(NOTICES[done]) if done in NOTICES else "",
    )


@router.post("/finance/refunds/{refund_id}/retry", dependencies=[CsrfChecked])
def retry_refund(request: Request, refund_id: str) -> Response:
    actor = finance_staff(request)
    if actor is None:
        return redirect(request, STAFF_SIGNIN)
    refunds.retry_failed(container_of(request), actor, refund_id)
    return redirect(request, "/finance/refunds?done=retried")


def _compensation_page(
    request: Request,
    actor: Actor,
    refund_id: str,
    *,
    errors: list[str],
    status: int = 200,
    bank_reference: str = "",
    done: str = "",
) -> Response:
    container = container_of(request)
    _ = translator_of(request)
    view = refunds.view(container, refund_id)  # 404 when unknown
    return render(
        request,
        "finance/compensation.html",
        status=status,
        actor=actor,
        lang_path=f"/finance/refunds/{view.refund.id}/compensation",
        section="refunds",
        refund=refund_row(view, _),
        bank_reference=bank_reference,
        errors=errors,
        notice=_(NOTICES[done]) if done in NOTICES else "",
    )


@router.get("/finance/refunds/{refund_id}/compensation", response_class=HTMLResponse)
def compensation_page(request: Request, refund_id: str, done: str = "") -> Response:
    actor = finance_staff(request)
    if actor is None:
        return redirect(request, STAFF_SIGNIN)
    return _compensation_page(request, actor, refund_id, errors=[], done=done)


@router.post(
    "/finance/refunds/{refund_id}/compensation",
    response_class=HTMLResponse,
    dependencies=[CsrfChecked],
)
def record_compensation(
    request: Request,
    refund_id: str,
    bank_reference: Annotated[str, Form()] = "",
    confirm: Annotated[str, Form()] = "",
) -> Response:
    actor = finance_staff(request)
    if actor is None:
        return redirect(request, STAFF_SIGNIN)
    container = container_of(request)
    _ = translator_of(request)
    typed = bank_reference.strip()[:100]
    if not refunds.is_bank_reference(typed):  # what the API's schema asks for too
        return _compensation_page(
            request, actor, refund_id, errors=[_(BAD_REFERENCE)], status=422, bank_reference=typed
        )
    if not confirm:
        owed = refunds.view(container, refund_id).refund.compensation
        errors = [_(MUST_CONFIRM_COMPENSATION, amount=format_money(owed))]
        return _compensation_page(
            request, actor, refund_id, errors=errors, status=422, bank_reference=typed
        )
    try:
        refunds.record_compensation_paid(container, actor, refund_id, bank_reference=typed)
    except MarqueError as exc:
        if not exc.expose or exc.status != 409:
            raise
        # Recorded already (a second submit), nothing owed, or the deposit not back yet:
        # nothing was paid; the page says why and shows the refund as it stands.
        return _compensation_page(
            request, actor, refund_id, errors=error_messages(request, exc), status=409
        )
    return redirect(request, f"/finance/refunds/{refund_id}/compensation?done=compensated")


@router.get("/finance/orders", response_class=HTMLResponse)
def find_order(request: Request, order: str = "") -> Response:
    if finance_staff(request) is None:
        return redirect(request, STAFF_SIGNIN)
    wanted = order.strip().upper()[:20]
    if not wanted:
        return redirect(request, "/finance/refunds")
    return redirect(request, f"/finance/orders/{wanted}")


@router.get("/finance/orders/{order_id}", response_class=HTMLResponse)
def order_ledger(request: Request, order_id: str) -> Response:
    actor = finance_staff(request)
    if actor is None:
        return redirect(request, STAFF_SIGNIN)
    container = container_of(request)
    _ = translator_of(request)
    order, postings = order_queries.ledger_of(container, order_id)  # 404 when unknown
    detail = order_queries.order_detail(container, actor, order.id)
    return render(
        request,
        "finance/ledger.html",
        actor=actor,
        section="orders",
        order={
            "id": order.id,
            "status_label": status_label(order.status, _),
            "customer_id": order.customer_id,
            "deposit": order.deposit,
            "price": order.price,
            "held": held_for_order(postings, order.id, order.deposit.currency),
        },
        postings=posting_rows(postings, _),
        balances=balance_rows(postings, _),
        payments=[payment_view(p, _) for p in detail.payments],
        refunds=[refund_row(refunds.view(container, r.refund.id), _) for r in detail.refunds],
    )


def _reconciliations_page(
    request: Request, day_text: str, *, errors: list[str], status: int = 200, done: str = ""
) -> Response:
    actor = finance_staff(request)
    assert actor is not None
    _ = translator_of(request)
    day = _day(day_text) if day_text else None
    if day_text and day is None:
        errors = [*errors, _(BAD_DATE, value=day_text[:20])]
        status = 422
    runs = ledger_checks.reconciliations(container_of(request), day, limit=20)
    return render(
        request,
        "finance/reconciliations.html",
        status=status,
        actor=actor,
        lang_path="/finance/reconciliations",
        section="reconciliations",
        day=day_text[:20],
        today=container_of(request).clock().date().isoformat(),
        runs=[run_view(run, _) for run in runs],
        errors=errors,
        notice=_(NOTICES[done]) if done in NOTICES else "",
    )


@router.get("/finance/reconciliations", response_class=HTMLResponse)
def reconciliations(request: Request, date: str = "", done: str = "") -> Response:
    if finance_staff(request) is None:
        return redirect(request, STAFF_SIGNIN)
    return _reconciliations_page(request, date, errors=[], done=done)


@router.post("/finance/reconciliations", response_class=HTMLResponse, dependencies=[CsrfChecked])
def run_reconciliation(request: Request, date: Annotated[str, Form()] = "") -> Response:
    if finance_staff(request) is None:
        return redirect(request, STAFF_SIGNIN)
    day = _day(date)
    if day is None:
        return _reconciliations_page(request, date or "-", errors=[])
    try:
        ledger_checks.reconcile_day(container_of(request), day)
    except MarqueError as exc:
        if not exc.expose or exc.status != 503:
            raise
        # The provider's report could not be fetched; nothing was stored.
        return _reconciliations_page(request, date, errors=error_messages(request, exc), status=503)
    return redirect(
        request, f"/finance/reconciliations?{urlencode({'date': day.isoformat(), 'done': 'ran'})}"
    )


@router.get("/finance/ledger-check", response_class=HTMLResponse)
def ledger_check(request: Request) -> Response:
    actor = finance_staff(request)
    if actor is None:
        return redirect(request, STAFF_SIGNIN)
    _ = translator_of(request)
    breaches = ledger_checks.check_ledger(container_of(request))
    return render(
        request,
        "finance/ledger_check.html",
        actor=actor,
        section="check",
        breaches=[breach_view(b, _) for b in breaches],
        checked_at=when(container_of(request).clock(), _),
    )


__all__ = ["router"]
