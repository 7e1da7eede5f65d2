"""Experiment `sweep` (also `toylab sweep`): seeds × one hyperparameter grid in one call.

For one architecture and dictionary size, every (value, seed) pair of the grid is a
member of a single vmapped, compiled training call (the hyperparameter is traced), and
all members are scored together on the same eval samples. The figure shows each metric
against the hyperparameter, the line the mean over seeds and the band the min–max.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax
import numpy as np

from experiments.recovery import TRAINED_KINDS, headline, saved_dictionaries, seed_keys
from experiments.runner import facts, memory, panels, seeding, table
from experiments.runner.study import Result, Study
from sae import architectures, evaluate, pipeline
from toys import superposition
from toys.engine.config import ConfigError, check_each, check_fields, setting
from toys.engine.runtime import Runtime

NAME = "sweep"
DESCRIPTION = "One architecture and size: seeds × a hyperparameter grid trained in one vmapped call"
SWEEPABLE = ("l1_coefficient", "k", "learning_rate", "aux_coefficient", "bandwidth")
PLOTTED = ("mmcs", "mcc", "f1", "explained_variance", "l0", "dead_fraction")


@dataclasses.dataclass(frozen=True)
class Config:
    seed: int = setting(0, low=0, high=seeding.SEED_MAX)
    n_seeds: int = setting(3, low=1)
    toy: superposition.SuperpositionConfig = superposition.SuperpositionConfig(n_features=256, d=32, mean_l0=4.0)
    arch: str = setting("relu", "architecture swept", choices=TRAINED_KINDS)
    size: int = setting(512, "dictionary size", low=1)
    hyperparameter: str = setting("l1_coefficient", "the hyperparameter varied", choices=SWEEPABLE)
    values: tuple[float, ...] = setting(
        (0.1, 0.3, 0.5, 1.0, 2.0),
        "its values",
        low=0,  # what all hyperparameters need
        allowed="each in [1, size] for k, > 0 for learning_rate and bandwidth, ≥ 0 otherwise",
    )
    learning_rate: float = setting(3e-3, low=0, low_open=True)
    l1_coefficient: float = setting(1.0, low=0)
    k: int = setting(6, low=1, high="size")
    aux_coefficient: float = setting(0.0, "α of AuxK (architectures with AuxK only)", low=0)
    bandwidth: float = setting(0.05, "ε of JumpReLU's pseudo-derivative", low=0, low_open=True)
    steps: int = setting(6000, low=1)
    batch_size: int = setting(256, low=1)
    n_eval: int = setting(100_000, low=evaluate.MIN_EVAL_SAMPLES)

    @classmethod
    def quick(cls) -> "Config":
        return cls(n_seeds=2, steps=2000)

    def validate(self) -> None:
        check_fields(self)
        self.toy.validate(prefix="toy.")
        if self.hyperparameter == "k":
            check_each("values", self.values, low=1, high=self.size)
        elif self.hyperparameter in ("learning_rate", "bandwidth"):
            check_each("values", self.values, low=0, low_open=True)
        else:
            check_each("values", self.values, low=0)
        if not architectures.get(self.arch).reads(self.hyperparameter) and self.hyperparameter != "aux_coefficient":
            readers = ", ".join(name for name, arch in architectures.ARCHITECTURES.items() if arch.reads(self.hyperparameter))
            raise ConfigError(
                f"hyperparameter: {self.arch} does not read {self.hyperparameter}, so every value would "
                f"train the same dictionary; sweep it with one of {readers}"
            )
        if not architectures.get(self.arch).auxk and (self.aux_coefficient > 0 or self.hyperparameter == "aux_coefficient"):
            allowed = ", ".join(name for name, arch in architectures.ARCHITECTURES.items() if arch.auxk)
            raise ConfigError(f"aux_coefficient: {self.arch} has no AuxK loss; allowed value 0 (AuxK: {allowed})")


def memory_estimate(config: Config) -> tuple[int, str]:
    """Peak bytes of the one grid call (values × seeds runs) and the field behind them."""
    return memory.sae_training_bytes(
        runs=config.n_seeds * len(config.values),
        d=config.toy.d,
        m=config.size,
        batch=config.batch_size,
        n_features=config.toy.n_features,
        fields={"n_features": "toy.n_features", "d": "toy.d", "m": "size", "batch": "batch_size", "runs": "values"},
    )


class Keys(NamedTuple):
    toy: jax.Array
    train: jax.Array
    evaluate: jax.Array
    chance: jax.Array  # the random dictionaries


def run_keys(config: Config) -> Keys:
    """The run's keys, derived once: `run` and `evaluation_source` both read them here."""
    key_toy, key_dictionaries = jax.random.split(seeding.root_key(config.seed))
    key_train, key_eval = jax.random.split(key_dictionaries)
    return Keys(key_toy, key_train, key_eval, seeding.stream(key_dictionaries, "chance dictionaries"))


def evaluation_source(config: Config) -> dict:
    """The run's toy and eval samples, rebuilt from its config (for `toylab evaluate`)."""
    drawn = run_keys(config)
    return {"toy": superposition.build(config.toy, drawn.toy), "key": drawn.evaluate, "n_eval": config.n_eval}


