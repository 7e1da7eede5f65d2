"""The one guarded reader: every file the lab reads (run folders' JSON records, saved dictionaries'
cfg.json, SAELens and synthetic-model folders, `.npy` activations) comes in through here.

- `read_bytes(path, what, limit)`: a regular file only (not a FIFO, a device, a directory or
  /proc's endless files: opened non-blocking and checked with fstat on the open descriptor, so a
  file swapped for a FIFO between a check and the open cannot block), at most `limit` bytes.
- `read_json(path, what, …)`: UTF-8 JSON of bounded size and depth (`MAX_DEPTH`), whose
  integers have at most `MAX_INT_DIGITS` digits (a 401-digit integer would otherwise overflow
  far from here) and whose floats are finite (1e999 parses to inf; NaN and Infinity are refused
  unless `allow_nonfinite`, for results that record a NaN score as such).
- `check_fields(obj, fields, where)`: each value against the field it fills (`Field`): the JSON
  type exactly (true is not 1 and "true" is not true), a range, allowed values.

Every refusal is a `GuardedReadError` (a ConfigError: one line, exit 2 at the command line) that
names the file (and, through `where`, the field).
"""

from __future__ import annotations

import json
import math
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from toys.engine.config import ConfigError

MAX_JSON_BYTES = 256 * 2**20  # a results.json of the largest study is a few MB
MAX_DEPTH = 64  # the deepest record toylab writes is under 10 levels
MAX_INT_DIGITS = 20  # 2⁶³ has 19 digits


class GuardedReadError(ConfigError):
    """A file that cannot be what it should be; the message is one line naming it."""


def read_bytes(path: str | Path, what: str, limit: int) -> bytes:
    """The bytes of a regular file of at most `limit` bytes (GuardedReadError otherwise)."""
    path = Path(path)
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise GuardedReadError(f"{what}: {path} does not exist") from None
    except OSError as error:
        raise GuardedReadError(f"{what}: {path} cannot be read ({os.strerror(error.errno) if error.errno else error})") from None
    try:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):
            raise GuardedReadError(f"{what}: {path} is not a regular file")
        if info.st_size > limit:
            raise GuardedReadError(f"{what}: {path} holds {info.st_size} bytes, more than the {limit} allowed")
        chunks, total = [], 0
        while True:  # (st_size is 0 for some special files that still stream: read to the cap, no further)
            try:
                chunk = os.read(descriptor, min(1 << 20, limit + 1 - total))
            except OSError as error:
                raise GuardedReadError(f"{what}: {path} cannot be read ({os.strerror(error.errno or 0)})") from None
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:
                raise GuardedReadError(f"{what}: {path} holds more than the {limit} bytes allowed")
        return b"".join(chunks)
    finally:
        os.close(descriptor)


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise ValueError(f"an integer of {len(text.lstrip('-'))} digits (at most {MAX_INT_DIGITS})")
    return int(text)


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:30]} is beyond a float's range")
    return value


def _depth(value) -> int:
    """The nesting depth of parsed JSON, without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        if isinstance(item, dict):
            stack.extend((v, level + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, level + 1) for v in item)
    return deepest


def read_json(path: str | Path, what: str, limit: int = MAX_JSON_BYTES, allow_nonfinite: bool = False, expect: type | None = dict):
    """A JSON file read through `read_bytes`, bounded as the module docstring says; `expect`: the type of
    its top level (None: any)."""
    raw = read_bytes(path, what, limit)

    def refuse_constant(name: str):
        if allow_nonfinite:
            return {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}[name]
        raise ValueError(f"{name} (numbers must be finite)")

    try:
        value = json.loads(raw.decode("utf-8"), parse_int=_parse_int, parse_float=_parse_float, parse_constant=refuse_constant)
    except UnicodeDecodeError:
        raise GuardedReadError(f"{what}: {path} is not UTF-8 text") from None
    except RecursionError:
        raise GuardedReadError(f"{what}: {path} is nested too deeply (at most {MAX_DEPTH} levels)") from None
    except ValueError as error:
        raise GuardedReadError(f"{what}: {path} is not valid JSON ({str(error).splitlines()[0][:120]})") from None
    if _depth(value) > MAX_DEPTH:
        raise GuardedReadError(f"{what}: {path} is nested too deeply (at most {MAX_DEPTH} levels)")
    if expect is not None and not isinstance(value, expect):
        raise GuardedReadError(
            f"{what}: {path} holds a JSON {type(value).__name__}, expected a JSON {'object' if expect is dict else expect.__name__}"
        )
    return value


@dataclass(frozen=True)
class Field:
    """What a file's field may hold: `kind` one of "int", "number", "bool", "text", "object", with an
    optional range (low, high: inclusive), allowed values, and whether null is allowed."""

    kind: str
    low: float | None = None
    high: float | None = None
    allowed: tuple = ()
    nullable: bool = False

    def describe(self) -> str:
        if self.allowed:
            return "allowed values " + ", ".join(json.dumps(v) for v in self.allowed)
        words = {
            "int": "a whole number",
            "number": "a finite number",
            "bool": "true or false",
            "text": "a string",
            "object": "a JSON object",
        }[self.kind]
        if self.low is not None or self.high is not None:
            words += f" in [{'-inf' if self.low is None else _show(self.low)}, {'inf' if self.high is None else _show(self.high)}]"
        return words + (" or null" if self.nullable else "")


def _show(value) -> str:
    return str(value) if isinstance(value, int) else f"{value:g}"


def _fits(value, field: Field) -> bool:
    if value is None:
        return field.nullable
    if field.kind == "bool":
        ok = isinstance(value, bool)
    elif field.kind == "int":
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif field.kind == "number":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    elif field.kind == "text":
        ok = isinstance(value, str)
    elif field.kind == "object":
        ok = isinstance(value, dict)
    else:
        raise ValueError(f"unknown field kind {field.kind!r}")
    if ok and field.allowed:
        ok = any(value == a and type(value) is type(a) for a in field.allowed)
    if ok and field.low is not None:
        ok = value >= field.low
    if ok and field.high is not None:
        ok = value <= field.high
    return ok


def check_fields(record: dict, fields: dict[str, Field], where: str, prefix: str = "") -> None:
    """Each present field of `record` against its declaration; GuardedReadError naming `where` and the field
    (`prefix` + its name, for a nested object)."""
    for name, field in fields.items():
        if name in record and not _fits(record[name], field):
            shown = json.dumps(record[name])
            shown = shown if len(shown) <= 40 else shown[:37] + "..."
            raise GuardedReadError(f"{where}: {prefix}{name}: got {shown}, expected {field.describe()}")
