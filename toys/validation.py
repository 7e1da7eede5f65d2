"""Config checks that fail early with one line naming the field and its allowed range."""

from __future__ import annotations

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
    """Raise ConfigError unless low ≤ value ≤ high (strict where *_open); NaN always fails."""
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
