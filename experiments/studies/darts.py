"""Experiment `darts`: how far are random dictionaries from trained SAEs?

The claim tested ("throwing darts in latent space"): among exponentially many nearly
orthogonal random directions, some are always nearly collinear with any meaningful
direction, so random dictionaries might "interpret" almost as well as trained ones.

Part 1, the numerical facts, for Rademacher rows x_i ∈ {±1/√n}^n, i = 1..m:
- max_{i≠j} |x_iᵀx_j| against the estimate √(4 ln m / n);
- for a Gaussian y, x_iᵀy ≈ N(0, ‖y‖²/n) (histogram with the density overlaid; the
  empirical std against ‖y‖/√n) and max_i x_iᵀy against √(2 ln m / n)·‖y‖.
Part 2, random versus trained on the planted-superposition toy, m/d ∈ {1, …, 32}:
trained TopK, BatchTopK, JumpReLU, Matryoshka, ReLU+L1 against Rademacher, darts
(random atoms + least-squares decoder), an untrained SAE and PCA; and the fraction of
true features whose best random atom has |cos| > τ beside the Gaussian prediction
    P(max_i |c_i| > τ) = 1 − (1 − 2(1 − Φ(τ√d)))^m,   c_i ≈ N(0, 1/d),
and beside the exact single-atom tail for directions uniform on the sphere, where
c² ~ Beta(1/2, (d − 1)/2): q = I_{1−τ²}((d − 1)/2, 1/2), combined the same way. The
Gaussian tail is heavier than the true (bounded) one, so it overestimates at small d.
The formulas live in `theory.random_vectors` (coherence_scale, max_inner_scale,
hit_fraction_gaussian, hit_fraction_sphere, max_coherence).
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import scipy.stats

from experiments.kernel import SparseToyFacts
from experiments.recovery import BASELINE_KINDS, Recovery, eval_key, headline, summary_table
from experiments.runner import facts, memory, panels, seeding, table
from experiments.runner.study import Result, Study
from sae import architectures, metrics
from theory import random_vectors
from toys import superposition
from toys.engine.config import check_fields, setting
from toys.engine.runtime import Runtime

NAME = "darts"
DESCRIPTION = "Random vs trained dictionaries: coherence facts and recovery across m/d (throwing darts)"
DARTS_TRAINED = ("topk", "batchtopk", "jumprelu", "matryoshka", "relu")
DARTS_BASELINES = ("random", "darts", "untrained", "pca")
THRESHOLDS = (0.5, 0.7, 0.9)


@dataclasses.dataclass(frozen=True)
class Config:
    seed: int = setting(0, low=0, high=seeding.SEED_MAX)
    n_seeds: int = setting(2, low=1)
    n: int = setting(1024, "part 1", low=2)
    ratios: tuple[int, ...] = setting((1, 2, 4, 8, 16, 32), "m/n ratios of part 1's Rademacher rows", low=1)
    coherence_max_ratio: int = setting(32, "the pairwise max needs m² n work; cap it", low=1)
    toy: superposition.SuperpositionConfig = setting(superposition.SuperpositionConfig(n_features=256, d=32, mean_l0=4.0), "part 2")
    size_ratios: tuple[int, ...] = setting((1, 2, 4, 8, 16, 32), "dictionary sizes m/d of part 2", low=1)
    kinds: tuple[str, ...] = setting(DARTS_TRAINED, choices=DARTS_TRAINED)
    baselines: tuple[str, ...] = setting(DARTS_BASELINES, "chance and reference dictionaries of part 2", choices=BASELINE_KINDS)
    k: int = setting(6, low=1, high="toy.d * min(size_ratios)")
    learning_rate: float = setting(3e-3, low=0, low_open=True)
    l1_coefficient: float = setting(1.0, "relu", low=0)
    l0_coefficient: float = setting(2.0, "jumprelu (inputs are scaled per sample to ‖x‖² = d)", low=0)
    steps: int = setting(8000, low=1)
    batch_size: int = setting(512, low=1)
    n_eval: int = setting(100_000, low=100000)

    @classmethod
    def quick(cls) -> "Config":
        return cls(n_seeds=1, coherence_max_ratio=8, steps=3000, batch_size=256)

    def validate(self) -> None:
        check_fields(self)
        self.toy.validate(prefix="toy.")


# --- part 1: the numerical facts -----------------------------------------------------


def numerical_facts(config: Config, key: jax.Array) -> tuple[dict, dict]:
    n = config.n
    key_y, key_x = jax.random.split(key)
    y = jax.random.normal(key_y, (n,))
    norm_y = float(jnp.linalg.norm(y))
    rows, arrays = [], {}
    for ratio in config.ratios:
        m = ratio * n
        X = jax.random.rademacher(jax.random.fold_in(key_x, m), (m, n), dtype=jnp.float32) / jnp.sqrt(n)
        inner = X @ y
        row = {
            "m": m,
            "ratio": ratio,
            "inner_std": float(jnp.std(inner)),
            "predicted_std": norm_y / np.sqrt(n),
            "max_inner": float(jnp.max(inner)),
            "predicted_max_inner": float(random_vectors.max_inner_scale(n, m, norm_y)),
            "predicted_coherence": float(random_vectors.coherence_scale(n, m)),
        }
        row["inner_std_relative_error"] = abs(row["inner_std"] / row["predicted_std"] - 1)
        if ratio <= config.coherence_max_ratio:
            row["max_coherence"] = random_vectors.max_coherence(np.asarray(X), block=min(1024, m))
        rows.append(row)
        if ratio == max(config.ratios):
            arrays["inner_products"] = np.asarray(inner, np.float32)
    return {"n": n, "norm_y": norm_y, "by_m": rows}, arrays


# --- part 2: random versus trained ----------------------------------------------------


def _hyperparameters(config: Config, kind: str):
    coefficient = {"l1": config.l1_coefficient, "l0": config.l0_coefficient}.get(architectures.get(kind).penalty, 0.0)
    return architectures.hparams(config.learning_rate, coefficient, config.k)


def memory_estimate(config: Config) -> tuple[int, str]:
    """Peak bytes of part 2 (the largest m/d) or of part 1's m × n Rademacher matrix, and the field behind them."""
    facts = int(memory.SAFETY * memory.FLOAT * 3 * max(config.ratios) * config.n * config.n)
    training = memory.sae_training_bytes(
        runs=config.n_seeds,
        d=config.toy.d,
        m=max(config.size_ratios) * config.toy.d,
        batch=config.batch_size,
        n_features=config.toy.n_features,
        fields={"n_features": "toy.n_features", "d": "toy.d", "m": "size_ratios", "batch": "batch_size", "runs": "n_seeds"},
    )
    return (facts, "n") if facts > training[0] else training


