"""Configs: fields that declare their meaning and allowed values, and checks that fail early
with one line naming the field and its allowed range.

A config is a frozen dataclass whose fields are declared with `setting(default, doc, low=…,
high=…, choices=…)`; `check_fields(config)` enforces every declared rule and `validate()` adds
what involves several fields. `toylab run NAME --help` and the fuzz test read the same
declarations (`Rule.describe`), so nothing is written twice and no source is parsed.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable


class ConfigError(ValueError):
    """An impossible config value. The message is one line: `field: what is allowed`."""


def _interval(low, high, low_open, high_open) -> str:
    left = "(" if low_open or low is None else "["
    right = ")" if high_open or high is None else "]"
    show = lambda v: str(v) if isinstance(v, int) else f"{v:g}"  # noqa: E731 (ints exactly: seeds reach 2⁶³ − 1)
    lo = "-inf" if low is None else show(low)
    hi = "inf" if high is None else show(high)
    return f"{left}{lo}, {hi}{right}"


def check_range(field, value, *, low=None, high=None, low_open=False, high_open=False) -> None:
    """Raise ConfigError unless low ≤ value ≤ high (strict where *_open); NaN and ±inf always fail
    (no setting of the lab means anything at infinity)."""
    if isinstance(value, float) and math.isinf(value):
        raise ConfigError(f"{field}: got {value!r}, allowed range {_interval(low, high, low_open, high_open)} "
                          "(finite values)")
    ok = not (isinstance(value, float) and math.isnan(value))
    if low is not None:
        ok = ok and (value > low if low_open else value >= low)
    if high is not None:
        ok = ok and (value < high if high_open else value <= high)
    if not ok:
        raise ConfigError(f"{field}: got {value!r}, allowed range {_interval(low, high, low_open, high_open)}")


def check_each(field, values: Iterable, **bounds) -> None:
    """check_range for every element of a sequence, and at least one element."""
    values = tuple(values)
    if not values:
        raise ConfigError(f"{field}: got an empty list, allowed: one or more values")
    for value in values:
        check_range(field, value, **bounds)


def check_choice(field, value, choices, source: str | None = None) -> None:
    """Raise ConfigError unless value is one of choices (`source`: the field the choices come from)."""
    if value not in choices:
        origin = f" (one of {source})" if source else ""
        raise ConfigError(f"{field}: got {value!r}, allowed values {', '.join(map(str, choices))}{origin}")


# --- fields that carry their own rule ---------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Rule:
    """What a config field allows, declared with the field (`setting`).

    low / high: bounds (a number, or the name of another field of the same config whose value
    bounds this one), strict where *_open; choices: the allowed values; a tuple-valued field
    needs one or more elements and applies the rule to each. `allowed`: the rule in words, for
    a field whose check is not a plain range or choice (its check then lives in `validate()`).
    """

    low: float | str | None = None
    high: float | str | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple | None = None
    allowed: str | None = None
    none_allowed: bool = False  # None (the field's "off") is allowed beside the rule

    def bound(self, config, value):
        return getattr(config, value) if isinstance(value, str) else value

    def check(self, name: str, value, config) -> None:
        """Raise ConfigError unless the value (each element of a tuple) obeys the rule."""
        if self.allowed is not None or (value is None and self.none_allowed):
            return  # a rule in words is checked in validate()
        if isinstance(value, tuple):
            if not value:
                raise ConfigError(f"{name}: got an empty list, allowed: one or more values")
            for element in value:
                self.check(name, element, config)
            return
        if self.choices is not None:
            check_choice(name, value, self.choices)
        if self.low is not None or self.high is not None:
            check_range(name, value, low=self.bound(config, self.low), high=self.bound(config, self.high),
                        low_open=self.low_open, high_open=self.high_open)

    def describe(self, config=None, is_tuple: bool = False) -> str:
        """The rule in one phrase: `[1, inf)`, `(0, 1]`, `one of a, b`, `each in …`."""
        if self.allowed is not None:
            return self.allowed
        if self.none_allowed:
            return Rule(self.low, self.high, self.low_open, self.high_open, self.choices).describe(config, is_tuple) + " or none"
        if self.choices is not None:
            text = f"one of {', '.join(map(str, self.choices))}"
            return f"each {text}" if is_tuple else text
        def show(value):
            if isinstance(value, str):  # another field: its name, and its value in this config
                return value if config is None else f"{value} = {getattr(config, value)}"
            return str(value) if isinstance(value, int) else f"{value:g}"
        low = "-inf" if self.low is None else show(self.low)
        high = "inf" if self.high is None else show(self.high)
        left = "(" if self.low_open or self.low is None else "["
        right = ")" if self.high_open or self.high is None else "]"
        return ("each in " if is_tuple else "") + f"{left}{low}, {high}{right}"


def setting(default, doc: str = "", *, low=None, high=None, low_open: bool = False, high_open: bool = False,
            choices=None, allowed: str | None = None, none_allowed: bool = False):
    """A config field with its meaning and allowed values: `dataclasses.field(default, metadata=…)`.

    `--help` prints doc and the rule, `check_fields` enforces it, the fuzz test probes it.
    """
    if low is None and high is None and choices is None and allowed is None:
        return dataclasses.field(default=default, metadata={"doc": doc})  # a bool, or a rule still to declare
    rule = Rule(low, high, low_open, high_open, None if choices is None else tuple(choices), allowed, none_allowed)
    return dataclasses.field(default=default, metadata={"doc": doc, "rule": rule})


def rule_of(field: dataclasses.Field) -> Rule | None:
    return field.metadata.get("rule")


def doc_of(field: dataclasses.Field) -> str:
    return field.metadata.get("doc", "")


def check_fields(config, prefix: str = "") -> None:
    """Check every field of `config` that declares a rule (names get `prefix`): first the rules with
    fixed bounds, in declaration order, then those bounded by another field (checked by then)."""
    ruled = [(field, rule_of(field)) for field in dataclasses.fields(config) if rule_of(field) is not None]
    for relative in (False, True):
        for field, rule in ruled:
            if (isinstance(rule.low, str) or isinstance(rule.high, str)) == relative:
                rule.check(prefix + field.name, getattr(config, field.name), config)
