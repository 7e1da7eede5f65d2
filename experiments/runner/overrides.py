"""Experiment configs: frozen dataclasses, `--set key=value` overrides, validation.

An experiment config is a frozen dataclass with a `seed` field, a `validate()` method
raising `ConfigError` (one line naming the field and its allowed range) and a
`quick()` classmethod giving the fast variant. Nested toy configs are addressed with
dotted keys: `--set toy.mean_l0=3`. Sequences are comma separated: `--set sizes=256,512`.
"""

from __future__ import annotations

import dataclasses
import math
import typing

from toys.engine.config import ConfigError

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def _parse_scalar(key: str, kind, text: str):
    try:
        if kind is bool:
            lowered = text.strip().lower()
            if lowered not in _TRUE | _FALSE:
                raise ValueError
            return lowered in _TRUE
        if kind is int:
            return int(text)
        if kind is float:
            return float(text)
        if kind is str:
            return text
    except ValueError:
        raise ConfigError(f"{key}: got {text!r}, expected a value of type {kind.__name__}") from None
    raise ConfigError(f"{key}: cannot be set from the command line")


def parse_value(key: str, annotation, text: str):
    """Turn the text of `--set key=text` into a value of the field's annotated type."""
    origin = typing.get_origin(annotation)
    if origin is tuple:
        element = typing.get_args(annotation)[0]
        items = text.split(",")
        if any(not item.strip() for item in items):
            raise ConfigError(f"{key}: got {text!r}, an empty item in the list; expected comma-separated values of type {element.__name__}")
        return tuple(_parse_scalar(key, element, item.strip()) for item in items)
    if origin is typing.Union or str(origin) == "<class 'types.UnionType'>":
        options = [a for a in typing.get_args(annotation) if a is not type(None)]
        if text.strip().lower() == "none":
            return None
        return _parse_scalar(key, options[0], text)
    return _parse_scalar(key, annotation, text)


def known_keys(config) -> list[str]:
    """Every settable dotted key of a (nested) config dataclass."""
    keys = []
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        if dataclasses.is_dataclass(value):
            keys += [f"{field.name}.{sub}" for sub in known_keys(value)]
        else:
            keys.append(field.name)
    return keys


def override(config, key: str, text: str, prefix: str = ""):
    """A copy of `config` with dotted `key` set from `text`; unknown keys raise ConfigError.

    Messages name the full dotted key (`prefix` carries the groups already descended).
    """
    head, _, rest = key.partition(".")
    full = prefix + key
    names = {field.name for field in dataclasses.fields(config)}
    known = ", ".join(prefix + name for name in known_keys(config))
    if head not in names:
        raise ConfigError(f"--set {full}: unknown key; known keys: {known}")
    current = getattr(config, head)
    if dataclasses.is_dataclass(current):
        if not rest:
            raise ConfigError(f"--set {full}: is a group; set one of its keys, e.g. {full}.{known_keys(current)[0]}")
        return dataclasses.replace(config, **{head: override(current, rest, text, prefix + head + ".")})
    if rest:
        raise ConfigError(f"--set {full}: unknown key; known keys: {known}")
    annotation = typing.get_type_hints(type(config))[head]
    return dataclasses.replace(config, **{head: parse_value(full, annotation, text)})


def apply_overrides(config, assignments: list[str]):
    """Apply `key=value` strings in order."""
    for assignment in assignments:
        key, sep, text = assignment.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set {assignment}: expected key=value")
        config = override(config, key.strip(), text)
    return config


def with_command_line(config, seed: int | None, assignments: list[str]):
    """`config` as the command line sets it: `--seed` (refused when a `--set seed=…` disagrees),
    then the `--set key=value` assignments in order, then the dependent settings the user did not
    set following their sources. Nothing is validated here beyond parsing."""
    if seed is not None:
        config = dataclasses.replace(config, seed=seed)
    config = apply_overrides(config, assignments)
    if seed is not None and config.seed != seed:
        raise ConfigError(f"seed: --seed {seed} and --set seed={config.seed} disagree; give one of them")
    return follow_sources(config, {assignment.partition("=")[0].strip() for assignment in assignments})


def follow_sources(config, assigned: set[str]):
    """Dependent settings (`Config.FOLLOWS = {dependent: source}`) that the user did not set follow
    their source: when the dependent value is not among the source's values, it becomes the
    source value nearest to it (on a log scale, for sizes)."""
    for dependent, source in getattr(type(config), "FOLLOWS", {}).items():
        value, choices = getattr(config, dependent), getattr(config, source)
        if dependent in assigned or value in choices or not choices or any(c <= 0 for c in choices):
            continue
        nearest = min(choices, key=lambda c: abs(math.log(c) - math.log(max(value, 1e-12))))
        config = dataclasses.replace(config, **{dependent: nearest})
    return config


def to_dict(config) -> dict:
    return dataclasses.asdict(config)


def _matches(annotation, value) -> bool:
    """Whether a value read from JSON has the field's annotated type (bool is not a number here)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Union or str(origin) == "<class 'types.UnionType'>":
        return any(_matches(option, value) for option in typing.get_args(annotation))
    if annotation is type(None):
        return value is None
    if origin is tuple:
        arguments = typing.get_args(annotation)
        if not isinstance(value, (list, tuple)):
            return False
        if len(arguments) == 2 and arguments[1] is Ellipsis:
            return all(_matches(arguments[0], item) for item in value)
        return len(arguments) == len(value) and all(_matches(a, item) for a, item in zip(arguments, value))
    if annotation is bool:
        return isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if annotation is str:
        return isinstance(value, str)
    return True  # a type JSON cannot carry differently (nothing to check)


def _type_name(annotation) -> str:
    arguments = typing.get_args(annotation)
    if typing.get_origin(annotation) is tuple and len(arguments) == 2 and arguments[1] is Ellipsis:
        return f"a list of {_type_name(arguments[0])}"
    return getattr(annotation, "__name__", None) or str(annotation).replace("typing.", "")


def from_dict(cls, values: dict, prefix: str = ""):
    """The config dataclass `cls` from `to_dict`'s output (as read back from config.json):
    nested dataclasses rebuilt, lists turned back into tuples; unknown keys and values of the
    wrong type (`"sizes": "abc"`) raise ConfigError naming the dotted key."""
    if not isinstance(values, dict):
        raise ConfigError(f"config{'.' + prefix.rstrip('.') if prefix else ''}: got {type(values).__name__}, expected a JSON object")
    hints = typing.get_type_hints(cls)
    known = {field.name for field in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"config: unknown key {prefix + unknown[0]!r}; known keys: {', '.join(prefix + key for key in sorted(known))}")
    kwargs = {}
    for name, value in values.items():
        annotation = hints[name]
        if dataclasses.is_dataclass(annotation):
            value = from_dict(annotation, value, prefix + name + ".")
        elif not _matches(annotation, value):
            raise ConfigError(f"{prefix + name}: got {str(value)[:40]!r}, expected {_type_name(annotation)}")
        elif isinstance(value, list):
            value = tuple(tuple(v) if isinstance(v, list) else v for v in value)
        kwargs[name] = value
    return cls(**kwargs)


__all__ = ["ConfigError", "apply_overrides", "from_dict", "known_keys", "override", "parse_value", "to_dict"]
