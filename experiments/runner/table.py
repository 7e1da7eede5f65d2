"""The results table: one tidy row per number a study reports, each beside its chance.

A row is (arm, size, seed, reader, metric, value, chance, unit, setting):
- arm: what produced the dictionary or the reading ("topk", "relu", "random", "decoupled", …);
- size: the dictionary size m (None where a row has none); seed: the run seed of that arm's
  dictionary (None for a row pooled over seeds);
- reader: what read the number ("metrics" for the streamed scores of `sae.evaluate`, a grader's
  or a method's name otherwise);
- metric, value: the number (a finite float, or None where it is undefined);
- chance: the same metric for the chance arm of the same shape (a random dictionary of the same
  size read the same way), or a stated chance level; None where the study has none;
- unit: "", "deg", "count", …; setting: the row's other coordinates, {name: value} ({"circle":
  "days", "k": 2}; values strings or numbers).

`Result.table` holds the rows; the runner writes them into results.json as "table" (a list of
objects with exactly these keys) before the figures and the summary are made, so the summary,
the headline, panels, the report and `toylab evaluate` read the one table (`read`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable

import numpy as np

FIELDS = ("arm", "size", "seed", "reader", "metric", "value", "chance", "unit", "setting")
STREAMED = "metrics"  # the reader of the streamed scores (sae.evaluate)


def _number(value, what: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)):
        return float(value)
    if not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{what}: got {type(value).__name__}, allowed a finite number or None")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{what}: got {value}, allowed a finite number or None")
    return value


@dataclasses.dataclass(frozen=True)
class Row:
    arm: str
    metric: str
    value: float | None
    chance: float | None = None
    size: int | None = None
    seed: int | None = None
    reader: str = STREAMED
    unit: str = ""
    setting: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        where = f"table row {self.arm!r}/{self.metric!r}"
        for name in ("arm", "metric", "reader"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise ValueError(f"{where}: {name} must be a non-empty string")
        if not isinstance(self.unit, str):
            raise ValueError(f"{where}: unit must be a string")
        if not isinstance(self.setting, dict) or not all(
            isinstance(name, str)
            and isinstance(value, (str, int, float, np.integer, np.floating))
            and not isinstance(value, (bool, np.bool_))
            for name, value in self.setting.items()
        ):
            raise ValueError(f"{where}: setting must map names to strings or numbers")
        object.__setattr__(
            self, "setting", {name: value.item() if isinstance(value, np.generic) else value for name, value in self.setting.items()}
        )
        for name in ("size", "seed"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0):
                raise ValueError(f"{where}: {name}: got {value!r}, allowed a non-negative integer or None")
            object.__setattr__(self, name, None if value is None else int(value))
        object.__setattr__(self, "value", _number(self.value, f"{where}: value"))
        object.__setattr__(self, "chance", _number(self.chance, f"{where}: chance"))

    def key(self) -> tuple:
        """Everything but the numbers: two rows with the same key report the same thing."""
        return (self.arm, self.size, self.seed, self.reader, self.metric, self.coordinates())

    def coordinates(self) -> tuple:
        """The setting as a sorted tuple of (name, value) pairs (hashable, order-free)."""
        return tuple(sorted(self.setting.items()))


def to_json(rows: Iterable[Row]) -> list[dict]:
    """The rows as results.json holds them; refuses two rows with the same key."""
    seen: set[tuple] = set()
    out = []
    for row in rows:
        if row.key() in seen:
            raise ValueError(f"table: two rows for {row.key()}")
        seen.add(row.key())
        out.append(dataclasses.asdict(row))
    return out


def read(results: dict) -> list[Row]:
    """The rows of a results.json (an empty list where it has no table), checked field by field."""
    rows = results.get("table", [])
    if not isinstance(rows, list):
        raise ValueError(f"results.json: table: got {type(rows).__name__}, allowed a list of rows")
    out = []
    for index, row in enumerate(rows):
        if not isinstance(row, dict) or set(row) != set(FIELDS):
            raise ValueError(f"results.json: table[{index}]: allowed an object with exactly the keys {', '.join(FIELDS)}")
        out.append(Row(**row))
    return out


def select(rows: Iterable[Row], setting: dict | None = None, **where) -> list[Row]:
    """The rows whose fields equal every value given (e.g. metric="mmcs", size=256) and whose setting
    holds every item of `setting` (e.g. {"circle": "days"})."""
    return [
        row
        for row in rows
        if all(getattr(row, name) == value for name, value in where.items())
        and all(row.setting.get(name) == value for name, value in (setting or {}).items())
    ]


def mean(rows: Iterable[Row], setting: dict | None = None, **where) -> float | None:
    """The mean value of the rows `select` picks (rows without a value left out); None where none has one.
    The way a headline or summary reads one number from the table."""
    values = [row.value for row in select(rows, setting, **where) if row.value is not None]
    return float(np.mean(values)) if values else None


def mean_over_seeds(rows: Iterable[Row]) -> dict[tuple, dict]:
    """{(arm, size, reader, metric, coordinates): {"mean", "min", "max", "n", "chance"}} over seeds (rows
    with a value only; coordinates: `Row.coordinates`; chance: the mean of the rows' chance values,
    None where none has one)."""
    groups: dict[tuple, list[Row]] = {}
    for row in rows:
        if row.value is not None:
            groups.setdefault((row.arm, row.size, row.reader, row.metric, row.coordinates()), []).append(row)
    out = {}
    for key, group in groups.items():
        values = np.asarray([row.value for row in group], np.float64)
        chances = [row.chance for row in group if row.chance is not None]
        out[key] = {
            "mean": float(values.mean()),
            "min": float(values.min()),
            "max": float(values.max()),
            "n": len(group),
            "chance": float(np.mean(chances)) if chances else None,
        }
    return out


def from_entries(
    entries: list[dict],
    chance_arm: str = "random",
    readers: dict[str, str] | None = None,
    setting: Callable[[dict], dict] = lambda entry: {},
    matched_by: Callable[[dict], tuple] = lambda entry: (entry["size"],),
) -> list[Row]:
    """Rows from dictionary entries {"kind", "size", "seed", "metrics"} (`experiments.recovery.Recovery`):
    one per numeric metric; chance = that metric's mean over the `chance_arm` entries that match the
    entry (`matched_by`: the same size unless told); readers: {metric: reader} for metrics a grader
    added (the rest are `STREAMED`); setting(entry): the row's further coordinates."""
    chance: dict[tuple, list[float]] = {}
    for entry in entries:
        if entry["kind"] == chance_arm:
            for metric, value in entry["metrics"].items():
                if _is_number(value):
                    chance.setdefault((*matched_by(entry), metric), []).append(float(value))
    rows = []
    for entry in entries:
        for metric, value in entry["metrics"].items():
            if _is_number(value):
                level = chance.get((*matched_by(entry), metric))
                rows.append(
                    Row(
                        entry["kind"],
                        metric,
                        value,
                        float(np.mean(level)) if level else None,
                        size=entry["size"],
                        seed=entry["seed"],
                        reader=(readers or {}).get(metric, STREAMED),
                        setting=setting(entry),
                    )
                )
    return rows


