"""The wall between methods and graders.

A *method* gets what a researcher has on a real model: activations x, a dictionary (its
parameters: encoder, decoder) and the codes it gives, and its own settings. It never gets
a toy's truth (true codes, planted planes, phases, labels, the hierarchy). A *grader* gets
the method's answer and the truth. Experiments compose the two: observe → method → grade.

**The one road.** `observe` (one dictionary), `observe_grid` (a stacked grid, one encoding),
`observe_chance` (a random dictionary) and `observe_derived` (arrays derived from a batch's
observable fields: x, and what its class lists in OBSERVABLE, such as a training target) make an
`Observation`; `settings(config, name="path")` reads a method's settings from a study's config,
and a `Settings` can add an earlier answer, a calibration (a null drawn where nothing is planted)
or a design choice (an arm of a comparison), each with its source. `apply(method, observation,
reads, settings)` is the only way a study calls a method that finds structure
(`sae.readers.FINDERS`; tests/test_wall.py checks every call site in experiments/). It refuses:
an observation not made by `observe*` (built by hand, perhaps with the truth in it); settings
that are not a `Settings` (a K equal to the true group count, the rows where a planted feature
is present, passed as plain values); and an observation of a sample chosen with the truth (a
toy's sampler given the true groups marks its batch `chosen_with_truth`) unless the call says
`ceiling=True`, so that the study reports it as a ceiling. The truth used on purpose (a true K
for an oracle ceiling) has its own road, `ceiling(method, arrays, truth_used=…)`, which names it.
These checks catch the careless road, not a determined liar: a value declared as what it is not
(`with_calibration("n_clusters", true_k, …)`) passes, but is written in the study for a reader.

**The process wall.** `sealed(batch)` replaces a batch's truth with `SealedTruth`, which raises
`TruthAccessed` on any use. `run_isolated(method, arrays, settings)` runs a method in a fresh
Python process that receives the arrays (a safetensors file) and the settings (JSON) and
nothing else, and cannot import a toy or a study (`toys.*` other than `toys.engine`, and
`experiments.*`, raise ImportError). A method that imports a toy fails there (`WallBreached`);
one that reads a global its caller set (a module-level reference to the toy) finds it unset and
answers differently. Under `TOYLAB_WALL=audit`, every `apply` also runs its method there and
compares the answers, so a whole study can be audited (a test runs one so).
"""

from __future__ import annotations

import dataclasses

import numpy as np


class TruthAccessed(RuntimeError):
    """A method touched the truth."""


class SealedTruth:
    """Stands in for a toy's truth behind the wall: any use raises TruthAccessed."""

    def _refuse(self, *args, **kwargs):
        raise TruthAccessed("a method read the truth")

    __getattr__ = __getitem__ = __iter__ = __len__ = __array__ = __bool__ = __float__ = __int__ = _refuse
    __eq__ = __lt__ = __gt__ = __add__ = __mul__ = __contains__ = _refuse
    __hash__ = None  # type: ignore[assignment]  # unhashable, as any use of it must be


def sealed(batch):
    """The same batch (a `toys.protocol.Batch`) with its true codes and truth sealed."""
    return dataclasses.replace(batch, codes=SealedTruth(), truth=SealedTruth())


_ROAD = object()  # the mark of an Observation made here; nothing outside this module holds it


class Observation:
    """What a method gets: arrays a researcher has on a real model, by name (attribute access).

    Made only by `observe`, `observe_grid`, `observe_chance` and `observe_derived`; `apply` refuses
    any other. Fields of a dictionary's observation: x [n, d], codes [n, m] (the dictionary's latent
    activations), decoder [m, d], encoder [d, m] (None for a dictionary without one).
    `chosen_with_truth`: the sample was drawn with the truth (a toy's sampler given the true groups,
    e.g. a sample balanced over the true tasks); a method's answer on it is a ceiling, never a verdict.
    """

    __slots__ = ("_arrays", "chosen_with_truth", "_road")

    def __init__(self, arrays: dict, chosen_with_truth: bool = False, road: object = None):
        object.__setattr__(self, "_arrays", dict(arrays))
        object.__setattr__(self, "chosen_with_truth", bool(chosen_with_truth))
        object.__setattr__(self, "_road", road)

    def __getattr__(self, name):
        arrays = object.__getattribute__(self, "_arrays")
        if name in arrays:
            return arrays[name]
        raise AttributeError(f"an observation has {sorted(arrays)}, not {name!r}")

    def __setattr__(self, name, value):
        raise AttributeError("an observation is read-only")

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(self._arrays)


