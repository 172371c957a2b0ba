"""Deposit terms in full for the reserve and lock pages, in one language per call.

The facts about money (what comes back before the lock, after it, after a breach) are not
paraphrased from the rules: they are what ``refund_quote`` -- the same pure function that
decides every cancellation -- answers for a deposit paid now, at each of those moments. So
the page can never promise another amount than the cancel button would pay.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from marque.domain.catalog import BreachRemedy, DepositTerms, RefundableUntil
from marque.domain.deposits import BreachKind, DepositPolicy, OrderFacts, RefundQuote, refund_quote
from marque.domain.errors import N_
from marque.domain.locking import locks_on_payment, reminder_hours
from marque.domain.money import Money
from marque.domain.orders import OrderStatus
from marque.entrypoints.web.deposit_summary import KIND_LABELS, KIND_MEANINGS
from marque.entrypoints.web.rendering import format_money, html_lang
from marque.i18n import Translator

#: How far past a boundary the simulated "later" quotes look (any instant beyond it will do).
_AFTER: Final = timedelta(minutes=1)


@dataclass(frozen=True)
class Outcomes:
    """What cancelling returns for a deposit paid at ``paid_at``, at each stage."""

    locks_on_payment: bool
    before_lock: RefundQuote | None
    in_cooling_off: RefundQuote | None
    after_lock: RefundQuote
    on_breach: RefundQuote


def outcomes(
    terms: DepositTerms,
    *,
    paid_at: datetime,
    lock_at: datetime | None = None,
    held: Money | None = None,
) -> Outcomes:
    """Ask ``refund_quote`` what a deposit of ``held`` (default: the terms' amount) paid at
    ``paid_at`` returns before a lock, and after a lock at ``lock_at`` (default: at payment)
    during any cooling-off, after it, and when the maker breaches."""
    policy = DepositPolicy.from_terms(terms)
    amount = held if held is not None else terms.amount
    locked_at = lock_at or paid_at
    rules = terms.rules
    on_payment = locks_on_payment(rules) or rules.refundable_until is RefundableUntil.NEVER
    cooling = timedelta(hours=rules.cooling_off_hours_after_lock)

    def locked(at: datetime, breach: BreachKind | None = None) -> RefundQuote:
        facts = OrderFacts(
            status=OrderStatus.LOCKED,
            held=amount,
            paid_at=paid_at,
            locked_at=locked_at,
            breach=breach,
        )
        return refund_quote(policy, facts, at)

    before = None
    if not on_payment:
        facts = OrderFacts(status=OrderStatus.RESERVED, held=amount, paid_at=paid_at)
        before = refund_quote(policy, facts, paid_at + _AFTER)
    return Outcomes(
        locks_on_payment=on_payment,
        before_lock=before,
        in_cooling_off=locked(locked_at + _AFTER) if cooling else None,
        after_lock=locked(locked_at + cooling + _AFTER),
        on_breach=locked(locked_at + _AFTER, BreachKind.LATE_DELIVERY),
    )


def _back(quote: RefundQuote, _: Translator) -> str:
    if quote.total.amount == 0:
        return _(N_("nothing comes back: you lose {amount}"), amount=format_money(quote.forfeited))
    return _(N_("{amount} comes back to you"), amount=format_money(quote.total))


def refundability(terms: DepositTerms, seen: Outcomes, _: Translator) -> str:
    """One plain sentence: when, if ever, the deposit stops being refundable."""
    hours = terms.rules.cooling_off_hours_after_lock
    if seen.after_lock.forfeited.amount == 0:
        return _(
            N_("It never stops being refundable: cancelling before delivery returns all of it.")
        )
    if seen.locks_on_payment and not hours:
        return _(N_("It is NOT refundable once paid: the order locks the moment you pay."))
    if seen.locks_on_payment:
        return _(
            N_(
                "The order locks the moment you pay; {hours} hours after that the deposit is NOT "
                "refundable any more."
            ),
            hours=hours,
        )
    if hours:
        return _(
            N_(
                "It is refundable until the order locks and for {hours} hours after; from then on "
                "it is NOT refundable."
            ),
            hours=hours,
        )
    return _(N_("It is refundable until the order locks; from the lock on it is NOT refundable."))


def lock_timing(terms: DepositTerms, _: Translator) -> str:
    rules = terms.rules
    if locks_on_payment(rules):
        return _(N_("The order locks automatically as soon as the deposit is paid."))
    if rules.auto_lock_after_hours is None:
        return _(N_("The order locks only when you lock it yourself and confirm."))
    return _(
        N_(
            "The order locks when you lock it yourself and confirm, or automatically {hours} hours "
            "after payment; we remind you by text message at least {reminder} hours before."
        ),
        hours=rules.auto_lock_after_hours,
        reminder=reminder_hours(rules),
    )


def breach_items(terms: DepositTerms, _: Translator) -> list[str]:
    breach = terms.rules.maker_breach
    items = []
    if breach.late_delivery_weeks_beyond_window is not None:
        items.append(
            _(
                N_(
                    "delivery more than {weeks} weeks after the last week of the delivery window "
                    "promised at the lock"
                ),
                weeks=breach.late_delivery_weeks_beyond_window,
            )
        )
    if breach.price_rise_after_lock:
        items.append(_(N_("a price rise for your configuration after the lock")))
    if breach.spec_change_after_lock:
        items.append(_(N_("a change to its specification after the lock")))
    return items


def terms_facts(terms: DepositTerms, seen: Outcomes, _: Translator) -> list[dict[str, Any]]:
    """The terms as labelled facts, each a sentence or a list, in ``_``'s language."""
    rules = terms.rules
    never_lost = seen.after_lock.forfeited.amount == 0
    cancel: list[str] = []
    if seen.before_lock is not None:
        cancel.append(_(N_("Before the lock: {outcome}."), outcome=_back(seen.before_lock, _)))
    if seen.in_cooling_off is not None and not never_lost:
        cancel.append(
            _(
                N_("Within {hours} hours after the lock (cooling-off): {outcome}."),
                hours=rules.cooling_off_hours_after_lock,
                outcome=_back(seen.in_cooling_off, _),
            )
        )
        cancel.append(_(N_("After that: {outcome}."), outcome=_back(seen.after_lock, _)))
    else:
        cancel.append(_(N_("After the lock: {outcome}."), outcome=_back(seen.after_lock, _)))
    remedy = (
        N_("Then you get twice the deposit back: {amount}.")
        if rules.maker_breach.remedy is BreachRemedy.DOUBLE or seen.on_breach.compensation.amount
        else N_("Then you get the whole deposit back: {amount}.")
    )
    if never_lost:
        cooling = _(N_("Not needed: the deposit stays refundable after the lock."))
    elif rules.cooling_off_hours_after_lock:
        cooling = _(
            N_("{hours} hours after the lock, with a full refund."),
            hours=rules.cooling_off_hours_after_lock,
        )
    else:
        cooling = _(N_("None."))
    return [
        {
            "key": "kind",
            "label": _(N_("Kind of deposit")),
            "text": _(KIND_MEANINGS[terms.kind]),
        },
        {"key": "amount", "label": _(N_("Amount")), "text": format_money(terms.amount)},
        {
            "key": "refundable",
            "label": _(N_("When it stops being refundable")),
            "text": refundability(terms, seen, _),
        },
        {"key": "lock", "label": _(N_("When the order locks")), "text": lock_timing(terms, _)},
        {"key": "cooling-off", "label": _(N_("Cooling-off after the lock")), "text": cooling},
        {"key": "cancel", "label": _(N_("If you cancel")), "points": cancel},
        {
            "key": "breach",
            "label": _(N_("What counts as our breach")),
            "points": breach_items(terms, _),
            "text": _(remedy, amount=format_money(seen.on_breach.total)),
        },
        {
            "key": "refund-time",
            "label": _(N_("Refund time")),
            "text": _(
                N_("A refund reaches your original payment method within {days} days."),
                days=rules.refund_within_days,
            ),
        },
        {
            "key": "price",
            "label": _(N_("Counts toward the price")),
            "text": _(N_("Yes: when you buy the car, the deposit is part of the payment."))
            if rules.credited_to_price
            else _(N_("No.")),
        },
        {
            "key": "transfer",
            "label": _(N_("Transfer")),
            "text": _(N_("The order may be transferred to another buyer."))
            if rules.transferable
            else _(N_("The order is personal and cannot be transferred.")),
        },
    ]


def full_terms(terms: DepositTerms, paid_at: datetime, _: Translator) -> dict[str, Any]:
    """Everything the reserve page shows about ``terms``: the facts and the document, in the
    page's language, and the same again in the other language."""
    seen = outcomes(terms, paid_at=paid_at)
    other = Translator("en" if _.locale == "zh-CN" else "zh-CN")
    return {
        "code": terms.code,
        "version": terms.version,
        "content_hash": terms.content_hash,
        "kind_label": _(KIND_LABELS[terms.kind]),
        "amount": terms.amount,
        "title": terms.title.pick(_.locale),
        "body": terms.body.pick(_.locale),
        "facts": terms_facts(terms, seen, _),
        "other": {
            "lang": html_lang(other.locale),
            "label": other(
                N_("The same terms in English")
                if other.locale == "en"
                else N_("The same terms in Chinese")
            ),
            "title": terms.title.pick(other.locale),
            "body": terms.body.pick(other.locale),
            "facts": terms_facts(terms, seen, other),
            "facts_heading": other(N_("The deposit in short")),
            "document_heading": other(N_("The terms document")),
        },
    }


__all__ = ["Outcomes", "full_terms", "outcomes", "refundability", "terms_facts"]