def _is_number(value) -> bool:
    return (
        isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_)) and math.isfinite(float(value))
    )


def text(rows: Iterable[Row], metrics: tuple[str, ...], order: tuple[str, ...] = ()) -> str:
    """A fixed-width table: one line per (arm, size, setting) that has any of `metrics`, the mean over
    seeds of each (arms in `order` first, then as they come; sizes ascending)."""
    means = mean_over_seeds(rows)
    lines_by: dict[tuple, dict[str, float]] = {}
    n_seeds = 0
    for (arm, size, _reader, metric, coordinates), summary in means.items():
        lines_by.setdefault((arm, size, coordinates), {})[metric] = summary["mean"]
        n_seeds = max(n_seeds, summary["n"])
    rank = {arm: i for i, arm in enumerate(order)}
    header = f"{'kind':<11}{'size':>6}  " + "  ".join(f"{metric[:10]:>10}" for metric in metrics)
    lines = [header, "-" * len(header)]
    for (arm, size, setting), values in sorted(
        lines_by.items(), key=lambda item: (item[0][1] or 0, rank.get(item[0][0], len(rank)), item[0][2])
    ):
        if not any(m in values for m in metrics):
            continue  # rows of other readers (a grader's per-edge numbers, …): not this table's
        cells = "  ".join(f"{values[m]:>10.3f}" if m in values else f"{'—':>10}" for m in metrics)
        shown = " ".join(f"{name}={value}" for name, value in setting)
        lines.append(f"{arm:<11}{'' if size is None else size:>6}  {cells}" + (f"  {shown}" if shown else ""))
    lines.append(f"(means over {max(n_seeds, 1)} seed(s))")
    return "\n".join(lines)
