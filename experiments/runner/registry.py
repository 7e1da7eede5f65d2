"""The studies `toylab run NAME` knows, by name.

Each is a module that declares `STUDY = experiments.runner.study.Study(...)` (its name,
description, Config, run, plot, summary and the optional parts); `get` returns that
declaration, checked.
"""

from __future__ import annotations

import importlib

from experiments.runner.study import Study
from toys.engine.config import ConfigError

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


def get(name: str) -> Study:
    """The study registered as `name`; ConfigError (one line) for an unknown name, TypeError for a
    module that declares no Study or one under another name."""
    if name not in EXPERIMENTS:
        raise ConfigError(f"experiment: got {name!r}, allowed values {', '.join(EXPERIMENTS)}")
    study = getattr(importlib.import_module(EXPERIMENTS[name]), "STUDY", None)
    if not isinstance(study, Study) or study.name != name:
        raise TypeError(f"{EXPERIMENTS[name]}: expected STUDY = Study({name!r}, ...) (experiments.runner.study)")
    return study
