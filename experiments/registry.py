"""The experiments `toylab run NAME` knows, by name.

Each is a module with NAME, DESCRIPTION, a frozen `Config` dataclass (with `quick()`
and `validate()`), `run(config) -> results`, `plot(results, arrays, folder)` and
`summary(results) -> str`.
"""

from __future__ import annotations

import importlib

from toys.validation import ConfigError

EXPERIMENTS = {
    "superposition": "experiments.superposition",
    "tms": "experiments.tms",
    "darts": "experiments.darts",
    "sweep": "experiments.sweep",
    "circles": "experiments.circles",
    "circles-grid": "experiments.circles_grid",
    "circle-null": "experiments.circle_null",
    "modular": "experiments.modular",
    "trees": "experiments.trees",
    "two-feature": "experiments.two_feature",
    "circuits": "experiments.circuits",
    "quanta": "experiments.quanta",
    "zoom-out": "experiments.zoom_out",
    "synthsaebench": "experiments.synthsaebench",
    "pizza-clock": "experiments.pizza_clock",
    "knockoff": "experiments.knockoff",
}


def get(name: str):
    if name not in EXPERIMENTS:
        raise ConfigError(f"experiment: got {name!r}, allowed values {', '.join(EXPERIMENTS)}")
    return importlib.import_module(EXPERIMENTS[name])
