"""The configurator's judge: every rule a set of choices breaks, each with its own code."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from marque.domain.catalog.codes import MESSAGES, RULE_DESCRIPTIONS, CatalogErrorCode
from marque.domain.catalog.deposit_terms import DepositKind
from marque.domain.catalog.entities import (
    LocalizedText,
    Model,
    OptionRule,
    RuleKind,
    Selection,
    Trim,
    join_names,
)
from marque.domain.catalog.offer import ModelOffer
from marque.domain.errors import Violation
from marque.domain.money import Money

#: Civil Code art. 586: earnest money may not exceed 20% of the contract price.
EARNEST_CAP_PERCENT = 20


def named(prefix: str, names: Sequence[LocalizedText], conjunction: str = "and") -> dict[str, str]:
    joined = join_names(names, conjunction=conjunction)
    return {f"{prefix}_en": joined.en, f"{prefix}_zh": joined.zh}


def validate_configuration(
    offer: ModelOffer, trim_code: str, options: Sequence[str]
) -> list[Violation]:
    """Every violated rule for ``trim_code`` with ``options`` chosen, in a stable order:
    trim, unknown options, groups, option rules, then the earnest-money cap."""
    model = offer.model
    model_names = named("model", [model.name])
    violations: list[Violation] = []
    trim = model.trim(trim_code)
    if trim is None:
        violations.append(
            _violation(
                CatalogErrorCode.UNKNOWN_TRIM,
                "/trim",
                model=model.code,
                trim=trim_code,
                **model_names,
                **named("trims", [t.name for t in model.trims], "or"),
            )
        )
    elif offer.price_book.trim_price(trim.code) is None:
        violations.append(
            _violation(
                CatalogErrorCode.TRIM_NOT_PRICED,
                "/trim",
                trim=trim.code,
                price_book=offer.price_book.code,
                **named("trim", [trim.name]),
            )
        )
    position: dict[str, int] = {}
    for index, code in enumerate(options):
        if code in position:
            continue
        position[code] = index
        if model.option(code) is None:
            violations.append(
                _violation(
                    CatalogErrorCode.UNKNOWN_OPTION,
                    f"/options/{index}",
                    model=model.code,
                    option=code,
                    **model_names,
                )
            )
    resolved = set(model.resolve_options(options))
    violations.extend(_group_violations(model, resolved))
    for rule in model.rules:
        if rule.option in resolved:
            violation = _rule_violation(model, rule, trim, resolved, position)
            if violation is not None:
                violations.append(violation)
    if trim is not None and offer.price_book.trim_price(trim.code) is not None:
        earnest = _earnest_violation(offer, trim, resolved)
        if earnest is not None:
            violations.append(earnest)
    return violations


def describe_rule(model: Model, rule: OptionRule) -> tuple[str, dict[str, Any]]:
    """The msgid and params that explain ``rule`` to a buyer."""
    option = model.option(rule.option)
    assert option is not None
    if rule.kind is RuleKind.ONLY_WITH_TRIM:
        targets = named("targets", model.trim_names(rule.targets), "or")
    else:
        word = "or" if rule.kind is RuleKind.REQUIRES else "and"
        targets = named("targets", model.option_names(rule.targets), word)
    params: dict[str, Any] = {"option": rule.option, "targets": list(rule.targets)}
    params.update(named("option", [option.name]), **targets)
    return RULE_DESCRIPTIONS[str(rule.kind)], params


def _violation(code: CatalogErrorCode, pointer: str, **params: Any) -> Violation:
    return Violation(code=str(code), message=MESSAGES[code], params=params, pointer=pointer)


def _group_violations(model: Model, resolved: set[str]) -> list[Violation]:
    found: list[Violation] = []
    for group in model.option_groups:
        picked = [option for option in group.options if option.code in resolved]
        group_names = named("group", [group.name])
        if group.selection is Selection.ONE and not picked:
            found.append(
                _violation(
                    CatalogErrorCode.GROUP_REQUIRES_ONE, "/options", group=group.code, **group_names
                )
            )
        if group.selection is not Selection.MANY and len(picked) > 1:
            found.append(
                _violation(
                    CatalogErrorCode.GROUP_AT_MOST_ONE,
                    "/options",
                    group=group.code,
                    options=[option.code for option in picked],
                    **group_names,
                    **named("options", [option.name for option in picked]),
                )
            )
    return found


def _rule_violation(
    model: Model,
    rule: OptionRule,
    trim: Trim | None,
    resolved: set[str],
    position: dict[str, int],
) -> Violation | None:
    option = model.option(rule.option)
    assert option is not None
    pointer = f"/options/{position[rule.option]}" if rule.option in position else "/options"
    base: dict[str, Any] = {
        "rule": rule.code,
        "option": rule.option,
        **named("option", [option.name]),
    }
    if rule.kind is RuleKind.REQUIRES:
        if any(target in resolved for target in rule.targets):
            return None
        return _violation(
            CatalogErrorCode.OPTION_REQUIRES,
            pointer,
            targets=list(rule.targets),
            **base,
            **named("targets", model.option_names(rule.targets), "or"),
        )
    if rule.kind is RuleKind.EXCLUDES:
        conflicts = [target for target in rule.targets if target in resolved]
        if not conflicts:
            return None
        return _violation(
            CatalogErrorCode.OPTION_EXCLUDES,
            pointer,
            conflicts=conflicts,
            **base,
            **named("conflicts", model.option_names(conflicts)),
        )
    if trim is None or trim.code in rule.targets:
        return None
    return _violation(
        CatalogErrorCode.OPTION_TRIM_ONLY,
        pointer,
        trims=list(rule.targets),
        trim=trim.code,
        **base,
        **named("trims", model.trim_names(rule.targets), "or"),
        **named("trim", [trim.name]),
    )


def total_price(offer: ModelOffer, trim: Trim, resolved: set[str]) -> Money:
    base = offer.price_book.trim_price(trim.code)
    assert base is not None
    for code in resolved:
        base = base + offer.price_book.option_price(code)
    return base


def _earnest_violation(offer: ModelOffer, trim: Trim, resolved: set[str]) -> Violation | None:
    terms = offer.terms_for(trim.code)
    if terms.kind is not DepositKind.EARNEST:
        return None
    total = total_price(offer, trim, resolved)
    if terms.amount * 100 <= total * EARNEST_CAP_PERCENT:
        return None
    return _violation(
        CatalogErrorCode.EARNEST_OVER_CAP,
        "/trim",
        terms=terms.code,
        amount=terms.amount.format(),
        total=total.format(),
        cap=total.fraction(EARNEST_CAP_PERCENT, 100).format(),
    )
