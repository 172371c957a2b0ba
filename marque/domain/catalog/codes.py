"""Stable error codes of the catalogue and the English templates of their messages.

Each template is a gettext msgid. Option, trim, group and model names are bilingual data,
so a violation carries both names in its params (``option_en`` / ``option_zh`` ...): the
English template names the ``*_en`` params and its zh-CN translation the ``*_zh`` ones,
which lets any renderer show the names in the caller's language with plain gettext.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from marque.domain.errors import N_


class CatalogErrorCode(StrEnum):
    UNKNOWN_MODEL = "catalog.unknown_model"
    UNKNOWN_TRIM = "catalog.unknown_trim"
    UNKNOWN_OPTION = "catalog.unknown_option"
    UNKNOWN_CONFIGURATION = "catalog.unknown_configuration"
    OPTION_REQUIRES = "catalog.option_requires"
    OPTION_EXCLUDES = "catalog.option_excludes"
    OPTION_TRIM_ONLY = "catalog.option_trim_only"
    GROUP_REQUIRES_ONE = "catalog.group_requires_one"
    GROUP_AT_MOST_ONE = "catalog.group_at_most_one"
    TRIM_NOT_PRICED = "catalog.trim_not_priced"
    EARNEST_OVER_CAP = "catalog.earnest_over_cap"
    CONFIGURATION_INVALID = "catalog.configuration_invalid"


MESSAGES: Final[dict[CatalogErrorCode, str]] = {
    CatalogErrorCode.UNKNOWN_MODEL: N_('There is no model "{model}".'),
    CatalogErrorCode.UNKNOWN_TRIM: N_(
        '{model_en} has no trim "{trim}"; choose one of: {trims_en}.'
    ),
    CatalogErrorCode.UNKNOWN_OPTION: N_(
        '{model_en} has no option "{option}"; see the option list of the model.'
    ),
    CatalogErrorCode.UNKNOWN_CONFIGURATION: N_('There is no configuration "{configuration}".'),
    CatalogErrorCode.OPTION_REQUIRES: N_(
        "{option_en} needs {targets_en}; add it or remove {option_en}."
    ),
    CatalogErrorCode.OPTION_EXCLUDES: N_(
        "{option_en} cannot be combined with {conflicts_en}; remove one of them."
    ),
    CatalogErrorCode.OPTION_TRIM_ONLY: N_(
        "{option_en} is only available on {trims_en}, not on {trim_en}."
    ),
    CatalogErrorCode.GROUP_REQUIRES_ONE: N_("Choose one option for {group_en}."),
    CatalogErrorCode.GROUP_AT_MOST_ONE: N_(
        "Choose at most one option for {group_en}; you chose {options_en}."
    ),
    CatalogErrorCode.TRIM_NOT_PRICED: N_(
        "{trim_en} has no price in price book {price_book}, so it cannot be configured now."
    ),
    CatalogErrorCode.EARNEST_OVER_CAP: N_(
        "Earnest money of {amount} is above the legal limit of {cap} for a price of {total} "
        "(at most 20%; Civil Code art. 586)."
    ),
    CatalogErrorCode.CONFIGURATION_INVALID: N_("This configuration breaks {count} rule(s)."),
}

#: How a rule reads when the configurator explains it (not as a violation).
RULE_DESCRIPTIONS: Final[dict[str, str]] = {
    "requires": N_("{option_en} needs {targets_en}."),
    "excludes": N_("{option_en} cannot be combined with {targets_en}."),
    "only_with_trim": N_("{option_en} is only available on {targets_en}."),
}