class Keys(NamedTuple):
    facts: jax.Array  # the random-vector facts
    toy: jax.Array
    dictionaries: jax.Array  # training, chance and evaluation (`Recovery`)


def run_keys(config: Config) -> Keys:
    """The run's keys, derived once: `run` and `evaluation_source` both read them here."""
    return Keys(*jax.random.split(seeding.root_key(config.seed), 3))


def evaluation_source(config: Config) -> dict:
    """The run's toy and eval samples, rebuilt from its config (for `toylab evaluate`)."""
    drawn = run_keys(config)
    return {"toy": superposition.build(config.toy, drawn.toy), "key": eval_key(drawn.dictionaries), "n_eval": config.n_eval}


def run(config: Config, runtime: Runtime | None = None) -> Result:
    key_facts, key_toy, key_dictionaries = run_keys(config)
    vector_facts, arrays = numerical_facts(config, key_facts)
    toy = superposition.build(config.toy, key_toy)
    d = config.toy.d
    seeds = seeding.replica_seeds(config.seed, config.n_seeds)
    recovery = Recovery(toy, seeds, key_dictionaries, config.n_eval, config.k, runtime=runtime)
    sizes = [ratio * d for ratio in config.size_ratios]
    for kind in config.kinds:
        for size in sizes:
            recovery.train(kind, size, _hyperparameters(config, kind), config.steps, config.batch_size)
    hits = []
    for kind in config.baselines:
        for size in sizes:
            params = recovery.baseline(kind, size)
            if kind == "random":
                best = np.asarray(jax.vmap(lambda W: metrics.abs_cosine(toy.directions, W).max(axis=1))(params.W_dec))
                for threshold in THRESHOLDS:
                    hits.append(
                        {
                            "size": size,
                            "threshold": threshold,
                            "measured": float((best > threshold).mean()),
                            "predicted": random_vectors.hit_fraction_gaussian(threshold, d, size),
                            "predicted_sphere": random_vectors.hit_fraction_sphere(threshold, d, size),
                        }
                    )
    return Result(
        {
            "dictionaries": recovery.entries,
            "toy": facts.write(SparseToyFacts.of(config.toy)),
            "facts": vector_facts,
            "random_hits": hits,
        },
        arrays=arrays,
        dictionaries=recovery.saved,
        table=[*recovery.rows(), *fact_rows(vector_facts, hits, d, config.seed)],
    )


