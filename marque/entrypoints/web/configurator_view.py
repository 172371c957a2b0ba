"""Turns a model offer and the buyer's choices into what the configurator template shows.

The form's fields: ``trim`` and one ``opt_<group>`` per option group (repeated for a
``many`` group). A first visit (no ``trim`` in the query) shows the first trim with each
single-choice group's default option.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from starlette.datastructures import QueryParams

from marque.domain.catalog import ModelOffer, PricedConfiguration, Selection, describe_rule
from marque.domain.errors import N_, Violation
from marque.domain.launch import opening_time
from marque.domain.money import MINOR_UNITS, SYMBOLS
from marque.entrypoints.web.availability import RuleView, explain
from marque.entrypoints.web.deposit_summary import terms_view
from marque.entrypoints.web.opening_view import opening_view
from marque.i18n import Translator

FIELD_PREFIX: Final = "opt_"
CONFIGURATIONS_ENDPOINT: Final = "/api/v1/configurations"


@dataclass(frozen=True)
class Choice:
    trim: str
    options: tuple[str, ...]


def field_name(group_code: str) -> str:
    return f"{FIELD_PREFIX}{group_code}"


def choice_from_query(offer: ModelOffer, query: QueryParams) -> Choice:
    model = offer.model
    trim = query.get("trim")
    if trim is None:
        priced = [t for t in model.trims if offer.price_book.trim_price(t.code) is not None]
        first = (priced or list(model.trims))[0]
        return Choice(first.code, model.resolve_options([]))
    options = [
        value
        for group in model.option_groups
        for value in query.getlist(field_name(group.code))
        if value
    ]
    return Choice(trim, tuple(dict.fromkeys(options)))


def rule_views(offer: ModelOffer, _: Translator) -> list[RuleView]:
    views = []
    for rule in offer.model.rules:
        msgid, params = describe_rule(offer.model, rule)
        views.append(
            RuleView(rule.code, str(rule.kind), rule.option, rule.targets, _(msgid, **params))
        )
    return views


def client_strings(_: Translator) -> dict[str, str]:
    return {
        "updating": _(N_("Updating the price…")),
        "updated": _(N_("Price updated.")),
        "not_valid": _(N_("This combination cannot be ordered; see the reasons listed.")),
        "network_error": _(N_("The price could not be updated. Check your connection.")),
    }


def configurator_context(
    offer: ModelOffer,
    choice: Choice,
    priced: PricedConfiguration | None,
    violations: Sequence[str],
    _: Translator,
    now: datetime | None = None,
) -> dict[str, Any]:
    model, book, locale = offer.model, offer.price_book, _.locale
    chosen = (
        set(model.resolve_options(choice.options)) if priced is None else set(priced.option_codes)
    )
    rules = rule_views(offer, _)
    reasons = explain(rules, choice.trim, chosen)
    trims = [
        {
            "code": trim.code,
            "name": trim.name.pick(locale),
            "base_price": book.trim_price(trim.code),
            "limited_edition": trim.limited_edition,
            "unit_cap": trim.unit_cap,
            "selected": trim.code == choice.trim,
            "opening": opening_view(opening_time(model, trim.code), now, _) if now else None,
        }
        for trim in model.trims
    ]
    groups = []
    for group in model.option_groups:
        options = []
        for option in group.options:
            why = reasons.get(option.code)
            options.append(
                {
                    "code": option.code,
                    "name": option.name.pick(locale),
                    "description": option.description.pick(locale),
                    "price": book.option_price(option.code),
                    "selected": option.code in chosen,
                    "reason": why.text if why else "",
                    "problem": bool(why and why.problem and option.code in chosen),
                }
            )
        groups.append(
            {
                "code": group.code,
                "name": group.name.pick(locale),
                "selection": str(group.selection),
                "field": field_name(group.code),
                "none_selected": group.selection is Selection.OPTIONAL_ONE
                and not any(o["selected"] for o in options),
                "options": options,
            }
        )
    # Before the chosen trim's opening the Reserve button is off (server-side, so it holds
    # without JavaScript); configurator.js follows the trim the buyer picks and turns it on
    # when the countdown reaches the opening. A POST still gets sales.not_open if too early.
    selected = next((trim for trim in trims if trim["selected"]), None)
    terms_by_trim = {trim.code: terms_view(offer.terms_for(trim.code), _) for trim in model.trims}
    selected_terms = terms_by_trim.get(choice.trim) or terms_view(offer.model_terms, _)
    return {
        "model": {
            "code": model.code,
            "name": model.name.pick(locale),
            "tagline": model.tagline.pick(locale),
        },
        "trims": trims,
        "reserve_closed": selected["code"] if selected and selected["opening"] else None,
        "groups": groups,
        "priced": priced,
        "violations": list(violations),
        "terms": selected_terms,
        "client_data": {
            "model": model.code,
            "locale": locale,
            "endpoint": CONFIGURATIONS_ENDPOINT,
            "rules": [
                {
                    "kind": r.kind,
                    "option": r.option,
                    "targets": list(r.targets),
                    "message": r.message,
                }
                for r in rules
            ],
            "terms": terms_by_trim,
            "strings": client_strings(_),
            "minor_units": dict(MINOR_UNITS),
            "symbols": dict(SYMBOLS),
        },
    }


def violation_messages(violations: Sequence[Violation], _: Translator) -> list[str]:
    return [_(violation.message, **violation.params) for violation in violations]
