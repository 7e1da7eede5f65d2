"""Experiment `tms`: reproduce Toy Models of Superposition geometry.

(i) 5 features in 2 dims: at probability 0.05 with uniform importance the columns
form a regular pentagon (D_i = 2/5); at probability 1 with importance 0.9^i the two
most important features are orthogonal (D = 1) and the rest are dropped (D = 0).
(ii) 20 features in 5 dims, importance 0.9^i, a sweep of feature probability:
feature dimensionality D_i sticks to the tight-frame values d/k as sparsity grows.
Each setting trains `n_instances` seeds; the instance with the lowest loss (on fresh
data) is reported. All settings of one shape train in one vmapped, compiled call.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from experiments.runner import facts, memory, panels, seeding, table
from experiments.runner.study import Result, Study
from toys import tms
from toys.engine.config import check_fields, setting
from toys.engine.runtime import Runtime

NAME = "tms"
DESCRIPTION = "Toy Models of Superposition: the pentagon, dropped features, dimensionality vs sparsity"
TIGHT_FRAME_LEVELS = {"1": 1.0, "3/4": 0.75, "2/3": 2 / 3, "1/2": 0.5, "2/5": 0.4, "1/3": 1 / 3, "1/4": 0.25}


@dataclasses.dataclass(frozen=True)
class Config:
    seed: int = setting(0, low=0, high=seeding.SEED_MAX)
    n_instances: int = setting(16, "instances per setting (the best is kept)", low=1)
    steps: int = setting(10_000, "training steps", low=1)
    batch_size: int = setting(1024, "samples per step", low=1)
    learning_rate: float = setting(1e-3, "AdamW learning rate", low=0, low_open=True)
    sparse_probability: float = setting(0.05, "feature probability of the pentagon setting", low=0, low_open=True, high=1)
    dense_probability: float = setting(1.0, "feature probability of the dense setting", low=0, low_open=True, high=1)
    importance_decay: float = setting(0.9, "importance I_i = decay^i of the dense setting and the sweep", low=0, low_open=True, high=1)
    sweep_features: int = setting(20, "features in the sweep", low=1)
    sweep_hidden: int = setting(5, "hidden dimensions in the sweep", low=1)
    sweep_probabilities: tuple[float, ...] = setting(
        (1.0, 0.5, 0.3, 0.2, 0.1, 0.07, 0.05, 0.03, 0.02, 0.01), "feature probabilities of the sweep", low=0, low_open=True, high=1
    )

    @classmethod
    def quick(cls) -> "Config":
        return cls(n_instances=8, steps=6000, sweep_probabilities=(1.0, 0.3, 0.1, 0.05, 0.03, 0.01))

    def validate(self) -> None:
        check_fields(self)


def _train_settings(
    config: Config, n_features: int, n_hidden: int, settings: list[dict], key, key_eval, runtime: Runtime | None
) -> list[dict]:
    """Train every (probability, importance) setting × n_instances in one call; keep each best
    (the lowest loss on one common evaluation sample)."""
    n = config.n_instances
    probabilities = np.repeat([s["probability"] for s in settings], n)
    importances = jnp.concatenate([jnp.tile(tms.importance(n_features, s["decay"]), (n, 1)) for s in settings])
    keys = jax.random.split(key, len(probabilities))
    train_config = tms.TMSTrainConfig(
        n_features, n_hidden, steps=config.steps, batch_size=config.batch_size, learning_rate=config.learning_rate
    )
    result = tms.train(tms.Task(train_config, probabilities, importances, key_eval), keys, runtime)
    out = []
    for i, entry in enumerate(settings):
        members = slice(i * n, (i + 1) * n)
        losses = np.asarray(result.loss[members])
        best = i * n + int(np.argmin(losses))
        W = np.asarray(result.W[best])
        best_record = {
            "loss": float(losses.min()),
            "column_norms": np.linalg.norm(W, axis=0).tolist(),
            "dimensionality": np.asarray(result.dimensionality[best]).tolist(),
            "W": W.tolist(),
            "bias": np.asarray(result.b[best]).tolist(),
        }
        if n_hidden == 2:
            best_record["neighbour_angles_deg"] = tms.neighbour_angles_deg(W).tolist()
        out.append(
            {
                "name": entry["name"],
                "group": entry["group"],
                "n_features": n_features,
                "n_hidden": n_hidden,
                "probability": float(entry["probability"]),
                "importance": "uniform" if entry["decay"] is None else "decay",
                "importance_decay": entry["decay"],
                "instances": n,
                "best": best_record,
            }
        )
    return out


def memory_estimate(config: Config) -> tuple[int, str]:
    """Peak bytes of the sweep call: every instance's batch and its evaluation sample ([G, 65,536, n])."""
    runs = config.n_instances * len(config.sweep_probabilities)
    floats = runs * (config.batch_size + tms.TMSTrainConfig().eval_samples) * config.sweep_features * 3
    return int(memory.SAFETY * memory.FLOAT * floats), "n_instances"