def fact_rows(vector_facts: dict, hits: list[dict], d: int, seed: int) -> list[table.Row]:
    """The random-vector facts as rows: per m, the measured extreme overlaps beside their √(ln m)
    estimates (arms "measured" and "estimate"); per random dictionary size and |cos| threshold, the
    share of true features some random atom hits, beside the Gaussian and the exact sphere-tail
    predictions (arms "random", "gaussian prediction", "sphere tail"); and per m the spread and the largest
    of the inner products themselves (std, max), beside theirs."""
    rows = []
    for entry in vector_facts["by_m"]:
        where = {"m": entry["m"]}
        norm_y = vector_facts["norm_y"]
        pairs = [
            ("max_inner_over_norm", "measured", entry["max_inner"] / norm_y),
            ("max_inner_over_norm", "estimate", entry["predicted_max_inner"] / norm_y),
            ("max_coherence", "estimate", entry["predicted_coherence"]),
            ("inner_std", "measured", entry["inner_std"]),
            ("inner_std", "estimate", entry["predicted_std"]),
            ("max_inner", "measured", entry["max_inner"]),
            ("max_inner", "estimate", entry["predicted_max_inner"]),
        ]
        if "max_coherence" in entry:
            pairs.append(("max_coherence", "measured", entry["max_coherence"]))
        rows += [
            table.Row(arm, metric, value, None, seed=seed, reader="random-vector facts", setting=where) for metric, arm, value in pairs
        ]
    for hit in hits:
        where = {"threshold": hit["threshold"], "m_over_d": hit["size"] / d}
        for arm, value in (
            ("random", hit["measured"]),
            ("gaussian prediction", hit["predicted"]),
            ("sphere tail", hit["predicted_sphere"]),
        ):
            rows.append(table.Row(arm, "hit_share", value, None, size=hit["size"], seed=seed, reader="random atom hits", setting=where))
    return rows


class VectorFacts(NamedTuple):
    n: int  # the random vectors' dimension
    norm_y: float  # ‖y‖ of the fixed Gaussian vector


@dataclasses.dataclass(frozen=True)
class Facts:
    """What the run's numbers were made under (results.json, beside the table)."""

    toy: SparseToyFacts
    facts: VectorFacts


