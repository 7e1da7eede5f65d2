"""Experiment configs: frozen dataclasses, `--set key=value` overrides, validation.

An experiment config is a frozen dataclass with a `seed` field, a `validate()` method
raising `ConfigError` (one line naming the field and its allowed range) and a
`quick()` classmethod giving the fast variant. Nested toy configs are addressed with
dotted keys: `--set toy.mean_l0=3`. Sequences are comma separated: `--set sizes=256,512`.
"""

from __future__ import annotations

import dataclasses
import typing

from toys.validation import ConfigError

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
        items = [item for item in text.split(",") if item.strip()]
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


def override(config, key: str, text: str):
    """A copy of `config` with dotted `key` set from `text`; unknown keys raise ConfigError."""
    head, _, rest = key.partition(".")
    names = {field.name for field in dataclasses.fields(config)}
    if head not in names:
        raise ConfigError(f"--set {key}: unknown key; known keys: {', '.join(known_keys(config))}")
    current = getattr(config, head)
    if dataclasses.is_dataclass(current):
        if not rest:
            raise ConfigError(f"--set {key}: is a group; set one of its keys, e.g. {head}.{known_keys(current)[0]}")
        return dataclasses.replace(config, **{head: override(current, rest, text)})
    if rest:
        raise ConfigError(f"--set {key}: unknown key; known keys: {', '.join(known_keys(config))}")
    annotation = typing.get_type_hints(type(config))[head]
    return dataclasses.replace(config, **{head: parse_value(key, annotation, text)})


def apply_overrides(config, assignments: list[str]):
    """Apply `key=value` strings in order."""
    for assignment in assignments:
        key, sep, text = assignment.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set {assignment}: expected key=value")
        config = override(config, key.strip(), text)
    return config


def to_dict(config) -> dict:
    return dataclasses.asdict(config)


def from_dict(cls, values: dict):
    """The config dataclass `cls` from `to_dict`'s output (as read back from config.json):
    nested dataclasses rebuilt, lists turned back into tuples; unknown keys raise ConfigError."""
    hints = typing.get_type_hints(cls)
    known = {field.name for field in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"config: unknown key {unknown[0]!r} for {cls.__name__}; known keys: {', '.join(sorted(known))}")
    kwargs = {}
    for name, value in values.items():
        annotation = hints[name]
        if dataclasses.is_dataclass(annotation) and isinstance(value, dict):
            value = from_dict(annotation, value)
        elif isinstance(value, list):
            value = tuple(tuple(v) if isinstance(v, list) else v for v in value)
        kwargs[name] = value
    return cls(**kwargs)


__all__ = ["ConfigError", "apply_overrides", "from_dict", "known_keys", "override", "parse_value", "to_dict"]
