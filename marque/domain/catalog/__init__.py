"""The catalogue: models, trims, options and their rules, price books, deposit terms,
and the pure functions that validate and price a configuration."""

from marque.domain.catalog.codes import MESSAGES, RULE_DESCRIPTIONS, CatalogErrorCode
from marque.domain.catalog.configuration import ConfiguredOption, PricedConfiguration, configure
from marque.domain.catalog.deposit_terms import (
    BreachRemedy,
    DepositKind,
    DepositRules,
    DepositTerms,
    MakerBreach,
    RefundableUntil,
    current_terms,
    terms_hash,
)
from marque.domain.catalog.entities import (
    LocalizedText,
    Model,
    Option,
    OptionGroup,
    OptionRule,
    RuleKind,
    Selection,
    Trim,
    join_names,
)
from marque.domain.catalog.offer import ModelOffer
from marque.domain.catalog.pricing import PriceBook, configuration_code
from marque.domain.catalog.rules import (
    EARNEST_CAP_PERCENT,
    describe_rule,
    total_price,
    validate_configuration,
)

__all__ = [
    "EARNEST_CAP_PERCENT",
    "MESSAGES",
    "RULE_DESCRIPTIONS",
    "BreachRemedy",
    "CatalogErrorCode",
    "ConfiguredOption",
    "DepositKind",
    "DepositRules",
    "DepositTerms",
    "LocalizedText",
    "MakerBreach",
    "Model",
    "ModelOffer",
    "Option",
    "OptionGroup",
    "OptionRule",
    "PriceBook",
    "PricedConfiguration",
    "RefundableUntil",
    "RuleKind",
    "Selection",
    "Trim",
    "configuration_code",
    "configure",
    "current_terms",
    "describe_rule",
    "join_names",
    "terms_hash",
    "total_price",
    "validate_configuration",
]