def plot(results: dict, arrays: dict, folder) -> list:
    """The random-vector facts against their estimates, the inner products' histogram, trained against
    random dictionaries by size, and random atoms' hits on true features (all from the results table
    but the histogram's sample)."""
    rows = table.read(results)
    run = facts.read(results, Facts)
    paths = []
    vector_rows = table.select(rows, reader="random-vector facts")
    estimate = {"estimate": {"fmt": "k--"}}
    figure, axes = panels.panels(2, width=4.5, height=3.6)
    n = run.facts.n
    panels.metric_by_setting(
        axes[0],
        vector_rows,
        "max_coherence",
        "m",
        f"max |x_iᵀx_j| over m Rademacher rows (n = {n})",
        estimate,
        {"estimate": "√(4 ln m / n)"},
    )
    panels.metric_by_setting(
        axes[1], vector_rows, "max_inner_over_norm", "m", "max_i x_iᵀy / ‖y‖ for a Gaussian y", estimate, {"estimate": "√(2 ln m / n)"}
    )
    for ax in axes:
        ax.set_xscale("log", base=2)
        ax.legend()
    title = "Random directions: measured extreme overlaps beside the √(ln m) estimates"
    paths.append(panels.finish(figure, axes, title, folder / "darts_coherence.png", "number of random rows m", legend=False))

    if "inner_products" in arrays:
        inner = np.asarray(arrays["inner_products"], np.float64)
        sigma = run.facts.norm_y / np.sqrt(n)
        grid = np.linspace(inner.min(), inner.max(), 400)
        figure, axes = panels.panels(1, width=5.5, height=3.6)
        title = f"x_iᵀy is Gaussian: std {inner.std():.4f} vs ‖y‖/√n = {sigma:.4f}"
        panels.sample_histogram(
            axes[0], inner, title, f"Xᵀy, m = {len(inner)}", (grid, scipy.stats.norm.pdf(grid, scale=sigma), "N(0, ‖y‖²/n)")
        )
        paths.append(panels.finish(figure, axes, "", folder / "darts_histogram.png"))

    d = run.toy.d
    figure, axes = panels.panels(4, width=3.75, height=3.6)
    for ax, metric, title in zip(axes, ("mmcs", "mcc", "f1", "explained_variance"), ("MMCS", "MCC", "F1", "explained variance")):
        panels.metric_by_size(ax, rows, metric, title, x_scale=d)
    axes[0].legend(fontsize=7)
    title = (
        f"Trained (solid) vs random/baseline (dashed) dictionaries on {run.toy.n_features} "
        f"planted features in {d} dims: how far is chance from trained?"
    )
    paths.append(panels.finish(figure, axes, title, folder / "darts_random_vs_trained.png", "m / d", legend=False))

    hits = table.select(rows, reader="random atom hits")
    if hits:
        figure, axes = panels.panels(1, width=5.5, height=3.6)
        for i, threshold in enumerate(sorted({row.setting["threshold"] for row in hits})):
            colour = f"C{i}"
            styles = {
                "random": {"color": colour},
                "gaussian prediction": {"fmt": "--", "color": colour},
                "sphere tail": {"fmt": ":", "color": colour},
            }
            labels = {"random": f"|cos| > {threshold}", "gaussian prediction": None, "sphere tail": None}
            panels.metric_by_setting(axes[0], table.select(hits, {"threshold": threshold}), "hit_share", "m_over_d", "", styles, labels)
        axes[0].set_xscale("log", base=2)
        title = "Best random atom per true feature\n(dashed: Gaussian prediction; dotted: exact sphere tail)"
        paths.append(panels.finish(figure, axes, title, folder / "darts_hits.png", "m / d", "share of true features"))
    return paths


def summary(results: dict) -> str:
    """From the results table."""
    rows = table.read(results)
    lines = [summary_table(results, ("mmcs", "mcc", "f1", "explained_variance", "l0", "dead_fraction")), ""]
    lines.append(f"{'m':>7}{'std Xᵀy':>10}{'‖y‖/√n':>10}{'rel.err':>9}{'max xᵀy':>10}{'√(2lnm/n)‖y‖':>14}{'max coh.':>10}{'√(4lnm/n)':>11}")
    vector_rows = table.select(rows, reader="random-vector facts")
    for m in sorted({row.setting["m"] for row in vector_rows}):
        value = {(row.arm, row.metric): row.value for row in table.select(vector_rows, {"m": m})}
        measured = value.get(("measured", "max_coherence"))
        coherence = f"{measured:>10.4f}" if measured is not None else f"{'—':>10}"
        std, predicted_std = value[("measured", "inner_std")], value[("estimate", "inner_std")]
        error = f"{abs(std / predicted_std - 1):>9.2%}" if std is not None and predicted_std else f"{'—':>9}"
        lines.append(
            f"{m:>7}{std:>10.4f}{predicted_std:>10.4f}{error}"
            f"{value[('measured', 'max_inner')]:>10.4f}{value[('estimate', 'max_inner')]:>14.4f}{coherence}"
            f"{value[('estimate', 'max_coherence')]:>11.4f}"
        )
    hits = table.select(rows, reader="random atom hits")
    if hits:
        lines.append("")
        lines.append(
            "share of true features whose best random atom exceeds |cos| τ (measured / Gaussian prediction / sphere-tail prediction)"
        )
        d = facts.read(results, Facts).toy.d
        places = dict.fromkeys((row.setting["m_over_d"], row.setting["threshold"]) for row in hits)
        for ratio, threshold in places:
            share = {row.arm: row.value for row in table.select(hits, {"m_over_d": ratio, "threshold": threshold})}
            lines.append(
                f"  m={round(ratio * d):>5}  τ={threshold}: {share['random']:.3f} / {share['gaussian prediction']:.3f} / "
                f"{share['sphere tail']:.3f}"
            )
    return "\n".join(lines)


STUDY = Study(
    NAME, DESCRIPTION, Config, run, plot, summary, headline=headline, memory_estimate=memory_estimate, evaluation_source=evaluation_source
)
