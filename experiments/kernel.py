"""A study declared, not written: a toy, the standard arms, graders and figures → a `Study`.

A standard study module declares
- its `Config`: a frozen dataclass inheriting `Arms` (the arms' settings, each with its rule)
  and adding its toy's settings, with `quick()`;
- its toy factory `build_toy(config, key)` (anything following the toy protocol);
- its graders (`Grader(metrics, grade)`): `grade(decoder [m, d], toy) -> {metric: number}`,
  given each dictionary (trained or chance) and the truth; their numbers join the streamed
  metrics of that dictionary and the summary table;
- its figures: `(file name, title, metrics)`, each drawn from the shared panels;
and `standard_study(...)` returns the `Study`. The runner here owns the rest: the keys (toy,
dictionaries: the same derivation for every standard study), training every architecture ×
size × seed in one vmapped call per (architecture, size) (`experiments.recovery.Recovery`),
the chance baselines (random dictionaries read by TopK with the same k), scoring every
dictionary on the same fresh samples (`sae.pipeline.evaluate`), saving the trained ones,
progress, the summary table, the headline, the memory estimate and `toylab evaluate`'s source
(the toy, the eval samples and the graders: a re-scored dictionary is graded as the run graded it).
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import jax
import numpy as np

from experiments.recovery import TRAINED_KINDS, Recovery, eval_key, headline, summary_table
from experiments.runner import facts, memory, panels, seeding, table
from experiments.runner.study import Result, Study
from sae import architectures, evaluate, pipeline
from toys.engine.config import check_fields, setting

SUMMARY_METRICS = ("mmcs", "mcc", "f1", "explained_variance", "l0", "dead_fraction")
# The architectures the arms' settings fully describe (k, and λ for the L1 ones); JumpReLU's L0
# coefficient and bandwidth are not among them.
ARM_KINDS = tuple(kind for kind in TRAINED_KINDS if kind != "jumprelu")


@dataclasses.dataclass(frozen=True)
class Grader:
    """A grader: grade(decoder [m, d], toy) -> {metric: number} for each name in `metrics`."""

    metrics: tuple[str, ...]
    grade: Callable
    reader: str = "grader"  # the reader its rows carry in the results table


@dataclasses.dataclass(frozen=True)
class SampleGrader:
    """A grader of a dictionary on a study's fixed samples and their truth (a study whose numbers are
    read on stored arrays, not on a toy's fresh samples): grade_dictionary(arch, params, hps, source)
    -> {metric: number}, params and hps stacked with one dictionary, source the study's
    `evaluation_source` (its "x" and whatever truth the grader reads). `toylab evaluate` calls it as the
    run did, so the re-scored rows meet the run's own (same metric names, same `reader`)."""

    metrics: tuple[str, ...]
    grade_dictionary: Callable
    reader: str = "grader"


def _explained_variance_on_samples(arch: str, params, hps, source: dict) -> dict:
    return {"explained_variance": pipeline.explained_variance(arch, params, hps, source["x"])[0]}


# a dictionary's explained variance on the study's fixed samples (`pipeline.explained_variance`, every row
# once), under the streamed metrics' reader: the row a study writes when it reads EV on stored arrays
EXPLAINED_VARIANCE = SampleGrader(("explained_variance",), _explained_variance_on_samples, reader=table.STREAMED)


@dataclasses.dataclass(frozen=True)
class Arms:
    """The standard arms: architectures × sizes × seeds, and chance baselines of every size."""

    seed: int = setting(0, low=0, high=seeding.SEED_MAX)
    n_seeds: int = setting(2, low=1)
    kinds: tuple[str, ...] = setting(("topk", "relu"), choices=ARM_KINDS)
    sizes: tuple[int, ...] = setting((64, 256), low=2)
    baselines: tuple[str, ...] = setting(
        ("random",), "chance dictionaries of every size (read by TopK with k)", choices=("random", "gaussian", "untrained")
    )
    k: int = setting(4, low=1, high="min(sizes)")
    l1_coefficient: float = setting(1.0, low=0)
    learning_rate: float = setting(3e-3, low=0, low_open=True)
    steps: int = setting(4000, low=1)
    batch_size: int = setting(512, low=1)
    n_eval: int = setting(evaluate.MIN_EVAL_SAMPLES, low=evaluate.MIN_EVAL_SAMPLES)

    def validate(self) -> None:
        check_fields(self)
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if dataclasses.is_dataclass(value):
                value.validate(prefix=field.name + ".")


def _keys(config: Arms):
    return jax.random.split(seeding.root_key(config.seed))  # (toy, dictionaries)


def _hparams(config: Arms, kind: str):
    l1 = config.l1_coefficient if architectures.get(kind).penalty == "l1" else 0.0
    return architectures.hparams(config.learning_rate, l1, config.k)


