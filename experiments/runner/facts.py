"""A run's facts: the named values results.json holds beside its table, typed.

The results table (`experiments.runner.table`) holds every number a study reports, each beside its
chance. What remains in results.json is a run's *facts*: the settings and constants its numbers were
made under (a null's stratum, the level α, a toy's size, p), which a summary or a figure states beside
the numbers. A study declares them once, as a frozen dataclass, writes them with `write` and reads them
back with `read`: attributes the type checker knows, instead of strings looked up in a dict.

Field types: bool, int, float, str, a frozen dataclass or NamedTuple of these (written as an object),
a tuple of them (written as a list), `dict[str, X]` (an object of them), `X | None`, or a plain
`dict`/`list` (read as it is). `read` checks
each declared field: a missing one (without a default) or a mistyped one is one line naming results.json
and the field.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, TypeVar

F = TypeVar("F")


def _is_record(kind) -> bool:
    return isinstance(kind, type) and (dataclasses.is_dataclass(kind) or (issubclass(kind, tuple) and hasattr(kind, "_fields")))


def _names(kind) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(kind)) if dataclasses.is_dataclass(kind) else kind._fields


def _to_json(value) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {name: _to_json(getattr(value, name)) for name in _names(type(value))}
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return {name: _to_json(getattr(value, name)) for name in value._fields}
    if isinstance(value, (list, tuple)):
        return [_to_json(item) for item in value]
    if isinstance(value, dict):
        return {key: _to_json(item) for key, item in value.items()}
    return value


def write(facts) -> dict:
    """The facts as results.json holds them (records as objects, tuples as lists)."""
    if not (dataclasses.is_dataclass(facts) and not isinstance(facts, type)):
        raise TypeError(f"facts: got {type(facts).__name__}, allowed a dataclass instance")
    return _to_json(facts)


def _convert(value, kind, where: str):
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(kind)
        if value is None and type(None) in options:
            return None
        (inner,) = [option for option in options if option is not type(None)]
        return _convert(value, inner, where)
    if _is_record(kind):
        if not isinstance(value, dict):
            raise ValueError(f"{where}: got {type(value).__name__}, allowed an object")
        return read(value, kind, where)
    if origin is dict and typing.get_args(kind):
        (_, inner) = typing.get_args(kind)  # dict[str, X]
        if not isinstance(value, dict):
            raise ValueError(f"{where}: got {type(value).__name__}, allowed an object")
        return {name: _convert(item, inner, f"{where}: {name}") for name, item in value.items()}
    if origin is tuple:
        (inner, _) = typing.get_args(kind)  # tuple[X, ...]
        if not isinstance(value, list):
            raise ValueError(f"{where}: got {type(value).__name__}, allowed a list")
        return tuple(_convert(item, inner, f"{where}[{index}]") for index, item in enumerate(value))
    plain = origin or kind
    if plain is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if plain in (int, float) and isinstance(value, bool) or not isinstance(value, plain):
        raise ValueError(f"{where}: got {type(value).__name__}, allowed {getattr(plain, '__name__', plain)}")
    return value


def _defaults(kind) -> dict:
    if dataclasses.is_dataclass(kind):
        return {f.name: f.default for f in dataclasses.fields(kind) if f.default is not dataclasses.MISSING}
    return dict(kind._field_defaults)


def read(results: dict, schema: type[F], where: str = "results.json") -> F:
    """The facts `schema` declares, read from a results.json (or one of its objects) and checked; a field
    with a default may be absent (a fact only some records have)."""
    hints = typing.get_type_hints(schema)
    defaults = _defaults(schema)
    values = {}
    for name in _names(schema):
        if name not in results:
            if name in defaults:
                values[name] = defaults[name]
                continue
            raise ValueError(f"{where}: {name}: missing, which the study reads")
        values[name] = _convert(results[name], hints[name], f"{where}: {name}")
    return schema(**values)