def _chosen_with_truth(batch) -> bool:
    return bool(getattr(batch, "chosen_with_truth", False))


def observe(batch, arch: str, params, hps, index: int = 0) -> Observation:
    """Encode a batch's activations (batch.x only) with one dictionary of a stacked grid."""
    return observe_grid(batch, arch, params, hps)[index]


def observe_grid(batch, arch: str, params, hps) -> list[Observation]:
    """One observation per dictionary of a stacked grid, from batch.x only (one encoding call). `batch`:
    one batch (every dictionary reads its x, [n, d]) or a list of G batches (dictionary g reads the
    g-th one's x)."""
    from sae import pipeline

    batches = batch if isinstance(batch, list) else [batch]  # (a NamedTuple batch is a tuple: not a list of them)
    x = np.stack([np.asarray(b.x) for b in batches]) if len(batches) > 1 else np.asarray(batches[0].x)
    chosen = any(_chosen_with_truth(b) for b in batches)
    codes = np.asarray(pipeline.encode(arch, params, hps, x))
    decoders, encoders = np.asarray(params.W_dec), np.asarray(params.W_enc)
    return [
        Observation({"x": x if x.ndim == 2 else x[g], "codes": codes[g], "decoder": decoders[g], "encoder": encoders[g]}, chosen, _ROAD)
        for g in range(len(codes))
    ]


def observe_chance(batch, random_params, k: int) -> Observation:
    """A random dictionary's observation (`pipeline.chance_dictionaries`, one of them), encoded by TopK
    with k (`pipeline.chance_codes`), from batch.x only."""
    from sae import pipeline

    x = np.asarray(batch.x)
    codes = np.asarray(pipeline.chance_codes(random_params, k, x))[0]
    return Observation(
        {"x": x, "codes": codes, "decoder": np.asarray(random_params.W_dec[0]), "encoder": np.asarray(random_params.W_enc[0])},
        _chosen_with_truth(batch),
        _ROAD,
    )


OBSERVABLE = ("x",)  # what every batch shows a method; a toy's Batch adds fields in its own OBSERVABLE


def observe_derived(batch, derive, reads: tuple[str, ...] = ("x",)) -> Observation:
    """An observation of arrays derived from a batch's observable fields: `derive(**{f: batch.f for f in
    reads})` → {name: array} (a network's per-sample gradients from its inputs and training targets,
    for example). `reads` must be observable: "x", or a field the batch's class lists in OBSERVABLE
    (the training target a researcher has; never a planted group)."""
    allowed = set(OBSERVABLE) | set(getattr(type(batch), "OBSERVABLE", ()))
    hidden = [name for name in reads if name not in allowed]
    if hidden:
        raise WallBreached(f"observe_derived: {hidden} are not observable in a {type(batch).__name__} (observable: {sorted(allowed)})")
    arrays = derive(**{name: np.asarray(getattr(batch, name)) for name in reads})
    return Observation({name: np.asarray(value) for name, value in arrays.items()}, _chosen_with_truth(batch), _ROAD)