def run(config: Config, runtime: Runtime | None = None) -> Result:
    key_toy, key_train, key_eval, key_chance = run_keys(config)
    toy = superposition.build(config.toy, key_toy)
    seeds = seeding.replica_seeds(config.seed, config.n_seeds)
    base = {name: getattr(config, name) for name in SWEEPABLE}
    grid, members = [], []
    for value in config.values:
        settings = {**base, config.hyperparameter: int(value) if config.hyperparameter == "k" else value}
        for seed in seeds:
            grid.append(architectures.hparams(**settings))
            members.append((value, seed))
    hps = pipeline.stack(grid)
    keys = jax.numpy.concatenate([seed_keys(key_train, config.size, seeds)] * len(config.values))
    result = pipeline.fit(
        config.arch,
        toy,
        hps,
        keys,
        n_latents=config.size,
        steps=config.steps,
        batch_size=config.batch_size,
        label=f"{config.arch} m={config.size}, {config.hyperparameter} × seeds ({len(grid)} runs)",
        runtime=runtime,
    )
    scores = pipeline.evaluate(config.arch, result.params, hps, toy, key=key_eval, n_eval=config.n_eval)
    # chance: random dictionaries of the same size, one per seed, read as every baseline (TopK with k)
    random_params = pipeline.chance_dictionaries(seed_keys(key_chance, config.size, seeds), config.toy.d, config.size)
    chance = pipeline.chance_scores(random_params, config.k, toy, key=key_eval, n_eval=config.n_eval)
    entries = [
        {
            "name": f"{config.arch}-{config.size}",
            "kind": config.arch,
            "size": config.size,
            "seed": seed,
            "hyperparameter": config.hyperparameter,
            "value": value,
            "metrics": metrics,
        }
        for (value, seed), metrics in zip(members, scores)
    ]
    names = [f"{config.arch}-{config.hyperparameter}{value:g}-{config.size}-seed{seed}" for value, seed in members]
    chance_entries = [
        {"name": f"random-{config.size}", "kind": "random", "size": config.size, "seed": seed, "k": config.k, "metrics": metrics}
        for seed, metrics in zip(seeds, chance)
    ]
    rows = table.from_entries(
        entries + chance_entries, setting=lambda entry: {config.hyperparameter: entry["value"]} if "value" in entry else {}
    )
    return Result(
        {
            "dictionaries": entries,
            "chance": chance_entries,
            **facts.write(Facts(config.hyperparameter, config.arch, config.size, config.k)),
        },
        dictionaries=saved_dictionaries(
            config.arch,
            result.params,
            hps,
            names,
            [{"arm": config.arch, "size": config.size, "seed": seed, "setting": {config.hyperparameter: value}} for value, seed in members],
        ),
        table=rows,
    )


@dataclasses.dataclass(frozen=True)
class Facts:
    """What the run's numbers were made under (results.json, beside the table)."""

    hyperparameter: str  # the swept field
    arch: str
    size: int
    chance_k: int  # the random dictionaries' TopK reading


def _spread(rows: list[table.Row], run: Facts, metric: str):
    """Per swept value (sorted): the mean, min and max over seeds of `metric`, from the results table."""
    mine = table.select(rows, arm=run.arch, metric=metric)
    values = sorted({row.setting[run.hyperparameter] for row in mine})
    by_value = [[row.value for row in mine if row.setting[run.hyperparameter] == v and row.value is not None] for v in values]
    return (
        np.asarray(values),
        np.array([np.mean(v) for v in by_value]),
        np.array([np.min(v) for v in by_value]),
        np.array([np.max(v) for v in by_value]),
    )


def plot(results: dict, arrays: dict, folder) -> list:
    rows = table.read(results)
    run = facts.read(results, Facts)
    figure, axes = panels.panels(len(PLOTTED), width=3.2, height=3.2)
    for ax, metric in zip(axes, PLOTTED):
        panels.metric_by_setting(ax, rows, metric, run.hyperparameter, metric)
    n_seeds = len({row.seed for row in table.select(rows, arm=run.arch)})
    title = (
        f"{run.arch} SAE, m={run.size}: metrics against {run.hyperparameter} (line: mean of "
        f"{n_seeds} seeds; band: min–max; dashed: a random dictionary of the same size, TopK "
        f"k={run.chance_k})"
    )
    return [panels.finish(figure, axes, title, folder / "sweep.png")]


def summary(results: dict) -> str:
    """From the results table (the swept field and the architecture from the run's facts)."""
    rows = table.read(results)
    run = facts.read(results, Facts)
    header = f"{run.hyperparameter:>16}" + "".join(f"{m[:10]:>12}" for m in PLOTTED)
    lines = [header, "-" * len(header)]
    columns = [_spread(rows, run, metric) for metric in PLOTTED]
    for i, value in enumerate(columns[0][0]):
        lines.append(f"{value:>16g}" + "".join(f"{c[1][i]:>8.3f}±{(c[3][i] - c[2][i]) / 2:<3.2f}" for c in columns))
    chance = table.select(rows, arm="random")
    if chance:
        lines.append(f"{'random (chance)':>16}" + "".join(f"{table.mean(chance, metric=m) or 0.0:>8.3f}    " for m in PLOTTED))
    lines.append("(mean ± half the min–max range over seeds; chance: a random dictionary of the same size, TopK k)")
    return "\n".join(lines)


STUDY = Study(
    NAME, DESCRIPTION, Config, run, plot, summary, headline=headline, memory_estimate=memory_estimate, evaluation_source=evaluation_source
)
