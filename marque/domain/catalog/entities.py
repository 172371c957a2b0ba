"""What the maker sells: models, their trims, option groups, options and option rules."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


@dataclass(frozen=True, slots=True)
class LocalizedText:
    """A piece of catalogue data written in both languages."""

    zh: str
    en: str

    def pick(self, locale: str) -> str:
        return self.zh if locale.lower().startswith("zh") else self.en


class Selection(StrEnum):
    """How many options of a group a configuration takes."""

    ONE = "one"  # exactly one; the default option applies when none is chosen
    OPTIONAL_ONE = "optional_one"  # none or one
    MANY = "many"  # any number


class RuleKind(StrEnum):
    REQUIRES = "requires"  # the option needs at least one of the target options
    EXCLUDES = "excludes"  # the option cannot go with any of the target options
    ONLY_WITH_TRIM = "only_with_trim"  # the option exists only on the target trims


@dataclass(frozen=True, slots=True)
class Trim:
    code: str
    name: LocalizedText
    limited_edition: bool = False
    unit_cap: int | None = None
    on_sale_at: datetime | None = None
    #: Terms of this trim; ``None`` means the model's terms apply.
    deposit_terms_code: str | None = None

    def __post_init__(self) -> None:
        if self.limited_edition and (self.unit_cap is None or self.unit_cap <= 0):
            raise ValueError(f"limited edition {self.code!r} needs a positive unit cap")
        if not self.limited_edition and self.unit_cap is not None:
            raise ValueError(f"trim {self.code!r} has a unit cap but is not a limited edition")


@dataclass(frozen=True, slots=True)
class Option:
    code: str
    group: str
    name: LocalizedText
    description: LocalizedText = LocalizedText("", "")


@dataclass(frozen=True, slots=True)
class OptionGroup:
    code: str
    name: LocalizedText
    selection: Selection
    options: tuple[Option, ...]
    default_option: str | None = None

    def __post_init__(self) -> None:
        codes = [option.code for option in self.options]
        if self.default_option is not None and self.default_option not in codes:
            raise ValueError(f"default {self.default_option!r} is not in group {self.code!r}")
        if self.default_option is not None and self.selection is not Selection.ONE:
            raise ValueError(f"only a single-choice group has a default ({self.code!r})")
        if any(option.group != self.code for option in self.options):
            raise ValueError(f"an option of group {self.code!r} names another group")


@dataclass(frozen=True, slots=True)
class OptionRule:
    code: str
    kind: RuleKind
    option: str
    #: Option codes for requires/excludes, trim codes for only_with_trim.
    targets: tuple[str, ...]


@dataclass(frozen=True)
class Model:
    code: str
    name: LocalizedText
    body_type: str  # "sedan", "suv"
    tagline: LocalizedText
    deposit_terms_code: str
    trims: tuple[Trim, ...]
    option_groups: tuple[OptionGroup, ...]
    rules: tuple[OptionRule, ...] = ()
    on_sale_at: datetime | None = None
    _trims: dict[str, Trim] = field(init=False, repr=False, compare=False)
    _options: dict[str, Option] = field(init=False, repr=False, compare=False)
    _groups: dict[str, OptionGroup] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_trims", {trim.code: trim for trim in self.trims})
        object.__setattr__(self, "_groups", {g.code: g for g in self.option_groups})
        options = {o.code: o for g in self.option_groups for o in g.options}
        object.__setattr__(self, "_options", options)
        for rule in self.rules:
            known: dict[str, object] = (
                dict(self._trims) if rule.kind is RuleKind.ONLY_WITH_TRIM else dict(options)
            )
            if rule.option not in options or any(t not in known for t in rule.targets):
                raise ValueError(f"rule {rule.code!r} of {self.code!r} names unknown codes")

    def trim(self, code: str) -> Trim | None:
        return self._trims.get(code)

    def option(self, code: str) -> Option | None:
        return self._options.get(code)

    def group(self, code: str) -> OptionGroup | None:
        return self._groups.get(code)

    @property
    def options(self) -> tuple[Option, ...]:
        return tuple(self._options.values())

    def option_names(self, codes: Iterable[str]) -> list[LocalizedText]:
        return [self._options[c].name for c in codes if c in self._options]

    def trim_names(self, codes: Iterable[str]) -> list[LocalizedText]:
        return [self._trims[c].name for c in codes if c in self._trims]

    def resolve_options(self, chosen: Sequence[str]) -> tuple[str, ...]:
        """The chosen known options plus the default of each single-choice group left empty,
        sorted: what a configuration of these choices really contains."""
        picked = {code for code in chosen if code in self._options}
        for group in self.option_groups:
            empty = not any(option.code in picked for option in group.options)
            if group.selection is Selection.ONE and group.default_option is not None and empty:
                picked.add(group.default_option)
        return tuple(sorted(picked))


def join_names(names: Sequence[LocalizedText], *, conjunction: str) -> LocalizedText:
    """``A, B or C`` / ``A、B或C``; ``conjunction`` is "or" or "and"."""
    zh_word = {"or": "或", "and": "和"}[conjunction]
    en = [n.en for n in names]
    zh = [n.zh for n in names]
    if len(names) <= 1:
        return LocalizedText("".join(zh), "".join(en))
    return LocalizedText(
        "、".join(zh[:-1]) + zh_word + zh[-1],
        ", ".join(en[:-1]) + f" {conjunction} " + en[-1],
    )
