"""The studies `toylab run NAME` knows: every module of `experiments/studies/`, by name.

A study is one file, `experiments/studies/<name>.py` (underscores in the file name read as
hyphens in NAME), ending in `STUDY = experiments.runner.study.Study(...)`; nothing else
registers it. `get` imports the module and returns that declaration, checked.
"""

from __future__ import annotations

import importlib
import pkgutil

from experiments import studies
from experiments.runner.study import Study
from toys.engine.config import ConfigError

# The order `toylab list` shows: the introductory studies first, then the rest alphabetically.
FIRST = ("superposition", "tms", "darts", "sweep")


def _discover() -> dict[str, str]:
    names = {info.name.replace("_", "-"): f"{studies.__name__}.{info.name}"
             for info in pkgutil.iter_modules(studies.__path__) if not info.name.startswith("_")}
    return {name: names[name] for name in (*[n for n in FIRST if n in names], *sorted(set(names) - set(FIRST)))}


EXPERIMENTS = _discover()


def get(name: str) -> Study:
    """The study registered as `name`; ConfigError (one line) for an unknown name, TypeError for a
    module that declares no Study or one under another name."""
    if name not in EXPERIMENTS:
        raise ConfigError(f"experiment: got {name!r}, allowed values {', '.join(EXPERIMENTS)}")
    study = getattr(importlib.import_module(EXPERIMENTS[name]), "STUDY", None)
    if not isinstance(study, Study) or study.name != name:
        raise TypeError(f"{EXPERIMENTS[name]}: expected STUDY = Study({name!r}, ...) (experiments.runner.study)")
    return study
