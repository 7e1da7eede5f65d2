"""The studies `toylab run NAME` knows: every module of `experiments/studies/`, by name.

A study is one file, `experiments/studies/<name>.py` (underscores in the file name read as
hyphens in NAME), ending in `STUDY = experiments.runner.study.Study(...)`; nothing else
registers it. `get` imports the module and returns that declaration, checked;
`description` reads the module's `DESCRIPTION = "..."` without importing it (a study imports
JAX and the lab, seconds of CPU that `toylab list` need not spend).
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import pkgutil
from pathlib import Path

from experiments import studies
from experiments.runner.study import Study
from toys.engine.config import ConfigError

# The order `toylab list` shows: the introductory studies first, then the rest alphabetically.
FIRST = ("superposition", "tms", "darts", "sweep")


def _discover() -> dict[str, str]:
    names = {
        info.name.replace("_", "-"): f"{studies.__name__}.{info.name}"
        for info in pkgutil.iter_modules(studies.__path__)
        if not info.name.startswith("_")
    }
    return {name: names[name] for name in (*[n for n in FIRST if n in names], *sorted(set(names) - set(FIRST)))}


EXPERIMENTS = _discover()


def _check_known(name: str) -> None:
    if name not in EXPERIMENTS:
        raise ConfigError(f"experiment: got {name!r}, allowed values {', '.join(EXPERIMENTS)}")


def get(name: str) -> Study:
    """The study registered as `name`; ConfigError (one line) for an unknown name, TypeError for a
    module that declares no Study or one under another name."""
    _check_known(name)
    study = getattr(importlib.import_module(EXPERIMENTS[name]), "STUDY", None)
    if not isinstance(study, Study) or study.name != name:
        raise TypeError(f"{EXPERIMENTS[name]}: expected STUDY = Study({name!r}, ...) (experiments.runner.study)")
    return study


def description(name: str) -> str:
    """The study's one-line description: its module's top-level `DESCRIPTION` string constant,
    read from the source without running it; else (a computed description) from `get`."""
    _check_known(name)
    origin = importlib.util.find_spec(EXPERIMENTS[name]).origin
    for node in ast.parse(Path(origin).read_text(encoding="utf-8")).body:
        if (
            isinstance(node, ast.Assign)
            and [getattr(t, "id", None) for t in node.targets] == ["DESCRIPTION"]
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            return node.value.value
    return get(name).description
