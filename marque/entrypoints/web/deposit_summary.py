"""Deposit terms in a few plain sentences: what kind of money it is and when it stops being
refundable. Read from the terms' structured rules, so the summary and the document agree."""

from __future__ import annotations

from typing import Any, Final

from marque.domain.catalog import BreachRemedy, DepositKind, DepositTerms, RefundableUntil
from marque.domain.errors import N_
from marque.entrypoints.web.rendering import html_lang
from marque.i18n import Translator

KIND_LABELS: Final[dict[DepositKind, str]] = {
    DepositKind.INTENT: N_("Intent money"),
    DepositKind.EARNEST: N_("Earnest money"),
    DepositKind.ADVANCE: N_("Advance payment"),
}

KIND_MEANINGS: Final[dict[DepositKind, str]] = {
    DepositKind.INTENT: N_("Intent money reserves your place; it is not earnest money."),
    DepositKind.EARNEST: N_(
        "Earnest money (Civil Code art. 586-587): at most 20 percent of the price; "
        "if you walk away you lose it, if we breach we return it twice over."
    ),
    DepositKind.ADVANCE: N_("An advance payment is a plain prepayment toward the price."),
}


def refund_sentences(terms: DepositTerms, _: Translator) -> list[str]:
    rules = terms.rules
    sentences = [_(KIND_MEANINGS[terms.kind])]
    if rules.refundable_until is RefundableUntil.ALWAYS:
        sentences.append(_(N_("Refundable in full at any time before delivery.")))
    elif rules.refundable_until is RefundableUntil.NEVER or rules.auto_lock_after_hours == 0:
        sentences.append(
            _(N_("The order locks when you pay, so the deposit is not refundable once paid."))
        )
    elif rules.auto_lock_after_hours is None:
        sentences.append(_(N_("Refundable in full until you lock the order.")))
    else:
        sentences.append(
            _(
                N_(
                    "Refundable in full until the order locks: when you lock it, or "
                    "automatically {hours} hours after payment. After the lock it is not refundable."
                ),
                hours=rules.auto_lock_after_hours,
            )
        )
    if rules.cooling_off_hours_after_lock > 0:
        sentences.append(
            _(
                N_("After the lock you still have {hours} hours to cancel with a full refund."),
                hours=rules.cooling_off_hours_after_lock,
            )
        )
    if rules.maker_breach.remedy is BreachRemedy.DOUBLE:
        sentences.append(_(N_("If we breach these terms, you get twice the deposit back.")))
    else:
        sentences.append(_(N_("If we breach these terms, you get the whole deposit back.")))
    sentences.append(
        _(
            N_("A refund reaches your original payment method within {days} days."),
            days=rules.refund_within_days,
        )
    )
    return sentences


def terms_view(terms: DepositTerms, translator: Translator) -> dict[str, Any]:
    """What the configurator shows about one terms document, in the page's language first."""
    locale = translator.locale
    other_locale = "en" if locale == "zh-CN" else "zh-CN"
    return {
        "code": terms.code,
        "version": terms.version,
        "kind": str(terms.kind),
        "kind_label": translator(KIND_LABELS[terms.kind]),
        # Chinese sentences end in a full-width stop and need no space between them.
        "kind_explanation": ("" if locale == "zh-CN" else " ").join(
            refund_sentences(terms, translator)
        ),
        "amount": {"amount": terms.amount.amount, "currency": terms.amount.currency},
        "title": terms.title.pick(locale),
        "body": terms.body.pick(locale),
        "other_lang": html_lang(other_locale),
        # Labelled in the language it reveals, for a reader of that language.
        "other_label": Translator(other_locale)(
            N_("The same terms in English")
            if other_locale == "en"
            else N_("The same terms in Chinese")
        ),
        "other_title": terms.title.pick(other_locale),
        "other_body": terms.body.pick(other_locale),
        "content_hash": terms.content_hash,
    }
