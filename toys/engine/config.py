"""Configs: fields that declare their meaning and allowed values, and checks that fail early
with one line naming the field and its allowed range.

A config is a frozen dataclass whose fields are declared with `setting(default, doc, low=…,
high=…, choices=…)` — a bound may be a formula over other fields, `high="min(sizes)"`;
`check_fields(config)` enforces every declared rule and `validate()` adds what no formula states.
`toylab run NAME --help` and the fuzz test read the same
declarations (`Rule.describe`), so nothing is written twice and no source is parsed.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import math
from collections.abc import Iterable

INT32_MAX = 2**31 - 1  # the largest whole-number setting (JAX's default integer is int32)


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
        raise ConfigError(f"{field}: got {value!r}, allowed range {_interval(low, high, low_open, high_open)} (finite values)")
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


_FUNCTIONS = {"min": min, "max": max, "int": int}
_NODES = (
    ast.Expression,
    ast.Name,
    ast.Load,
    ast.Attribute,
    ast.Call,
    ast.Starred,
    ast.BinOp,
    ast.UnaryOp,
    ast.Constant,
    ast.Add,
    ast.Sub,
    ast.Mult,
    ast.Div,
    ast.FloorDiv,
    ast.USub,
)


@functools.cache
def _compiled(expression: str):
    """`expression` compiled, once it is known to use only field names, numbers, + − × / //, and
    min, max and int (a declaration is code, but a bound should read as a formula, not run one)."""
    tree = ast.parse(expression, mode="eval")
    for node in ast.walk(tree):
        plain = isinstance(node, _NODES) and not (isinstance(node, ast.Attribute) and node.attr.startswith("_"))
        if not plain or (isinstance(node, ast.Call) and not (isinstance(node.func, ast.Name) and node.func.id in _FUNCTIONS)):
            raise ValueError(f"bound {expression!r}: only field names, numbers, + - * / //, min, max and int are allowed")
    return compile(tree, f"<bound {expression}>", "eval")


def field_expression(expression: str, config):
    """The value of a bound written in terms of `config`'s fields: a field's name (`n_bits`), a field
    of a nested config (`toy.d`), or arithmetic on them with min, max and int (`min(sizes)`,
    `1 - p10`, `int(n_samples * probe_train_fraction) // 4`)."""
    names = {field.name: getattr(config, field.name) for field in dataclasses.fields(config)}
    return eval(_compiled(expression), {"__builtins__": {}, **_FUNCTIONS}, names)  # noqa: S307 (checked above)


@dataclasses.dataclass(frozen=True)
class Rule:
    """What a config field allows, declared with the field (`setting`).

    low / high: bounds, each a number or a formula over the config's fields (`field_expression`:
    `"n_bits"`, `"min(sizes)"`, `"toy.d * min(size_ratios)"`), strict where *_open; choices: the
    allowed values, or a formula naming them (`"sizes"`: one of the sizes); a tuple-valued field
    needs one or more elements, each once where `distinct`, and applies the rule to each.
    `allowed`: the rule in words, for a field whose full check no formula states (it then lives
    in `validate()`); bounds or choices declared beside it are checked here, as what every
    allowed value must meet.
    """

    low: float | str | None = None
    high: float | str | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple | str | None = None
    allowed: str | None = None
    none_allowed: bool = False  # None (the field's "off") is allowed beside the rule
    distinct: bool = False  # a tuple-valued field: no value twice

    @property
    def relative(self) -> bool:
        """Whether the rule depends on other fields (checked after the fixed rules)."""
        return any(isinstance(part, str) for part in (self.low, self.high, self.choices))

    def bound(self, config, value):
        return field_expression(value, config) if isinstance(value, str) else value

    def check(self, name: str, value, config) -> None:
        """Raise ConfigError unless the value (each element of a tuple) obeys the rule."""
        if value is None and self.none_allowed:
            return
        if self.allowed is not None and self.low is None and self.high is None and self.choices is None:
            return  # a rule only in words is checked in validate()
        if isinstance(value, tuple):
            if not value:
                raise ConfigError(f"{name}: got an empty list, allowed: one or more values")
            repeated = sorted({str(element) for element in value if value.count(element) > 1}) if self.distinct else []
            if repeated:
                raise ConfigError(f"{name}: {', '.join(repeated)} given more than once; allowed: {self.describe(config, is_tuple=True)}")
            for element in value:
                self.check(name, element, config)
            return
        if self.choices is not None:
            check_choice(name, value, self.bound(config, self.choices), source=self.choices if isinstance(self.choices, str) else None)
        if self.low is not None or self.high is not None:
            try:
                check_range(
                    name,
                    value,
                    low=self.bound(config, self.low),
                    high=self.bound(config, self.high),
                    low_open=self.low_open,
                    high_open=self.high_open,
                )
            except ConfigError:
                if self.allowed is not None:  # the bound is only part of the rule: state the whole rule
                    finite = " (finite values)" if isinstance(value, float) and math.isinf(value) else ""
                    raise ConfigError(f"{name}: got {value!r}, allowed {self.allowed}{finite}") from None
                if not self.relative:
                    raise
                # name the fields the bound comes from beside its value: "[1, min(sizes) = 8]"
                raise ConfigError(f"{name}: got {value!r}, allowed range {self.describe(config)}") from None

    def describe(self, config=None, is_tuple: bool = False) -> str:
        """The rule in one phrase: `[1, inf)`, `(0, 1]`, `one of a, b`, `[1, min(sizes) = 256]`, `each in …`."""
        if self.allowed is not None:
            return self.allowed
        if self.none_allowed:
            return Rule(self.low, self.high, self.low_open, self.high_open, self.choices).describe(config, is_tuple) + " or none"
        if self.distinct:
            return dataclasses.replace(self, distinct=False).describe(config, is_tuple) + ", each once"

        def show(value):
            if isinstance(value, str):  # a formula over other fields: its text, and its value in this config
                if config is None:
                    return value
                shown = self.bound(config, value)
                shown = ", ".join(map(str, shown)) if isinstance(shown, tuple) else show(shown)
                return f"{value} = {shown}"
            return str(value) if isinstance(value, int) else f"{value:g}"

        if self.choices is not None:
            text = f"one of {show(self.choices)}" if isinstance(self.choices, str) else f"one of {', '.join(map(str, self.choices))}"
            return f"each {text}" if is_tuple else text
        low = "-inf" if self.low is None else show(self.low)
        high = "inf" if self.high is None else show(self.high)
        left = "(" if self.low_open or self.low is None else "["
        right = ")" if self.high_open or self.high is None else "]"
        return ("each in " if is_tuple else "") + f"{left}{low}, {high}{right}"


def setting(
    default,
    doc: str = "",
    *,
    low=None,
    high=None,
    low_open: bool = False,
    high_open: bool = False,
    choices=None,
    allowed: str | None = None,
    none_allowed: bool = False,
    distinct: bool = False,
):
    """A config field with its meaning and allowed values: `dataclasses.field(default, metadata=…)`.

    `--help` prints doc and the rule, `check_fields` enforces it, the fuzz test probes it.
    """
    if low is None and high is None and choices is None and allowed is None:
        return dataclasses.field(default=default, metadata={"doc": doc})  # a bool, or a rule still to declare
    for formula in (low, high, choices):
        if isinstance(formula, str):
            _compiled(formula)  # a malformed bound fails where it is declared
    if choices is not None and not isinstance(choices, str):
        choices = tuple(choices)
    counts = default if isinstance(default, tuple) else (default,)
    if high is None and choices is None and counts and all(isinstance(v, int) and not isinstance(v, bool) for v in counts):
        # a whole number without an upper bound still has one: JAX counts steps, sizes and samples in int32, and a
        # larger value would overflow inside a compiled loop, after the run folder is made
        high = INT32_MAX
    rule = Rule(low, high, low_open, high_open, choices, allowed, none_allowed, distinct)
    return dataclasses.field(default=default, metadata={"doc": doc, "rule": rule})


def rule_of(field: dataclasses.Field) -> Rule | None:
    return field.metadata.get("rule")


def doc_of(field: dataclasses.Field) -> str:
    return field.metadata.get("doc", "")


def check_fixed_bounds(config, prefix: str = "") -> None:
    """The declared rules with fixed bounds of `config` and of the configs nested in it (named
    `prefix` + field + "."): cheap checks that must come before anything sized by the values
    (a memory estimate, validate()'s per-feature arrays)."""
    check_fields(config, prefix, relative=(False,))
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            check_fixed_bounds(value, f"{prefix}{field.name}.")


def check_fields(config, prefix: str = "", relative: tuple[bool, ...] = (False, True)) -> None:
    """Check every field of `config` that declares a rule (names get `prefix`): first the rules with
    fixed bounds, in declaration order, then those bounded by other fields (checked by then).
    `relative=(False,)` or `(True,)`: only one kind."""
    ruled = [(field, rule) for field in dataclasses.fields(config) if (rule := rule_of(field)) is not None]
    for kind in relative:
        for field, rule in ruled:
            if rule.relative == kind:
                rule.check(prefix + field.name, getattr(config, field.name), config)
