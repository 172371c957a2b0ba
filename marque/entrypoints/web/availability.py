"""Which options cannot be picked next to the current choice, and why, for the configurator.

static/configurator.js runs the same logic in the browser; this copy renders the page
without JavaScript. It only *explains*: the catalogue service remains the judge of whether
a configuration is valid (its violations are shown as well).

- ``only_with_trim``: the option is unavailable on any other trim;
- ``excludes``: the option is unavailable while one of its targets is chosen, and each
  target is unavailable while the option is chosen;
- ``requires``: a chosen option whose targets are all missing is flagged (not disabled,
  since picking a target fixes it).

An option that is already chosen is never disabled (the buyer must be able to remove it);
it is flagged as a problem instead.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RuleView:
    code: str
    kind: str  # "requires" | "excludes" | "only_with_trim"
    option: str
    targets: tuple[str, ...]
    message: str


@dataclass
class Explanation:
    messages: list[str] = field(default_factory=list)
    problem: bool = False

    def add(self, message: str, problem: bool) -> None:
        if message not in self.messages:
            self.messages.append(message)
        self.problem = self.problem or problem

    @property
    def text(self) -> str:
        return " ".join(self.messages)


def explain(
    rules: Iterable[RuleView], trim: str, chosen: Collection[str]
) -> dict[str, Explanation]:
    """option code -> why it is unavailable (or, when chosen, why it is a problem)."""
    result: dict[str, Explanation] = {}

    def add(code: str, message: str, problem: bool) -> None:
        result.setdefault(code, Explanation()).add(message, problem)

    for rule in rules:
        picked = rule.option in chosen
        if rule.kind == "only_with_trim":
            if trim not in rule.targets:
                add(rule.option, rule.message, picked)
        elif rule.kind == "excludes":
            if any(target in chosen for target in rule.targets):
                add(rule.option, rule.message, picked)
            if picked:
                for target in rule.targets:
                    add(target, rule.message, target in chosen)
        elif (
            rule.kind == "requires"
            and picked
            and not any(target in chosen for target in rule.targets)
        ):
            add(rule.option, rule.message, True)
    return result