class Settings:
    """A method's settings, each with where it came from: the study's config (`settings`), an earlier
    method's answer (`with_answer`), or a null distribution drawn from toys with nothing planted
    (`with_calibration`). `apply` takes nothing else, so a value computed from the truth (a K equal to
    the true group count, the rows where a planted feature is present) cannot be passed as a setting
    without being declared as what it is not — which a reader of the study sees."""

    __slots__ = ("values", "sources", "_road")
    values: dict
    sources: dict
    _road: object

    def __init__(self, values: dict, sources: dict, road: object = None):
        object.__setattr__(self, "values", dict(values))
        object.__setattr__(self, "sources", dict(sources))
        object.__setattr__(self, "_road", road)

    def __setattr__(self, name, value):
        raise AttributeError("settings are read-only")

    def _plus(self, name: str, value, source: str) -> "Settings":
        if name in self.values:
            raise ValueError(f"setting {name!r} given twice")
        return Settings({**self.values, name: value}, {**self.sources, name: source}, _ROAD)

    def with_answer(self, name: str, value, method) -> "Settings":
        """An earlier method's answer as a setting (e.g. the finder's groups, for the ranking)."""
        return self._plus(name, value, f"answer of {getattr(method, '__qualname__', method)}")

    def with_design(self, name: str, value, why: str) -> "Settings":
        """A choice the study's design fixes, the same on every toy (an arm of a comparison: which
        affinity, which gradient); `why` names the comparison."""
        return self._plus(name, value, f"design: {why}")

    def with_calibration(self, name: str, values, source: str) -> "Settings":
        """A null distribution (e.g. the top evidence of dictionaries trained where nothing is planted)."""
        return self._plus(name, values, f"calibration: {source}")


def settings(config=None, **paths: str) -> Settings:
    """Settings read from a study's config: name=dotted path (`settings(config, seed="seed",
    max_clusters="max_clusters")`); no paths: empty settings to add answers or calibrations to."""
    values, sources = {}, {}
    for name, path in paths.items():
        value = config
        for part in path.split("."):
            value = getattr(value, part)
        values[name], sources[name] = value, f"config.{path}"
    return Settings(values, sources, _ROAD)


def _jsonable(value):
    if isinstance(value, np.ndarray) or isinstance(value, np.generic):
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def ceiling(method, arrays, truth_used: str, **values):
    """A method run with the truth on purpose: an oracle ceiling (the true group count as K, a sample
    chosen with the truth), never a verdict. The road for it is this one, separate from `apply`, so that
    every use of the truth on a method's side is named (`truth_used`) and can be found; the study
    reports the answer as a ceiling."""
    if not truth_used:
        raise ValueError("ceiling: name the truth that went in (truth_used)")
    return method(*arrays, **values)


def audit_mode() -> bool:
    """TOYLAB_WALL=audit: every `apply` also runs its method behind the process wall and compares."""
    import os

    return os.environ.get("TOYLAB_WALL", "") == "audit"


def apply(method, observation: Observation, reads: tuple[str, ...], given: Settings | None = None, *, ceiling: bool = False, report=None):
    """The one road from a study to a method: `method(*[observation.f for f in reads], **given)`.

    Refuses (WallBreached) an observation not made by this module's `observe*`, one whose sample was
    chosen with the truth unless `ceiling=True` (the study then labels the answer a ceiling), and
    settings not made by `settings` (a plain dict or value). `report`: a progress callback passed as
    `report=` (not a setting; it carries nothing back). Under TOYLAB_WALL=audit the method also runs
    behind the process wall (`run_isolated`: arrays and settings only, no toy or study importable) and
    its answer must be the same."""
    name = getattr(method, "__qualname__", repr(method))
    if not isinstance(observation, Observation) or observation._road is not _ROAD:
        raise WallBreached(f"{name}: its observation was not made by wall.observe*, the only road from a toy")
    if observation.chosen_with_truth and not ceiling:
        raise WallBreached(
            f"{name}: the sample was chosen with the truth; its answer can only be a ceiling (ceiling=True), never a verdict"
        )
    given = settings() if given is None else given
    if not isinstance(given, Settings) or given._road is not _ROAD:
        raise WallBreached(
            f"{name}: settings must come from wall.settings (the study's config), an earlier "
            f"answer or a calibration; got {type(given).__name__}"
        )
    arrays = [getattr(observation, field) for field in reads]
    answer = method(*arrays, **given.values, **({"report": report} if report is not None else {}))
    if audit_mode():
        behind = run_isolated(method, arrays, _jsonable(given.values))
        here = flatten_answer(answer)
        if set(behind) != set(here) or any(
            not np.allclose(np.asarray(behind[k], np.float64).reshape(np.shape(here[k])), here[k], rtol=1e-6, atol=1e-9, equal_nan=True)
            if here[k].dtype.kind in "fcbiu"
            else not np.array_equal(behind[k].reshape(here[k].shape), here[k])
            for k in here
        ):
            raise WallBreached(
                f"{name} answered differently behind the process wall: it reads something besides its observation and settings"
            )
    return answer


