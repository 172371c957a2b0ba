"""Stable codes and messages the payment adapters raise (every adapter uses the same ones).

The exception classes are the contract's (``WebhookRejected``, ``ProviderUnavailable``) or
the shared hierarchy's (``NotFound``, ``Conflict``, ``ValidationFailed``); these codes say
which rule was broken, so a caller (and the contract tests) can tell the cases apart.
"""

from __future__ import annotations

from enum import StrEnum

from marque.domain.errors import N_


class PaymentErrorCode(StrEnum):
    WEBHOOK_SIGNATURE_INVALID = "payments.webhook_signature_invalid"
    WEBHOOK_STALE = "payments.webhook_stale"
    WEBHOOK_MALFORMED = "payments.webhook_malformed"
    PAYMENT_NOT_FOUND = "payments.payment_not_found"
    IDEMPOTENCY_KEY_REUSED = "payments.idempotency_key_reused"
    AMOUNT_INVALID = "payments.amount_invalid"
    FIELD_INVALID = "payments.field_invalid"
    PAYMENT_NOT_CAPTURED = "payments.payment_not_captured"
    REFUND_EXCEEDS_PAYMENT = "payments.refund_exceeds_payment"
    PAYMENT_ALREADY_SUCCEEDED = "sandbox.payment_already_succeeded"


class PaymentMessage:
    """English message templates (gettext msgids) for the codes above."""

    WEBHOOK_SIGNATURE_INVALID = N_(
        "The webhook signature does not match its body: it was not signed with this "
        "provider's key, or the body was changed."
    )
    WEBHOOK_STALE = N_(
        "The webhook was signed at {signed_at}, more than {tolerance} seconds from now; "
        "it may be a replay and is refused."
    )
    WEBHOOK_MALFORMED = N_("The webhook cannot be read: {problem}.")
    PAYMENT_NOT_FOUND = N_("The payment provider knows no payment {reference}.")
    IDEMPOTENCY_KEY_REUSED = N_(
        "Idempotency key {key} was already used for a different request; "
        "use a new key for a new {operation}."
    )
    AMOUNT_INVALID = N_("The amount must be more than zero, in {currency}.")
    FIELD_INVALID = N_("{field} must be 1 to {max_length} characters long.")
    PAYMENT_NOT_CAPTURED = N_(
        "Payment {reference} is {status}; only a payment that succeeded can be refunded."
    )
    REFUND_EXCEEDS_PAYMENT = N_(
        "A refund of {amount} is more than the {remaining} still refundable on payment {reference}."
    )
    PAYMENT_ALREADY_SUCCEEDED = N_(
        "Payment {reference} has already succeeded, so it cannot fail any more."
    )


__all__ = ["PaymentErrorCode", "PaymentMessage"]