def run(config: Config, runtime: Runtime | None = None) -> Result:
    key_two, key_sweep = jax.random.split(seeding.root_key(config.seed))
    two_dims = [
        {"name": "pentagon", "group": "two_dims", "probability": config.sparse_probability, "decay": None},
        {"name": "dense", "group": "two_dims", "probability": config.dense_probability, "decay": config.importance_decay},
    ]
    sweep = [
        {"name": f"sweep-p{p:g}", "group": "sweep", "probability": p, "decay": config.importance_decay} for p in config.sweep_probabilities
    ]
    key_eval = seeding.stream(seeding.root_key(config.seed), "evaluation sample")
    settings = _train_settings(config, 5, 2, two_dims, key_two, key_eval, runtime)
    settings += _train_settings(config, config.sweep_features, config.sweep_hidden, sweep, key_sweep, key_eval, runtime)
    arrays = {f"W_{entry['name']}": np.asarray(entry["best"]["W"], np.float32) for entry in settings if entry["group"] == "two_dims"}
    return Result({"settings": settings}, arrays, table=settings_rows(settings, config.seed))


class SettingFacts(NamedTuple):
    """One trained setting, as the run declared it."""

    name: str
    group: str  # "two_dims" (5 features in 2 dims) or "sweep"
    n_features: int
    n_hidden: int
    probability: float
    importance: str  # "uniform" or "decay"


@dataclasses.dataclass(frozen=True)
class Facts:
    """What the run's numbers were made under (results.json's settings, beside the table)."""

    settings: tuple[SettingFacts, ...]


def settings_rows(settings: list[dict], seed: int) -> list[table.Row]:
    """The results table: per setting, its best instance's loss, mean feature dimensionality (chance:
    m/n, every feature sharing the hidden space alike) and features represented (‖W_i‖ > ½; chance: m);
    each feature's dimensionality and the tight-frame level m / ‖W‖²_F."""
    rows = []
    for entry in settings:
        best, n, m = entry["best"], entry["n_features"], entry["n_hidden"]
        where = {"setting": entry["name"], "probability": entry["probability"], "importance": entry["importance"]}
        for metric, value, chance, unit in (
            ("loss", best["loss"], None, ""),
            ("mean_dimensionality", float(np.mean(best["dimensionality"])), m / n, ""),
            ("features_represented", int(np.sum(np.asarray(best["column_norms"]) > 0.5)), m, "count"),
        ):
            rows.append(table.Row("tms", metric, value, chance, size=m, seed=seed, reader="best instance", unit=unit, setting=where))
        # each feature's dimensionality (the sweep's figure), beside the level a tight frame would give: m / ‖W‖²_F
        for feature, dimensionality in enumerate(best["dimensionality"]):
            rows.append(
                table.Row(
                    "tms",
                    "dimensionality",
                    dimensionality,
                    None,
                    size=m,
                    seed=seed,
                    reader="best instance",
                    setting={**where, "feature": feature},
                )
            )
        # each column's norm, and in two dimensions the angle to its neighbour (the summary's geometry)
        per_feature_values = [("column_norm", best["column_norms"], ""), ("neighbour_angle", best.get("neighbour_angles_deg", []), "deg")]
        for metric, values, unit in per_feature_values:
            for feature, value in enumerate(values):
                at = {**where, "feature": feature}
                rows.append(table.Row("tms", metric, value, None, size=m, seed=seed, reader="best instance", unit=unit, setting=at))
        frame = m / max(float(np.sum(np.asarray(best["column_norms"]) ** 2)), 1e-12)
        rows.append(table.Row("tms", "hidden_over_frobenius", frame, None, size=m, seed=seed, reader="best instance", setting=where))
    return rows


