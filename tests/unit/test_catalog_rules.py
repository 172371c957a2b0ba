"""The configurator reports every broken rule at once, each with its own code and names."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from marque.domain.catalog import (
    CatalogErrorCode,
    DepositKind,
    DepositTerms,
    LocalizedText,
    Model,
    ModelOffer,
    Option,
    OptionGroup,
    OptionRule,
    PriceBook,
    RuleKind,
    Selection,
    Trim,
    configure,
    describe_rule,
    validate_configuration,
)
from marque.domain.errors import ValidationFailed, Violation
from marque.domain.money import Money
from marque.i18n import Translator
from marque.services.demo_catalog import demo_catalogue
from marque.services.demo_deposit_terms import founders_terms

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
ARC = demo_catalogue().offer("arc")
C = CatalogErrorCode


def codes(violations: list[Violation]) -> list[str]:
    return [violation.code for violation in violations]


def test_a_founders_edition_with_exclusive_paint_and_forged_wheels_is_valid() -> None:
    chosen = ["paint-aurora-green", "wheels-21-forged", "callipers-red", "pack-track"]

    assert validate_configuration(ARC, "founders", chosen) == []


def test_red_callipers_require_the_forged_wheels() -> None:
    violations = validate_configuration(ARC, "performance", ["callipers-red"])

    assert codes(violations) == [C.OPTION_REQUIRES]
    assert violations[0].pointer == "/options/0"
    assert violations[0].params["targets"] == ["wheels-21-forged"]


def test_blue_callipers_accept_either_larger_wheel() -> None:
    assert validate_configuration(ARC, "standard", ["callipers-blue", "wheels-20-sport"]) == []
    assert codes(validate_configuration(ARC, "standard", ["callipers-blue"])) == [C.OPTION_REQUIRES]


def test_pearl_white_paint_excludes_the_ivory_interior() -> None:
    violations = validate_configuration(ARC, "standard", ["interior-ivory", "paint-pearl-white"])

    assert codes(violations) == [C.OPTION_EXCLUDES]
    assert violations[0].params["conflicts"] == ["interior-ivory"]
    assert violations[0].pointer == "/options/1"


def test_forged_wheels_are_only_for_the_performance_trims() -> None:
    violations = validate_configuration(ARC, "long-range", ["wheels-21-forged"])

    assert codes(violations) == [C.OPTION_TRIM_ONLY]
    assert violations[0].params["trims"] == ["performance", "founders"]
    assert violations[0].params["trim"] == "long-range"


def test_two_paints_break_the_single_choice_of_the_group() -> None:
    violations = validate_configuration(ARC, "standard", ["paint-solar-red", "paint-midnight-blue"])

    assert codes(violations) == [C.GROUP_AT_MOST_ONE]
    assert violations[0].params["options"] == ["paint-midnight-blue", "paint-solar-red"]


def test_an_unknown_option_is_reported_once_where_it_first_appears() -> None:
    violations = validate_configuration(ARC, "standard", ["pack-sound", "hover", "hover"])

    assert codes(violations) == [C.UNKNOWN_OPTION]
    assert violations[0].pointer == "/options/1"
    assert violations[0].params["option"] == "hover"


def test_an_unknown_trim_lists_the_trims_there_are() -> None:
    violations = validate_configuration(ARC, "turbo", [])

    assert codes(violations) == [C.UNKNOWN_TRIM]
    assert violations[0].pointer == "/trim"
    assert "Founders Edition" in violations[0].params["trims_en"]
    assert "创始版" in violations[0].params["trims_zh"]


def test_every_violation_is_reported_in_one_answer() -> None:
    chosen = [
        "paint-aurora-green",  # founders only
        "paint-pearl-white",  # second paint, and excludes the ivory interior
        "interior-ivory",
        "callipers-red",  # needs forged wheels
        "pack-lounge",  # needs the comfort pack
        "warp-drive",  # unknown
    ]

    found = set(codes(validate_configuration(ARC, "standard", chosen)))

    assert found == {
        C.OPTION_TRIM_ONLY,
        C.GROUP_AT_MOST_ONE,
        C.OPTION_EXCLUDES,
        C.OPTION_REQUIRES,
        C.UNKNOWN_OPTION,
    }
    assert len(validate_configuration(ARC, "standard", chosen)) == 6  # requires twice


def test_messages_name_the_options_in_the_callers_language() -> None:
    [violation] = validate_configuration(ARC, "standard", ["callipers-red"])

    english = Translator("en")(violation.message, **violation.params)
    chinese = Translator("zh-CN")(violation.message, **violation.params)

    assert english == (
        'Red performance callipers needs 21" Forged performance wheels; '
        "add it or remove Red performance callipers."
    )
    assert chinese == "红色性能卡钳需要搭配21英寸锻造性能轮毂；请加选，或取消红色性能卡钳。"


def test_configure_raises_one_validation_error_carrying_every_violation() -> None:
    with pytest.raises(ValidationFailed) as caught:
        configure(ARC, "standard", ["callipers-red", "wheels-21-forged"], now=NOW)

    assert caught.value.code == C.CONFIGURATION_INVALID
    assert caught.value.params["count"] == 1
    assert codes(caught.value.violations) == [C.OPTION_TRIM_ONLY]
    assert (
        Translator("zh-CN")(caught.value.message, **caught.value.params) == "此配置不符合1条规则。"
    )


def test_each_rule_explains_itself_in_both_languages() -> None:
    rule = next(r for r in ARC.model.rules if r.kind is RuleKind.ONLY_WITH_TRIM)

    template, params = describe_rule(ARC.model, rule)

    assert Translator("en")(template, **params) == (
        '21" Forged performance wheels is only available on Performance AWD or Founders Edition.'
    )
    assert (
        Translator("zh-CN")(template, **params)
        == "21英寸锻造性能轮毂仅适用于高性能版 四驱或创始版。"
    )


# -- a small hand-made catalogue for the rules the demo cannot break --------------------------

T = LocalizedText


def tiny_offer(*, earnest_yuan: int = 20_000, base_yuan: int = 100_000) -> ModelOffer:
    seats = OptionGroup(
        code="seats",
        name=T("座椅", "Seats"),
        selection=Selection.ONE,  # no default: the buyer must choose
        options=(Option("seats-cloth", "seats", T("织物", "Cloth")),),
    )
    roof = OptionGroup(
        code="roof",
        name=T("车顶", "Roof"),
        selection=Selection.OPTIONAL_ONE,
        options=(
            Option("roof-glass", "roof", T("玻璃车顶", "Glass roof")),
            Option("roof-carbon", "roof", T("碳纤维车顶", "Carbon roof")),
        ),
    )
    model = Model(
        code="tiny",
        name=T("小车", "Tiny"),
        body_type="hatchback",
        tagline=T("小", "Small"),
        deposit_terms_code="tiny-earnest",
        trims=(Trim("base", T("基础版", "Base")),),
        option_groups=(seats, roof),
    )
    book = PriceBook(
        code="tiny-1",
        model_code="tiny",
        currency="CNY",
        effective_from=datetime(2026, 1, 1, tzinfo=UTC),
        effective_to=None,
        trim_prices={"base": base_yuan * 100},
    )
    terms = dataclasses.replace(
        founders_terms(datetime(2026, 1, 1, tzinfo=UTC)),
        code="tiny-earnest",
        amount=Money.of_major(earnest_yuan, "CNY"),
    )
    return ModelOffer(model, book, {"tiny-earnest": terms})


def test_a_single_choice_group_without_default_must_be_chosen() -> None:
    violations = validate_configuration(tiny_offer(), "base", [])

    assert codes(violations) == [C.GROUP_REQUIRES_ONE]
    assert violations[0].params["group"] == "seats"


def test_an_optional_group_may_stay_empty_but_takes_at_most_one() -> None:
    offer = tiny_offer()

    assert validate_configuration(offer, "base", ["seats-cloth"]) == []
    assert codes(
        validate_configuration(offer, "base", ["seats-cloth", "roof-glass", "roof-carbon"])
    ) == [C.GROUP_AT_MOST_ONE]


def test_earnest_money_of_exactly_twenty_percent_is_allowed() -> None:
    offer = tiny_offer(earnest_yuan=20_000, base_yuan=100_000)

    assert validate_configuration(offer, "base", ["seats-cloth"]) == []


def test_earnest_money_above_twenty_percent_of_the_price_is_refused() -> None:
    offer = tiny_offer(earnest_yuan=20_001, base_yuan=100_000)

    [violation] = validate_configuration(offer, "base", ["seats-cloth"])

    assert violation.code == C.EARNEST_OVER_CAP
    assert violation.params["cap"] == "¥20,000.00"
    assert "《民法典》第五百八十六条" in Translator("zh-CN")(violation.message, **violation.params)


def test_intent_money_is_not_held_to_the_earnest_cap() -> None:
    offer = tiny_offer(earnest_yuan=50_000)
    terms = dataclasses.replace(offer.model_terms, kind=DepositKind.INTENT)
    intent_offer = dataclasses.replace(offer, terms={terms.code: terms})

    assert validate_configuration(intent_offer, "base", ["seats-cloth"]) == []


def test_a_trim_missing_from_the_price_book_cannot_be_configured() -> None:
    offer = tiny_offer()
    unpriced = dataclasses.replace(
        offer, price_book=dataclasses.replace(offer.price_book, trim_prices={})
    )

    assert codes(validate_configuration(unpriced, "base", ["seats-cloth"])) == [C.TRIM_NOT_PRICED]


def test_a_rule_naming_an_unknown_option_is_refused_when_the_model_is_built() -> None:
    model = tiny_offer().model

    with pytest.raises(ValueError, match="unknown codes"):
        dataclasses.replace(
            model, rules=(OptionRule("bad", RuleKind.REQUIRES, "roof-glass", ("roof-gold",)),)
        )


def test_a_limited_edition_needs_a_unit_cap() -> None:
    with pytest.raises(ValueError, match="unit cap"):
        Trim("launch", T("首发版", "Launch"), limited_edition=True)


def test_a_default_belongs_to_its_group() -> None:
    with pytest.raises(ValueError, match="default"):
        OptionGroup("x", T("x", "x"), Selection.ONE, (), default_option="nope")


def test_the_demo_founders_editions_are_limited_to_five_thousand_with_earnest_money() -> None:
    demo = demo_catalogue()
    for model in demo.models:
        founders = model.trim("founders")
        assert founders is not None
        assert (founders.limited_edition, founders.unit_cap) == (True, 5_000)
        terms: DepositTerms = demo.offer(model.code).terms_for("founders")
        assert terms.kind is DepositKind.EARNEST
        assert terms.amount == Money.of_major(20_000, "CNY")
