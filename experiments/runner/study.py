"""The study contract: what `toylab run NAME` needs of a study, declared and checked once.

Each study module ends with `STUDY = Study(...)`, naming its parts explicitly; the
registry (`experiments.runner.registry`) checks the declaration when the study is looked up, and
the CLI, the memory check, `toylab runs` and `toylab evaluate` read these fields (an
optional part is None when the study has none) instead of probing the module.

- name, description: `toylab list` and the run folder's name;
- Config: a frozen dataclass with a `seed` field, `quick()` and `validate()`;
- run(config, runtime) → `Result` (the runtime: `toys.engine.runtime.Runtime`, handed to every
  training); plot(results, arrays, folder) → figure paths; summary(results) → text;
- headline(results) → one line for `toylab runs` (optional);
- memory_estimate(config) → (bytes, the field that sets them) (optional);
- evaluation_source(config) → the toy `toylab evaluate` re-scores on (optional).
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import Callable


@dataclasses.dataclass
class Result:
    """What a study's run returns; the runner writes each part to its place in the run folder.

    results: JSON-able numbers → results.json (and what plot, summary and headline read);
    arrays: {name: array} → arrays.npz (what the figures need beyond results);
    dictionaries: trained dictionaries (`experiments.recovery.saved_dictionaries` entries) →
      dictionaries/, in SAELens' format;
    files: callables given the run folder, for anything else (a synthetic model in SAELens' format);
    table: the tidy results table (`experiments.runner.table.Row`s) → results.json's "table", written
      before plot, summary and headline run, which read it back (`table.read`).
    """

    results: dict
    arrays: dict = dataclasses.field(default_factory=dict)
    dictionaries: list = dataclasses.field(default_factory=list)
    files: list = dataclasses.field(default_factory=list)
    table: list = dataclasses.field(default_factory=list)


@dataclasses.dataclass(frozen=True)
class Study:
    name: str
    description: str
    Config: type
    run: Callable
    plot: Callable
    summary: Callable
    headline: Callable | None = None
    memory_estimate: Callable | None = None
    evaluation_source: Callable | None = None

    def __post_init__(self) -> None:
        where = f"study {self.name!r}"
        if not (isinstance(self.name, str) and self.name and isinstance(self.description, str) and self.description):
            raise TypeError(f"{where}: name and description must be non-empty strings")
        if not dataclasses.is_dataclass(self.Config) or "seed" not in {f.name for f in dataclasses.fields(self.Config)}:
            raise TypeError(f"{where}: Config must be a dataclass with a seed field")
        for method in ("quick", "validate"):
            if not callable(getattr(self.Config, method, None)):
                raise TypeError(f"{where}: Config needs {method}()")
        for part in ("run", "plot", "summary"):
            if not callable(getattr(self, part)):
                raise TypeError(f"{where}: {part} must be callable")
        if "runtime" not in inspect.signature(self.run).parameters:
            raise TypeError(f"{where}: run must take (config, runtime)")
        for part in ("headline", "memory_estimate", "evaluation_source"):
            value = getattr(self, part)
            if value is not None and not callable(value):
                raise TypeError(f"{where}: {part} must be callable or None")
