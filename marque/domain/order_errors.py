"""Stable codes and messages of the errors reservations, payments and refunds raise.

Each message says what happened, with which value, and what the caller can do.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from marque.domain.errors import (
    N_,
    Conflict,
    MarqueError,
    NotFound,
    ValidationFailed,
    Violation,
)


class OrderErrorCode(StrEnum):
    NOT_FOUND = "order.not_found"
    INVALID_TRANSITION = "order.invalid_transition"
    NOT_PAID = "order.not_paid"
    LOCK_NOT_CONFIRMED = "order.lock_not_confirmed"
    TERMS_NOT_ACCEPTED = "order.terms_not_accepted"
    TERMS_OUTDATED = "order.terms_outdated"
    TERMS_DIFFER = "order.terms_differ"
    OTHER_MODEL = "order.other_model"
    SAME_CONFIGURATION = "order.same_configuration"
    EARNEST_OVER_CAP = "order.earnest_over_cap"
    OPEN_ORDER_LIMIT = "order.open_order_limit"
    LIMITED_EDITION_TAKEN = "order.limited_edition_taken"
    CONCURRENT_UPDATE = "order.concurrent_update"
    QUOTE_CHANGED = "order.quote_changed"
    PAYMENT_IN_PROGRESS = "order.payment_in_progress"
    NOT_AWAITING_PAYMENT = "order.not_awaiting_payment"
    UNKNOWN_PAYMENT = "payments.unknown_payment"
    UNKNOWN_PROVIDER = "payments.unknown_provider"
    AMOUNT_MISMATCH = "payments.amount_mismatch"
    REFUND_NOT_FOUND = "refund.not_found"
    NO_COMPENSATION = "refund.no_compensation"
    COMPENSATION_ALREADY_PAID = "refund.compensation_already_paid"


MESSAGES: dict[OrderErrorCode, str] = {
    OrderErrorCode.NOT_FOUND: N_("There is no order {order} in your account."),
    OrderErrorCode.NOT_PAID: N_(
        "Order {order} cannot be locked before its deposit is paid; pay it first."
    ),
    OrderErrorCode.LOCK_NOT_CONFIRMED: N_(
        "Locking order {order} makes the deposit follow the after-lock rules of your terms; "
        "send confirm: true to show you read that warning."
    ),
    OrderErrorCode.TERMS_NOT_ACCEPTED: N_(
        "The deposit terms must be accepted before reserving; send accept_terms: true."
    ),
    OrderErrorCode.TERMS_OUTDATED: N_(
        "The terms you accepted ({terms} version {version}) are not the ones in force for this "
        "configuration ({current_terms} version {current_version}); read and accept those."
    ),
    OrderErrorCode.TERMS_DIFFER: N_(
        "Configuration {configuration} comes with other deposit terms ({terms} version "
        "{version}) than your order; cancel and reserve it instead."
    ),
    OrderErrorCode.OTHER_MODEL: N_(
        "Configuration {configuration} is a {model}; order {order} is for a {order_model}."
    ),
    OrderErrorCode.SAME_CONFIGURATION: N_(
        "Order {order} already has configuration {configuration}."
    ),
    OrderErrorCode.EARNEST_OVER_CAP: N_(
        "Earnest money of {deposit} is more than 20% of the price {price}; the law caps it at "
        "{cap}."
    ),
    OrderErrorCode.OPEN_ORDER_LIMIT: N_(
        "You already have {count} open order(s) for this model, the most one buyer may hold; "
        "cancel one first."
    ),
    OrderErrorCode.LIMITED_EDITION_TAKEN: N_(
        "You already have order {order} for this limited edition; each buyer may order one."
    ),
    OrderErrorCode.CONCURRENT_UPDATE: N_(
        "Order {order} was changed by another request at the same moment; reload it and try again."
    ),
    OrderErrorCode.QUOTE_CHANGED: N_(
        "Cancelling order {order} now returns {total}, not the {expected} you were shown; "
        "read the new refund quote and cancel again if you agree."
    ),
    OrderErrorCode.PAYMENT_IN_PROGRESS: N_(
        "Order {order} already has a payment in progress; finish or wait for that one."
    ),
    OrderErrorCode.NOT_AWAITING_PAYMENT: N_("Order {order} is {status}; it takes no payment now."),
    OrderErrorCode.UNKNOWN_PAYMENT: N_("There is no payment {payment}."),
    OrderErrorCode.UNKNOWN_PROVIDER: N_("There is no payment provider called {provider}."),
    OrderErrorCode.AMOUNT_MISMATCH: N_(
        "Payment {payment} is for {expected}, but the provider reported {reported}; the event "
        "was recorded and not applied."
    ),
    OrderErrorCode.REFUND_NOT_FOUND: N_("There is no refund {refund}."),
    OrderErrorCode.NO_COMPENSATION: N_("Refund {refund} owes no compensation on top."),
    OrderErrorCode.COMPENSATION_ALREADY_PAID: N_(
        "The compensation of refund {refund} was already recorded as paid ({reference})."
    ),
}


def order_not_found(order_id: str) -> NotFound:
    return NotFound(
        MESSAGES[OrderErrorCode.NOT_FOUND], code=OrderErrorCode.NOT_FOUND, order=order_id
    )


def conflict(code: OrderErrorCode, **params: Any) -> Conflict:
    return Conflict(MESSAGES[code], code=code, **params)


def not_found(code: OrderErrorCode, **params: Any) -> NotFound:
    return NotFound(MESSAGES[code], code=code, **params)


def invalid(code: OrderErrorCode, pointer: str, **params: Any) -> ValidationFailed:
    """A 422 with one violation of the same code, pointing at the offending field."""
    message = MESSAGES[code]
    return ValidationFailed(
        [Violation(code, message, params, pointer)], message, code=code, **params
    )


class AmountMismatch(MarqueError):
    """A provider reported another amount or currency than the payment asked for."""

    status = 422
    default_code = OrderErrorCode.AMOUNT_MISMATCH
    title = N_("Amount mismatch")
    default_message = MESSAGES[OrderErrorCode.AMOUNT_MISMATCH]
    expose = True


__all__ = [
    "MESSAGES",
    "AmountMismatch",
    "OrderErrorCode",
    "conflict",
    "invalid",
    "not_found",
    "order_not_found",
]