def headline(results: dict) -> str:
    """One number for `toylab runs`: the pentagon's mean feature dimensionality (2/5 expected)."""
    value = table.mean(table.read(results), {"setting": "pentagon"}, metric="mean_dimensionality")
    return "—" if value is None else f"pentagon mean D {value:.3f} (2/5 expected)"


def plot(results: dict, arrays: dict, folder) -> list:
    """The two-dimensional settings' columns of W (arrows), and the sweep's feature dimensionalities against
    1/p from the results table, beside the tight-frame levels."""
    rows = table.read(results)
    settings = facts.read(results, Facts).settings
    two = [entry for entry in settings if entry.group == "two_dims"]
    figure, axes = panels.panels(len(two), width=3.6, height=3.8)
    for ax, entry in zip(axes, two):
        dims = ", ".join(f"{d:.2f}" for d in per_feature(rows, entry.name, "dimensionality"))
        title = f"{entry.name}: p={entry.probability:g}, {entry.importance} importance\nD = {dims}"
        panels.vectors_in_plane(ax, arrays[f"W_{entry.name}"], title)
        ax.set_xlabel("hidden dim 1")
    title = "Columns of W, 5 features in 2 dims (Elhage et al.: sparse → pentagon, dense → 2 orthogonal)"
    paths = [panels.finish(figure, axes, title, folder / "tms_columns.png", ylabel="hidden dim 2", legend=False)]

    sweep = [row for row in rows if str(row.setting.get("setting", "")).startswith("sweep-")]
    if sweep:
        figure, axes = panels.panels(1, width=6.4, height=4.0)
        panels.scatter_by_setting(axes[0], sweep, "dimensionality", "probability", "", transform=lambda p: 1.0 / p)
        panels.scatter_by_setting(
            axes[0], sweep, "hidden_over_frobenius", "probability", "", transform=lambda p: 1.0 / p, marker="_", colour="k", size=200
        )
        axes[0].set_xscale("log")
        panels.levels(axes[0], TIGHT_FRAME_LEVELS)
        n, m = settings[-1].n_features, settings[-1].n_hidden
        title = f"{n} features in {m} hidden dims: D_i clusters at d/k (black bar: hidden dims / ‖W‖²_F)"
        paths.append(
            panels.finish(
                figure,
                axes,
                title,
                folder / "tms_dimensionality.png",
                "1 / feature probability",
                "feature dimensionality D_i",
                legend=False,
            )
        )
    return paths


def per_feature(rows: list[table.Row], setting: str, metric: str) -> list[float]:
    """A setting's per-feature values of `metric` from the results table, in feature order."""
    mine = table.select(rows, {"setting": setting}, reader="best instance", metric=metric)
    return [row.value for row in sorted(mine, key=lambda row: row.setting["feature"]) if row.value is not None]


def summary(results: dict) -> str:
    """From the results table (each setting as the run declared it from its facts)."""
    rows = table.read(results)
    lines = [f"{'setting':<14}{'features':>9}{'hidden':>7}{'p':>7}  {'importance':<10}{'loss':>10}  D_i (best instance)"]
    lines.append("-" * len(lines[0]) + "-" * 20)
    for s in facts.read(results, Facts).settings:
        dims = " ".join(f"{d:.2f}" for d in per_feature(rows, s.name, "dimensionality")[:10])
        more = " …" if s.n_features > 10 else ""
        loss = table.mean(rows, {"setting": s.name}, reader="best instance", metric="loss") or 0.0
        lines.append(f"{s.name:<14}{s.n_features:>9}{s.n_hidden:>7}{s.probability:>7.3g}  {s.importance:<10}{loss:>10.5f}  {dims}{more}")
        angles = per_feature(rows, s.name, "neighbour_angle")
        if angles:
            norms = " ".join(f"{v:.2f}" for v in per_feature(rows, s.name, "column_norm"))
            lines.append(f"{'':<14}column norms {norms}; neighbour angles (deg) {' '.join(f'{v:.1f}' for v in angles)}")
    return "\n".join(lines)


STUDY = Study(NAME, DESCRIPTION, Config, run, plot, summary, headline=headline, memory_estimate=memory_estimate)