class WallBreached(RuntimeError):
    """A method run behind the process wall failed there: it reached for what the wall keeps out."""


SEALED_PACKAGES = ("toys", "experiments")  # blocked in the isolated process, except toys.engine
ISOLATED_TIMEOUT_S = 300

_BOOTSTRAP = """
import importlib, json, sys

class Wall:
    def find_spec(self, name, path=None, target=None):
        top = name.split(".")[0]
        if top in SEALED and name != "toys" and not name.startswith("toys.engine"):
            raise ImportError(f"behind the wall: {name}")
        return None

sys.meta_path.insert(0, Wall())
from safetensors.numpy import load_file, save_file
from sae.readers.wall import flatten_answer, storable

module, name = sys.argv[1].rsplit(":", 1)
method = getattr(importlib.import_module(module), name)
arrays = load_file(sys.argv[2])
with open(sys.argv[3], encoding="utf-8") as file:
    settings = json.load(file)
answer = method(*[arrays[str(i)] for i in range(len(arrays))], **settings)
save_file(storable(flatten_answer(answer)), sys.argv[4])
"""

TEXT = "#json"  # suffix of a text answer stored as JSON bytes (safetensors holds numbers only)


def flatten_answer(answer) -> dict[str, np.ndarray]:
    """A method's answer as the isolated process returns it: arrays keyed by their path in the answer
    (NamedTuples and dicts by field, sequences of non-numbers by index)."""
    out: dict[str, np.ndarray] = {}

    def flat(value, prefix):
        if hasattr(value, "_asdict"):
            value = value._asdict()
        if isinstance(value, dict):
            for key, item in value.items():
                flat(item, f"{prefix}{key}.")
        elif isinstance(value, (list, tuple)) and not all(isinstance(v, (int, float, np.number)) for v in value):
            for index, item in enumerate(value):
                flat(item, f"{prefix}{index}.")
        else:
            out[prefix.rstrip(".") or "answer"] = np.ascontiguousarray(np.asarray(value))

    flat(answer, "")
    return out


def storable(flat: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """A flattened answer safetensors can hold: text arrays as JSON bytes under key + TEXT."""
    import json

    stored = {}
    for key, value in flat.items():
        if value.dtype.kind in "OUS":
            stored[key + TEXT] = np.frombuffer(json.dumps(value.tolist()).encode(), np.uint8).copy()
        else:
            stored[key] = value
    return stored


def run_isolated(method, arrays, settings: dict | None = None, timeout: float = ISOLATED_TIMEOUT_S) -> dict[str, np.ndarray]:
    """`method(*arrays, **settings)` in a fresh process behind the wall (module docstring); its answer as
    `flatten_answer` gives it. method: a module-level function; arrays: positional NumPy arrays; settings:
    JSON values. Raises WallBreached with the process's last line when the method fails there."""
    import json
    import os
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    from safetensors.numpy import load_file, save_file

    target = f"{method.__module__}:{method.__qualname__}"
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        save_file({str(i): np.ascontiguousarray(np.asarray(a)) for i, a in enumerate(arrays)}, str(folder / "in"))
        (folder / "settings.json").write_text(json.dumps(settings or {}), encoding="utf-8")
        bootstrap = f"SEALED = {SEALED_PACKAGES!r}\n" + _BOOTSTRAP
        # the caller's import path, so that the method's own module imports as it did here
        environment = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        done = subprocess.run(
            [sys.executable, "-c", bootstrap, target, str(folder / "in"), str(folder / "settings.json"), str(folder / "out")],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=environment,
        )
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
            raise WallBreached(f"{target} failed behind the wall: {last}")
        answer = {}
        for key, value in load_file(str(folder / "out")).items():
            if key.endswith(TEXT):
                answer[key[: -len(TEXT)]] = np.asarray(json.loads(value.tobytes().decode()))
            else:
                answer[key] = value
        return answer