def run_arms(
    config: Arms, toy, key_dictionaries, graders: tuple[Grader, ...] = (), runtime=None, keep: Callable | None = None
) -> tuple[Recovery, dict]:
    """Train and score every arm and chance baseline on `toy`; graders add their numbers to each
    entry, and keep(config, toy, kind, size, params) → {name: array} what the figures need."""
    seeds = seeding.replica_seeds(config.seed, config.n_seeds)
    recovery = Recovery(toy, seeds, key_dictionaries, config.n_eval, config.k, runtime=runtime)

    arrays = {}

    def grade(kind, size, params):
        for entry, decoder in zip(recovery.entries[-len(seeds) :], np.asarray(params.W_dec)):
            for grader in graders:
                entry["metrics"].update(grader.grade(decoder, toy))
        if keep is not None:
            arrays.update(keep(config, toy, kind, size, params))

    for kind in config.kinds:
        for size in config.sizes:
            grade(kind, size, recovery.train(kind, size, _hparams(config, kind), config.steps, config.batch_size))
    for kind in config.baselines:
        for size in config.sizes:
            grade(kind, size, recovery.baseline(kind, size))
    return recovery, arrays


@dataclasses.dataclass(frozen=True)
class SparseToyFacts:
    """A sparse-feature toy's facts in results.json ("toy"): its size and its expected true L0."""

    n_features: int
    d: int
    expected_true_l0: float  # Σ_i p_i: the mean number of features firing per sample

    @classmethod
    def of(cls, toy_config) -> "SparseToyFacts":
        """From a `toys.superposition` config."""
        from toys import superposition

        return cls(toy_config.n_features, toy_config.d, float(np.sum(superposition.firing_probabilities(toy_config))))


@dataclasses.dataclass(frozen=True)
class NoToyFacts:
    """A standard study's toy facts where it states none."""


def standard_study(
    name: str,
    description: str,
    Config: type,
    build_toy: Callable,
    *,
    figures: tuple[tuple[str, str, tuple[str, ...]], ...],
    graders: tuple[Grader, ...] = (),
    describe_toy: Callable = lambda config, toy: NoToyFacts(),
    summary_metrics: tuple[str, ...] = SUMMARY_METRICS,
    summary_note: Callable = lambda results: "",
    keep: Callable | None = None,
    memory_estimate: Callable | None = None,
) -> Study:
    """The `Study` of a toy run through the standard arms (module docstring).

    figures: (file name, title, metrics) — one row of metric-against-size panels per file — or
    a function (results, arrays, folder) → path (or None: nothing to draw), composed of
    `experiments.runner.panels`;
    describe_toy(config, toy) → the toy's facts for results.json (and the figures' titles): a frozen
    dataclass the study declares, written under "toy" (`experiments.runner.facts`);
    summary_note(results) → a line under the summary table; keep: see `run_arms`;
    memory_estimate(config) → (bytes, field): the default counts the toy's planted features.
    """

    def run(config, runtime=None) -> Result:
        key_toy, key_dictionaries = _keys(config)
        toy = build_toy(config, key_toy)
        recovery, arrays = run_arms(config, toy, key_dictionaries, graders, runtime, keep)
        readers = {metric: grader.reader for grader in graders for metric in grader.metrics}
        return Result(
            {"dictionaries": recovery.entries, "toy": facts.write(describe_toy(config, toy))},
            arrays=arrays,
            dictionaries=recovery.saved,
            table=table.from_entries(recovery.entries, readers=readers),
        )

    def plot(results: dict, arrays: dict, folder) -> list:
        paths = []
        for spec in figures:
            if callable(spec):
                path = spec(results, arrays, folder)
                paths += [path] if path is not None else []
                continue
            file_name, title, metrics = spec
            figure, axes = panels.panels(len(metrics))
            rows = table.read(results)
            for ax, metric in zip(axes, metrics):
                panels.metric_by_size(ax, rows, metric, metric)
            paths.append(
                panels.finish(
                    figure,
                    axes,
                    title,
                    folder / file_name,
                    xlabel="dictionary size m",
                    ylabel="mean over seeds (bars: min–max); dashed = chance",
                )
            )
        return paths

    def summary(results: dict) -> str:
        text = summary_table(results, summary_metrics + tuple(m for grader in graders for m in grader.metrics))
        note = summary_note(results)
        return text + (f"\n{note}" if note else "")

    def evaluation_source(config) -> dict:
        key_toy, key_dictionaries = _keys(config)
        return {"toy": build_toy(config, key_toy), "key": eval_key(key_dictionaries), "n_eval": config.n_eval, "graders": graders}

    def toy_memory(config) -> tuple[int, str]:
        toy = build_toy(config, _keys(config)[0])
        n_features = int(np.shape(getattr(toy, "features", np.zeros((0, toy.d))))[0])
        return memory.sae_training_bytes(
            runs=config.n_seeds,
            d=toy.d,
            m=max(config.sizes),
            batch=config.batch_size,
            n_features=n_features,
            fields={"n_features": "toy", "d": "toy", "m": "sizes", "batch": "batch_size", "runs": "n_seeds"},
        )

    return Study(
        name,
        description,
        Config,
        run,
        plot,
        summary,
        headline=headline,
        memory_estimate=memory_estimate or toy_memory,
        evaluation_source=evaluation_source,
    )
